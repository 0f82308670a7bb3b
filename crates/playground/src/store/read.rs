//! Reads: one object, or a list of a resource in a namespace, each as a reader of the requested
//! version sees it.

use std::sync::Arc;

use serde_json::Value;

use super::{lookup, present, ObjectList, Store};
use crate::errors::ApiError;
use crate::resources::ResourceRef;

impl Store {
    /// One object, with `apiVersion` of the requested version.
    ///
    /// # Errors
    /// 404 when the resource or the object does not exist.
    pub fn get(&self, resource: &ResourceRef, namespace: &str, name: &str) -> Result<Value, ApiError> {
        self.get_shared(resource, namespace, name).map(Arc::unwrap_or_clone)
    }

    /// As [`Store::get`], without copying the object when the version matches.
    ///
    /// # Errors
    /// 404 when the resource or the object does not exist.
    pub fn get_shared(
        &self,
        resource: &ResourceRef,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Value>, ApiError> {
        let state = self.lock();
        let ty = lookup(&state, resource)?;
        let namespace = if ty.namespaced { namespace } else { "" };
        state
            .objects
            .get(&(ty.group.clone(), ty.plural.clone()))
            .and_then(|objects| objects.get(&(namespace.to_string(), name.to_string())))
            .map(|obj| present(obj, &ty, &resource.version))
            .ok_or_else(|| ApiError::not_found(&ty.group, &ty.plural, name))
    }

    /// Every object of a resource in a namespace (`""`: all namespaces, or cluster-scoped),
    /// sorted by namespace and name, and the resourceVersion of the list.
    ///
    /// # Errors
    /// 404 when the resource does not exist.
    pub fn list(&self, resource: &ResourceRef, namespace: &str) -> Result<ObjectList, ApiError> {
        self.list_matching(resource, namespace, |_| true)
    }

    /// As [`Store::list`], keeping only objects for which `keep` is true.
    ///
    /// # Errors
    /// 404 when the resource does not exist.
    pub fn list_matching(
        &self,
        resource: &ResourceRef,
        namespace: &str,
        mut keep: impl FnMut(&Value) -> bool,
    ) -> Result<ObjectList, ApiError> {
        let state = self.lock();
        let ty = lookup(&state, resource)?;
        let mut items = Vec::new();
        if let Some(objects) = state.objects.get(&(ty.group.clone(), ty.plural.clone())) {
            let namespaced = ty.namespaced && !namespace.is_empty();
            let iter: Box<dyn Iterator<Item = &Arc<Value>>> = if namespaced {
                let start = (namespace.to_string(), String::new());
                Box::new(objects.range(start..).take_while(|((ns, _), _)| ns == namespace).map(|(_, v)| v))
            } else {
                Box::new(objects.values())
            };
            for obj in iter {
                if keep(obj) {
                    items.push(present(obj, &ty, &resource.version));
                }
            }
        }
        Ok(ObjectList { resource_version: state.resource_version, items })
    }
}
