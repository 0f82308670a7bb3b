//! The garbage collector, as kube-controller-manager's: dependents whose owners are all gone
//! are deleted (background), owners deleted in the foreground wait for their blocking
//! dependents, and owners deleted with `orphan` first release their dependents.

use serde_json::Value;

use super::cache::ObjectInfo;
use super::manager::Manager;
use crate::store::{DeleteOptions, Propagation};

fn remove_finalizer(object: &mut Value, finalizer: &str) {
    if let Some(list) = object["metadata"]["finalizers"].as_array_mut() {
        list.retain(|f| f.as_str() != Some(finalizer));
    }
}

impl Manager {
    pub(super) fn collect_garbage(&mut self, uid: &str) {
        let Some(info) = self.cache.objects.get(uid).cloned() else { return };
        if info.deleting {
            if info.finalizers.iter().any(|f| f == "orphan") {
                self.orphan_dependents(&info);
                return;
            }
            if info.finalizers.iter().any(|f| f == "foregroundDeletion") {
                self.process_deleting_dependents(&info);
            }
            // Being deleted is a one-way trip: its own owners no longer matter.
            return;
        }
        if info.owners.is_empty() {
            return;
        }
        let (mut solid, mut dangling, mut waiting) = (Vec::new(), Vec::new(), Vec::new());
        for (owner, _) in &info.owners {
            match self.cache.objects.get(owner) {
                None => dangling.push(owner.clone()),
                Some(o) if o.deleting && o.finalizers.iter().any(|f| f == "foregroundDeletion") => {
                    waiting.push(owner.clone())
                }
                Some(_) => solid.push(owner.clone()),
            }
        }
        let options = |propagation| DeleteOptions {
            propagation: Some(propagation),
            precondition_uid: Some(info.uid.clone()),
            ..Default::default()
        };
        if !solid.is_empty() {
            if dangling.is_empty() && waiting.is_empty() {
                return;
            }
            let gone: Vec<String> = dangling.into_iter().chain(waiting).collect();
            let _ = self.store.modify(&info.resource, &info.namespace, &info.name, |v| {
                if let Some(refs) = v["metadata"]["ownerReferences"].as_array_mut() {
                    refs.retain(|r| !r["uid"].as_str().is_some_and(|u| gone.iter().any(|g| g == u)));
                }
            });
            return;
        }
        let has_dependents = self
            .cache
            .dependents
            .get(&info.uid)
            .is_some_and(|d| d.iter().any(|d| self.cache.objects.contains_key(d)));
        let policy = if !waiting.is_empty() && has_dependents {
            Propagation::Foreground
        } else if info.finalizers.iter().any(|f| f == "orphan") {
            Propagation::Orphan
        } else if info.finalizers.iter().any(|f| f == "foregroundDeletion") {
            Propagation::Foreground
        } else {
            Propagation::Background
        };
        if let Err(err) = self.store.delete(&info.resource, &info.namespace, &info.name, &options(policy)) {
            tracing::debug!(
                "garbage collector: cannot delete {} {}/{}: {}",
                info.resource,
                info.namespace,
                info.name,
                err.message
            );
        }
    }

    /// An owner deleted in the foreground: delete its dependents; once none that blocks it is
    /// left, remove its `foregroundDeletion` finalizer.
    fn process_deleting_dependents(&mut self, owner: &ObjectInfo) {
        let dependents: Vec<String> =
            self.cache.dependents.get(&owner.uid).map(|d| d.iter().cloned().collect()).unwrap_or_default();
        let mut blocking = 0;
        for dependent in dependents {
            let Some(info) = self.cache.objects.get(&dependent) else { continue };
            if info.owners.iter().any(|(o, block)| o == &owner.uid && *block) {
                blocking += 1;
            }
            if !info.deleting {
                self.enqueue(super::manager::Work::Gc(dependent));
            }
        }
        if blocking == 0 {
            let _ = self.store.modify(&owner.resource, &owner.namespace, &owner.name, |v| {
                remove_finalizer(v, "foregroundDeletion")
            });
        }
    }

    /// An owner deleted with `orphan`: drop the references to it, then its finalizer.
    fn orphan_dependents(&mut self, owner: &ObjectInfo) {
        let dependents: Vec<String> =
            self.cache.dependents.get(&owner.uid).map(|d| d.iter().cloned().collect()).unwrap_or_default();
        for dependent in dependents {
            let Some(info) = self.cache.objects.get(&dependent).cloned() else { continue };
            let result = self.store.modify(&info.resource, &info.namespace, &info.name, |v| {
                if let Some(refs) = v["metadata"]["ownerReferences"].as_array_mut() {
                    refs.retain(|r| r["uid"].as_str() != Some(owner.uid.as_str()));
                    if refs.is_empty() {
                        v["metadata"].as_object_mut().map(|m| m.remove("ownerReferences"));
                    }
                }
            });
            if let Err(err) = result {
                if err.code != 404 {
                    tracing::debug!(
                        "garbage collector: cannot orphan {}/{}: {}",
                        info.namespace,
                        info.name,
                        err.message
                    );
                    self.enqueue_after(
                        super::manager::Work::Gc(owner.uid.clone()),
                        std::time::Duration::from_millis(200),
                    );
                    return;
                }
            }
        }
        let _ = self
            .store
            .modify(&owner.resource, &owner.namespace, &owner.name, |v| remove_finalizer(v, "orphan"));
    }
}
