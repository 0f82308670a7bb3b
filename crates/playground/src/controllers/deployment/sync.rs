//! Finding the new ReplicaSet, revisions, scaling, cleanup and the paused condition (sync.go).

use super::*;

impl Syncer {
    // ---- replica set discovery and revisions (sync.go) ----

    pub(super) fn sorted_by_creation(&self, indices: &mut [usize]) {
        indices.sort_by(|a, b| creation_key(&self.rss[*a]).cmp(&creation_key(&self.rss[*b])));
    }

    pub(super) fn alive(&self) -> Vec<usize> {
        (0..self.rss.len())
            .filter(|i| {
                !self.deleted.iter().any(|d| Some(d.as_str()) == self.rss[*i].metadata.name.as_deref())
            })
            .collect()
    }

    pub(super) fn find_new_replica_set(&self) -> Option<usize> {
        let template = self.d.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
        let mut all = self.alive();
        self.sorted_by_creation(&mut all);
        all.into_iter().find(|i| {
            self.rss[*i]
                .spec
                .as_ref()
                .and_then(|s| s.template.as_ref())
                .is_some_and(|t| equal_ignore_hash(t, &template))
        })
    }

    /// `getAllReplicaSetsAndSyncRevision`: the new ReplicaSet (created when asked) and the old ones.
    pub(super) fn get_all_replica_sets_and_sync_revision(
        &mut self,
        create_if_not_existed: bool,
    ) -> (Option<usize>, Vec<usize>) {
        let existing_new = self.find_new_replica_set();
        let old: Vec<usize> = self.alive().into_iter().filter(|i| Some(*i) != existing_new).collect();
        let max_old_revision = old.iter().map(|i| revision(&self.rss[*i])).max().unwrap_or(0);
        let new_revision = (max_old_revision + 1).to_string();

        if let Some(index) = existing_new {
            let mut rs = self.rss[index].clone();
            let annotations_updated = set_new_replica_set_annotations(&self.d, &mut rs, &new_revision, true);
            let min_ready = self.d.spec.as_ref().and_then(|s| s.min_ready_seconds);
            let min_ready_needs_update = rs.spec.as_ref().and_then(|s| s.min_ready_seconds) != min_ready;
            if annotations_updated || min_ready_needs_update {
                rs.spec.get_or_insert_with(Default::default).min_ready_seconds = min_ready;
                self.rss[index] = rs;
                // The real controller returns here and picks up the revision on the next sync.
                return (Some(index), old);
            }
            let rs_revision = rs
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(REVISION_ANNOTATION))
                .cloned()
                .unwrap_or_default();
            set_deployment_revision(&mut self.d, &rs_revision);
            let has_progressing = get_condition(self.d.status.as_ref(), "Progressing").is_some();
            if progress_deadline_seconds(&self.d).is_some() && !has_progressing {
                let message =
                    format!("Found new replica set {:?}", rs.metadata.name.as_deref().unwrap_or(""));
                let condition =
                    new_condition("Progressing", "True", FOUND_NEW_RS_REASON, message, self.now_time());
                set_condition(self.status(), condition);
            }
            return (Some(index), old);
        }
        if !create_if_not_existed {
            return (None, old);
        }

        let spec = self.d.spec.clone().unwrap_or_default();
        let collision_count = self.d.status.as_ref().and_then(|s| s.collision_count);
        let hash = pod_template_hash(&spec.template, collision_count);
        let mut template = spec.template.clone();
        let template_meta = template.metadata.get_or_insert_with(Default::default);
        template_meta
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_TEMPLATE_HASH_LABEL.to_string(), hash.clone());
        let labels = template_meta.labels.clone();
        let mut selector: LabelSelector = spec.selector.clone();
        selector
            .match_labels
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_TEMPLATE_HASH_LABEL.to_string(), hash.clone());
        let name = format!("{}-{}", self.name(), hash);
        let mut rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: self.d.metadata.namespace.clone(),
                owner_references: Some(vec![controller_ref("apps/v1", "Deployment", &self.d.metadata)]),
                labels,
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: spec.min_ready_seconds,
                selector,
                template: Some(template),
            }),
            status: None,
        };
        let mut all: Vec<&ReplicaSet> = old.iter().map(|i| &self.rss[*i]).collect();
        all.push(&rs);
        let new_replicas = new_rs_new_replicas(&self.d, &all, &rs);
        set_rs_replicas(&mut rs, new_replicas);
        set_new_replica_set_annotations(&self.d, &mut rs, &new_revision, false);
        self.rss.push(rs);
        let index = self.rss.len() - 1;
        self.created = Some(name.clone());
        if new_replicas > 0 {
            self.event(
                EventType::Normal,
                "ScalingReplicaSet",
                format!("Scaled up replica set {name} from 0 to {new_replicas}"),
            );
        }
        set_deployment_revision(&mut self.d, &new_revision);
        if progress_deadline_seconds(&self.d).is_some() {
            let message = format!("Created new replica set {name:?}");
            let condition =
                new_condition("Progressing", "True", NEW_RS_NEW_REPLICAS_REASON, message, self.now_time());
            set_condition(self.status(), condition);
        }
        (Some(index), old)
    }

    // ---- scaling (sync.go) ----

    pub(super) fn scale_replica_set(&mut self, index: usize, new_scale: i32, operation: &str) -> bool {
        let replicas = self.replicas();
        let max_replicas = replicas + max_surge(&self.d);
        let rs = &mut self.rss[index];
        let old_scale = rs_replicas(rs);
        let size_needs_update = old_scale != new_scale;
        let annotations_need_update = replicas_annotations_need_update(rs, replicas, max_replicas);
        if !(size_needs_update || annotations_need_update) {
            return false;
        }
        set_rs_replicas(rs, new_scale);
        set_replicas_annotations(rs, replicas, max_replicas);
        if size_needs_update {
            let name = rs.metadata.name.clone().unwrap_or_default();
            self.event(
                EventType::Normal,
                "ScalingReplicaSet",
                format!("Scaled {operation} replica set {name} from {old_scale} to {new_scale}"),
            );
        }
        size_needs_update
    }

    pub(super) fn scale_replica_set_and_record_event(&mut self, index: usize, new_scale: i32) -> bool {
        let current = rs_replicas(&self.rss[index]);
        if current == new_scale {
            return false;
        }
        let operation = if current < new_scale { "up" } else { "down" };
        self.scale_replica_set(index, new_scale, operation)
    }

    pub(super) fn is_scaling_event(&mut self) -> bool {
        let (new_rs, old) = self.get_all_replica_sets_and_sync_revision(false);
        let replicas = self.replicas();
        new_rs
            .into_iter()
            .chain(old)
            .filter(|i| rs_replicas(&self.rss[*i]) > 0)
            .any(|i| desired_replicas_annotation(&self.rss[i]).is_some_and(|desired| desired != replicas))
    }

    /// `sync`: scale (proportionally when mid-rollout), clean up when paused, update the status.
    pub(super) fn sync_scale(&mut self) {
        let (new_rs, old) = self.get_all_replica_sets_and_sync_revision(false);
        self.scale(new_rs, &old);
        if paused(&self.d) {
            self.cleanup_deployment(&old);
        }
        self.sync_deployment_status(new_rs, &old);
    }

    pub(super) fn scale(&mut self, new_rs: Option<usize>, old: &[usize]) {
        let replicas = self.replicas();
        if let Some(index) = self.find_active_or_latest(new_rs, old) {
            if rs_replicas(&self.rss[index]) != replicas {
                self.scale_replica_set_and_record_event(index, replicas);
            }
            return;
        }
        if new_rs.is_some_and(|i| is_saturated(&self.d, &self.rss[i])) {
            for i in old.iter().copied().filter(|i| rs_replicas(&self.rss[*i]) > 0).collect::<Vec<_>>() {
                self.scale_replica_set_and_record_event(i, 0);
            }
            return;
        }
        if !is_rolling_update(&self.d) {
            return;
        }
        let mut active: Vec<usize> =
            old.iter().copied().chain(new_rs).filter(|i| rs_replicas(&self.rss[*i]) > 0).collect();
        let all_replicas: i32 = active.iter().map(|i| rs_replicas(&self.rss[*i])).sum();
        let allowed_size = if replicas > 0 { replicas + max_surge(&self.d) } else { 0 };
        let to_add = allowed_size - all_replicas;
        let operation = match to_add.cmp(&0) {
            std::cmp::Ordering::Greater => {
                // Larger first; among equals, newer first.
                active.sort_by(|a, b| {
                    let (ra, rb) = (&self.rss[*a], &self.rss[*b]);
                    rs_replicas(rb)
                        .cmp(&rs_replicas(ra))
                        .then_with(|| creation_key(rb).cmp(&creation_key(ra)))
                });
                "up"
            }
            std::cmp::Ordering::Less => {
                // Larger first; among equals, older first.
                active.sort_by(|a, b| {
                    let (ra, rb) = (&self.rss[*a], &self.rss[*b]);
                    rs_replicas(rb)
                        .cmp(&rs_replicas(ra))
                        .then_with(|| creation_key(ra).cmp(&creation_key(rb)))
                });
                "down"
            }
            std::cmp::Ordering::Equal => "",
        };
        let mut added = 0;
        let mut sizes: Vec<i32> = Vec::with_capacity(active.len());
        for i in &active {
            let rs = &self.rss[*i];
            if to_add != 0 {
                let proportion = get_proportion(rs, &self.d, to_add, added);
                sizes.push(rs_replicas(rs) + proportion);
                added += proportion;
            } else {
                sizes.push(rs_replicas(rs));
            }
        }
        for (position, i) in active.iter().enumerate() {
            if position == 0 && to_add != 0 {
                sizes[0] = (sizes[0] + to_add - added).max(0);
            }
            self.scale_replica_set(*i, sizes[position], operation);
        }
    }

    pub(super) fn find_active_or_latest(&self, new_rs: Option<usize>, old: &[usize]) -> Option<usize> {
        if new_rs.is_none() && old.is_empty() {
            return None;
        }
        let mut newest_first: Vec<usize> = old.to_vec();
        self.sorted_by_creation(&mut newest_first);
        newest_first.reverse();
        let active: Vec<usize> =
            newest_first.iter().copied().chain(new_rs).filter(|i| rs_replicas(&self.rss[*i]) > 0).collect();
        match active.len() {
            0 => new_rs.or_else(|| newest_first.first().copied()),
            1 => Some(active[0]),
            _ => None,
        }
    }

    // ---- cleanup (sync.go) ----

    pub(super) fn cleanup_deployment(&mut self, old: &[usize]) {
        let Some(limit) = revision_history_limit(&self.d) else { return };
        let mut cleanable: Vec<usize> =
            old.iter().copied().filter(|i| self.rss[*i].metadata.deletion_timestamp.is_none()).collect();
        let diff = cleanable.len() as i32 - limit;
        if diff <= 0 {
            return;
        }
        cleanable.sort_by(|a, b| {
            let (ra, rb) = (&self.rss[*a], &self.rss[*b]);
            match (revision(ra), revision(rb)) {
                (x, y) if x == y => creation_key(ra).cmp(&creation_key(rb)),
                (x, y) => x.cmp(&y),
            }
        });
        for i in cleanable.into_iter().take(diff as usize) {
            let rs = &self.rss[i];
            let generation = rs.metadata.generation.unwrap_or(0);
            let observed = rs.status.as_ref().and_then(|s| s.observed_generation).unwrap_or(0);
            if rs_status_replicas(rs) != 0
                || rs_replicas(rs) != 0
                || generation > observed
                || rs.metadata.deletion_timestamp.is_some()
            {
                continue;
            }
            if let Some(name) = rs.metadata.name.clone() {
                self.deleted.push(name);
            }
        }
    }

    // ---- paused (sync.go) ----

    pub(super) fn check_paused_conditions(&mut self) {
        if progress_deadline_seconds(&self.d).is_none() {
            return;
        }
        let current = get_condition(self.d.status.as_ref(), "Progressing");
        if current.is_some_and(|c| c.reason.as_deref() == Some(TIMED_OUT_REASON)) {
            return;
        }
        let paused_condition_exists =
            current.is_some_and(|c| c.reason.as_deref() == Some(PAUSED_DEPLOY_REASON));
        let now = self.now_time();
        if paused(&self.d) && !paused_condition_exists {
            set_condition(
                self.status(),
                new_condition(
                    "Progressing",
                    "Unknown",
                    PAUSED_DEPLOY_REASON,
                    "Deployment is paused".into(),
                    now,
                ),
            );
        } else if !paused(&self.d) && paused_condition_exists {
            set_condition(
                self.status(),
                new_condition(
                    "Progressing",
                    "Unknown",
                    RESUMED_DEPLOY_REASON,
                    "Deployment is resumed".into(),
                    now,
                ),
            );
        }
    }
}
