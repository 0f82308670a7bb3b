//! The RollingUpdate strategy (rolling.go).

use super::*;

impl Syncer {
    // ---- rolling (rolling.go) ----

    pub(super) fn rollout_rolling(&mut self) {
        let (new_rs, old) = self.get_all_replica_sets_and_sync_revision(true);
        let Some(new_index) = new_rs else { return };
        if self.reconcile_new_replica_set(new_index, &old) {
            self.sync_rollout_status(new_rs, &old);
            return;
        }
        let active_old: Vec<usize> = old.iter().copied().filter(|i| rs_replicas(&self.rss[*i]) > 0).collect();
        if self.reconcile_old_replica_sets(new_index, &old, active_old) {
            self.sync_rollout_status(new_rs, &old);
            return;
        }
        if self.complete_with_current_status(new_rs, &old) {
            self.cleanup_deployment(&old);
        }
        self.sync_rollout_status(new_rs, &old);
    }

    /// `DeploymentComplete(d, &d.Status)` as the real controller evaluates it here: against the
    /// status it last wrote.
    pub(super) fn complete_with_current_status(&self, _new_rs: Option<usize>, _old: &[usize]) -> bool {
        deployment_complete(&self.d, self.d.status.as_ref().unwrap_or(&DeploymentStatus::default()))
    }

    pub(super) fn reconcile_new_replica_set(&mut self, new_index: usize, old: &[usize]) -> bool {
        let replicas = self.replicas();
        let current = rs_replicas(&self.rss[new_index]);
        if current == replicas {
            return false;
        }
        if current > replicas {
            return self.scale_replica_set_and_record_event(new_index, replicas);
        }
        let all: Vec<&ReplicaSet> =
            old.iter().chain(std::iter::once(&new_index)).map(|i| &self.rss[*i]).collect();
        let new_count = new_rs_new_replicas(&self.d, &all, &self.rss[new_index]);
        self.scale_replica_set_and_record_event(new_index, new_count)
    }

    pub(super) fn reconcile_old_replica_sets(
        &mut self,
        new_index: usize,
        all_old: &[usize],
        mut old: Vec<usize>,
    ) -> bool {
        let old_pods: i32 = old.iter().map(|i| rs_replicas(&self.rss[*i])).sum();
        if old_pods == 0 {
            return false;
        }
        let all_pods: i32 =
            all_old.iter().chain(std::iter::once(&new_index)).map(|i| rs_replicas(&self.rss[*i])).sum();
        let min_available = self.replicas() - max_unavailable(&self.d);
        let new_rs = &self.rss[new_index];
        let new_unavailable = rs_replicas(new_rs) - rs_available(new_rs);
        let max_scaled_down = all_pods - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return false;
        }
        let cleaned = self.cleanup_unhealthy_replicas(&mut old, max_scaled_down);
        let scaled_down = self.scale_down_old_replica_sets_for_rolling_update(new_index, all_old, &old);
        cleaned + scaled_down > 0
    }

    pub(super) fn cleanup_unhealthy_replicas(&mut self, old: &mut [usize], max_cleanup: i32) -> i32 {
        self.sorted_by_creation(old);
        let mut total = 0;
        for i in old.iter().copied() {
            if total >= max_cleanup {
                break;
            }
            let replicas = rs_replicas(&self.rss[i]);
            let available = rs_available(&self.rss[i]);
            if replicas == 0 || replicas == available {
                continue;
            }
            let count = (max_cleanup - total).min(replicas - available);
            self.scale_replica_set_and_record_event(i, replicas - count);
            total += count;
        }
        total
    }

    pub(super) fn scale_down_old_replica_sets_for_rolling_update(
        &mut self,
        new_index: usize,
        all_old: &[usize],
        old: &[usize],
    ) -> i32 {
        let min_available = self.replicas() - max_unavailable(&self.d);
        let available: i32 =
            all_old.iter().chain(std::iter::once(&new_index)).map(|i| rs_available(&self.rss[*i])).sum();
        if available <= min_available {
            return 0;
        }
        let mut old = old.to_vec();
        self.sorted_by_creation(&mut old);
        let total_to_scale_down = available - min_available;
        let mut total = 0;
        for i in old {
            if total >= total_to_scale_down {
                break;
            }
            let replicas = rs_replicas(&self.rss[i]);
            if replicas == 0 {
                continue;
            }
            let count = replicas.min(total_to_scale_down - total);
            self.scale_replica_set_and_record_event(i, replicas - count);
            total += count;
        }
        total
    }
}
