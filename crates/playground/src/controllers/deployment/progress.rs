//! Status and the Progressing condition (sync.go, progress.go).

use super::*;

impl Syncer {
    // ---- status and progress (sync.go, progress.go) ----

    pub(super) fn calculate_status(&self, new_rs: Option<usize>, old: &[usize]) -> DeploymentStatus {
        let all: Vec<&ReplicaSet> = old.iter().chain(new_rs.iter()).map(|i| &self.rss[*i]).collect();
        let available: i32 = all.iter().map(|rs| rs_available(rs)).sum();
        let total: i32 = all.iter().map(|rs| rs_replicas(rs)).sum();
        let unavailable = (total - available).max(0);
        let current = self.d.status.clone().unwrap_or_default();
        let mut status = DeploymentStatus {
            observed_generation: non_zero_i64(self.d.metadata.generation.unwrap_or(0)),
            replicas: non_zero(all.iter().map(|rs| rs_status_replicas(rs)).sum()),
            updated_replicas: non_zero(new_rs.map_or(0, |i| rs_status_replicas(&self.rss[i]))),
            ready_replicas: non_zero(all.iter().map(|rs| rs_ready(rs)).sum()),
            available_replicas: non_zero(available),
            unavailable_replicas: non_zero(unavailable),
            collision_count: current.collision_count,
            conditions: current.conditions.clone(),
            terminating_replicas: None,
        };
        let condition = if available >= self.replicas() - max_unavailable(&self.d) {
            new_condition(
                "Available",
                "True",
                MINIMUM_REPLICAS_AVAILABLE,
                "Deployment has minimum availability.".into(),
                self.now_time(),
            )
        } else {
            new_condition(
                "Available",
                "False",
                MINIMUM_REPLICAS_UNAVAILABLE,
                "Deployment does not have minimum availability.".into(),
                self.now_time(),
            )
        };
        set_condition(&mut status, condition);
        status
    }

    pub(super) fn sync_deployment_status(&mut self, new_rs: Option<usize>, old: &[usize]) {
        let status = self.calculate_status(new_rs, old);
        self.d.status = Some(status);
    }

    pub(super) fn sync_rollout_status(&mut self, new_rs: Option<usize>, old: &[usize]) {
        let mut new_status = self.calculate_status(new_rs, old);
        let deadline = progress_deadline_seconds(&self.d);
        if deadline.is_none() {
            remove_condition(&mut new_status, "Progressing");
        }
        let current = get_condition(self.d.status.as_ref(), "Progressing").cloned();
        let is_complete_deployment = new_status.replicas == new_status.updated_replicas
            && current.as_ref().is_some_and(|c| c.reason.as_deref() == Some(NEW_RS_AVAILABLE_REASON));
        let rs_name = new_rs.map(|i| self.rss[i].metadata.name.clone().unwrap_or_default());
        let subject = match &rs_name {
            Some(name) => format!("ReplicaSet {name:?}"),
            None => format!("Deployment {:?}", self.name()),
        };
        if deadline.is_some() && !is_complete_deployment {
            if deployment_complete(&self.d, &new_status) {
                let message = format!("{subject} has successfully progressed.");
                set_condition(
                    &mut new_status,
                    new_condition("Progressing", "True", NEW_RS_AVAILABLE_REASON, message, self.now_time()),
                );
            } else if deployment_progressing(&self.d, &new_status) {
                let message = format!("{subject} is progressing.");
                let mut condition = new_condition(
                    "Progressing",
                    "True",
                    REPLICA_SET_UPDATED_REASON,
                    message,
                    self.now_time(),
                );
                if let Some(current) = &current {
                    if current.status == "True" {
                        condition.last_transition_time = current.last_transition_time.clone();
                    }
                    remove_condition(&mut new_status, "Progressing");
                }
                set_condition(&mut new_status, condition);
            } else if self.deployment_timed_out(&new_status) {
                let message = format!("{subject} has timed out progressing.");
                set_condition(
                    &mut new_status,
                    new_condition("Progressing", "False", TIMED_OUT_REASON, message, self.now_time()),
                );
            }
        }
        // ReplicaFailure conditions of ReplicaSets move to the Deployment.
        let failure = new_rs
            .iter()
            .chain(old.iter())
            .filter_map(|i| self.rss[*i].status.as_ref().and_then(|s| s.conditions.as_ref()))
            .flatten()
            .find(|c| c.type_ == "ReplicaFailure")
            .cloned();
        match failure {
            Some(c) => set_condition(
                &mut new_status,
                DeploymentCondition {
                    type_: c.type_,
                    status: c.status,
                    reason: c.reason,
                    message: c.message,
                    last_transition_time: c.last_transition_time.clone(),
                    last_update_time: c.last_transition_time,
                },
            ),
            None => remove_condition(&mut new_status, "ReplicaFailure"),
        }
        if self.d.status.as_ref() == Some(&new_status) {
            self.requeue_after = self.requeue_stuck_deployment(&new_status);
            return;
        }
        self.d.status = Some(new_status);
    }

    pub(super) fn deployment_timed_out(&self, new_status: &DeploymentStatus) -> bool {
        let Some(deadline) = progress_deadline_seconds(&self.d) else { return false };
        let Some(condition) = get_condition(Some(new_status), "Progressing") else { return false };
        match condition.reason.as_deref() {
            Some(NEW_RS_AVAILABLE_REASON) => false,
            Some(TIMED_OUT_REASON) => true,
            _ => condition
                .last_update_time
                .as_ref()
                .is_some_and(|from| from.0 + jiff::SignedDuration::from_secs(i64::from(deadline)) < self.now),
        }
    }

    pub(super) fn requeue_stuck_deployment(&self, new_status: &DeploymentStatus) -> Option<Duration> {
        let deadline = progress_deadline_seconds(&self.d)?;
        let current = get_condition(self.d.status.as_ref(), "Progressing")?;
        if deployment_complete(&self.d, new_status) || current.reason.as_deref() == Some(TIMED_OUT_REASON) {
            return None;
        }
        let from = current.last_update_time.as_ref()?.0;
        let due = from + jiff::SignedDuration::from_secs(i64::from(deadline));
        let after = self.now.duration_until(due);
        if after < jiff::SignedDuration::from_secs(1) {
            // The real controller requeues rate-limited; the deadline is only crossed strictly after.
            return Some(Duration::from_millis(250));
        }
        Some(Duration::try_from(after).unwrap_or_default() + Duration::from_secs(1))
    }
}
