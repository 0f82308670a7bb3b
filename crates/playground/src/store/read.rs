//! Reads: one object, or a list of a resource in a namespace, each as a reader of the requested
//! version sees it.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use super::{lookup, present, ObjectList, Store, Stored};
use crate::errors::ApiError;
use crate::resources::{ResourceRef, ResourceType};

/// A page of a list (see [`Store::list_page`]): its objects are parsed only when asked, and
/// those the store keeps as JSON are served as that JSON.
#[derive(Debug)]
pub struct Page {
    /// The resourceVersion the list was taken at.
    pub resource_version: u64,
    /// How many objects (passing the filter) come after this page.
    pub remaining: usize,
    items: Vec<Stored>,
    /// `namespace/name` of the last item (the items themselves carry no key: a watch of every
    /// pod holds its page while it sends it).
    last_key: Option<String>,
    ty: Arc<ResourceType>,
    version: String,
}

impl Page {
    /// How many objects the page holds.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the page holds no object.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The `namespace/name` of the page's last object (what a continue token starts after).
    pub fn last_key(&self) -> Option<String> {
        self.last_key.clone()
    }

    /// Object `i`, as a reader of the requested version sees it.
    pub fn object(&self, i: usize) -> Arc<Value> {
        present(&self.items[i].object(), &self.ty, &self.version)
    }

    /// Every object, as [`Page::object`] gives them.
    pub fn objects(&self) -> Vec<Arc<Value>> {
        (0..self.len()).map(|i| self.object(i)).collect()
    }

    /// Object `i` as the JSON the store keeps, when it has it and the reader's version needs no
    /// change (a kind served in one version): the bytes serde_json would write for
    /// [`Page::object`].
    pub fn kept_json(&self, i: usize) -> Option<Bytes> {
        match &self.items[i] {
            Stored::Serialized(json) if self.ty.versions.len() == 1 => Some(json.clone()),
            _ => None,
        }
    }
}

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
            .map(|obj| present(&obj.object(), &ty, &resource.version))
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

    /// The objects of a resource in a namespace (as [`Store::list`]) whose `namespace/name`
    /// comes after `after` and that pass `filter`, at most `limit` of them (0: all), and how
    /// many more there are. Without a filter only the page's own objects are ever parsed.
    ///
    /// # Errors
    /// 404 when the resource does not exist.
    pub fn list_page(
        &self,
        resource: &ResourceRef,
        namespace: &str,
        mut filter: Option<&mut dyn FnMut(&Value) -> bool>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, ApiError> {
        let limit = if limit == 0 { usize::MAX } else { limit };
        // Compared as the store orders keys, (namespace, name): compared as text, `a-b/x` would
        // come before `a/y` (`-` sorts before `/`), and a page across namespaces would skip them.
        let after = after.and_then(|after| after.split_once('/'));
        let comes_after =
            |(ns, name): &(String, String)| after.is_none_or(|after| (ns.as_str(), name.as_str()) > after);
        let key_text = |(ns, name): &(String, String)| format!("{ns}/{name}");
        let (ty, mut candidates, mut remaining, mut last_key, resource_version) = {
            let state = self.lock();
            let ty = lookup(&state, resource)?;
            let mut candidates = Vec::new();
            let mut remaining = 0;
            let mut last = None;
            if let Some(objects) = state.objects.get(&(ty.group.clone(), ty.plural.clone())) {
                let iter: Box<dyn Iterator<Item = (&(String, String), &Stored)>> =
                    if ty.namespaced && !namespace.is_empty() {
                        let start = (namespace.to_string(), String::new());
                        Box::new(objects.range(start..).take_while(|((ns, _), _)| ns == namespace))
                    } else {
                        Box::new(objects.iter())
                    };
                for (key, stored) in iter.filter(|(key, _)| comes_after(key)) {
                    // Without a filter, what follows the page is only counted.
                    if filter.is_none() && candidates.len() >= limit {
                        remaining += 1;
                    } else {
                        candidates.push(stored.clone());
                        last = Some(key);
                    }
                }
            }
            (ty, candidates, remaining, last.map(key_text), state.resource_version)
        };
        if let Some(filter) = filter.as_mut() {
            let mut kept = Vec::new();
            for stored in candidates {
                let object = stored.object();
                if filter(&object) {
                    if kept.len() < limit {
                        let meta = &object["metadata"];
                        let key = (
                            meta["namespace"].as_str().unwrap_or("").to_string(),
                            meta["name"].as_str().unwrap_or("").to_string(),
                        );
                        last_key = Some(key_text(&key));
                        kept.push(stored);
                    } else {
                        remaining += 1;
                    }
                }
            }
            if kept.is_empty() {
                last_key = None;
            }
            candidates = kept;
        }
        Ok(Page {
            resource_version,
            remaining,
            items: candidates,
            last_key,
            ty,
            version: resource.version.to_string(),
        })
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
        // The objects are taken under the lock (cheap: shared pointers), read after it, so
        // parsing the serialized ones holds up no write.
        let (ty, stored, resource_version) = {
            let state = self.lock();
            let ty = lookup(&state, resource)?;
            let mut stored: Vec<Stored> = Vec::new();
            if let Some(objects) = state.objects.get(&(ty.group.clone(), ty.plural.clone())) {
                if ty.namespaced && !namespace.is_empty() {
                    let start = (namespace.to_string(), String::new());
                    stored.extend(
                        objects
                            .range(start..)
                            .take_while(|((ns, _), _)| ns == namespace)
                            .map(|(_, v)| v.clone()),
                    );
                } else {
                    stored.extend(objects.values().cloned());
                }
            }
            (ty, stored, state.resource_version)
        };
        let mut items = Vec::new();
        for obj in stored {
            let obj = obj.object();
            if keep(&obj) {
                items.push(present(&obj, &ty, &resource.version));
            }
        }
        Ok(ObjectList { resource_version, items })
    }
}
