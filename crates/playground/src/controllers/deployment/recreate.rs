//! The Recreate strategy (recreate.go).

use super::*;

impl Syncer {
    // ---- recreate (recreate.go) ----

    pub(super) fn rollout_recreate(&mut self, pods: &PodCounts) {
        let (mut new_rs, mut old) = self.get_all_replica_sets_and_sync_revision(false);
        let active_old: Vec<usize> = old.iter().copied().filter(|i| rs_replicas(&self.rss[*i]) > 0).collect();
        let mut scaled_down = false;
        for i in active_old {
            scaled_down |= self.scale_replica_set_and_record_event(i, 0);
        }
        if scaled_down {
            self.sync_rollout_status(new_rs, &old);
            return;
        }
        if self.old_pods_running(new_rs, &old, pods) {
            self.sync_rollout_status(new_rs, &old);
            return;
        }
        if new_rs.is_none() {
            (new_rs, old) = self.get_all_replica_sets_and_sync_revision(true);
        }
        if let Some(index) = new_rs {
            let replicas = self.replicas();
            self.scale_replica_set_and_record_event(index, replicas);
        }
        if self.complete_with_current_status(new_rs, &old) {
            self.cleanup_deployment(&old);
        }
        self.sync_rollout_status(new_rs, &old);
    }

    pub(super) fn old_pods_running(&self, new_rs: Option<usize>, old: &[usize], pods: &PodCounts) -> bool {
        if old.iter().map(|i| rs_status_replicas(&self.rss[*i])).sum::<i32>() > 0 {
            return true;
        }
        let new_uid = new_rs.and_then(|i| self.rss[i].metadata.uid.clone());
        pods.non_terminal_by_replica_set
            .iter()
            .any(|(uid, count)| Some(uid) != new_uid.as_ref() && *count > 0)
    }
}
