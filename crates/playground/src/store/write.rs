//! Writes: create, update (main and status), and the read-modify-write that update, patch and
//! apply share, each through defaulting, validation, admission and one commit under the lock.

use std::sync::Arc;

use serde_json::{json, Value};

use super::commit::{commit, register_crd, remove};
use super::prepare::{check_identity, prepare_new, prepare_update, strip_meta, strip_meta_status};
use super::{lookup, present, EventType, Operation, Store, Subresource, WriteOptions};
use crate::clock::now_rfc3339;
use crate::errors::ApiError;
use crate::resources::ResourceRef;

impl Store {
    /// Create an object. `metadata.namespace` names the namespace of a namespaced resource;
    /// `metadata.generateName` is honoured. Sets uid, creationTimestamp, resourceVersion and
    /// (for types that keep it) generation 1.
    ///
    /// # Errors
    /// 409 AlreadyExists, 404 when the namespace does not exist, 422 Invalid, 400 for an object
    /// of the wrong kind, or whatever an admission hook answers.
    pub fn create(&self, resource: &ResourceRef, object: Value) -> Result<Value, ApiError> {
        self.create_with(resource, object, &WriteOptions::default())
    }

    /// [`Store::create`] with options (dry run).
    ///
    /// # Errors
    /// As [`Store::create`].
    pub fn create_with(
        &self,
        resource: &ResourceRef,
        mut object: Value,
        options: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let ty = self.resource_type(resource)?;
        let namespace = object["metadata"]["namespace"].as_str().unwrap_or("").to_string();
        prepare_new(&ty, resource, &namespace, &mut object)?;
        // Types with a status subresource start without status (the registry's PrepareForCreate);
        // nodes report theirs at registration.
        let keeps_status = ty.group.is_empty() && matches!(ty.plural.as_str(), "nodes" | "namespaces");
        if ty.status && !keeps_status {
            if let Some(map) = object.as_object_mut() {
                map.remove("status");
            }
        }
        crate::defaults::apply(&ty, &mut object);
        self.mutate(resource, Operation::Create, &mut object);
        crate::validation::validate(&ty, &resource.version, &mut object, None)?;
        self.admit(resource, Operation::Create, &object, None, options.dry_run)?;
        let mut state = self.lock();
        let ty = lookup(&state, resource)?;
        let namespace = object["metadata"]["namespace"].as_str().unwrap_or("").to_string();
        if ty.namespaced {
            let ns_key = (String::new(), "namespaces".to_string());
            let ns = state.objects.get(&ns_key).and_then(|o| o.get(&(String::new(), namespace.clone())));
            match ns {
                None => return Err(ApiError::not_found("", "namespaces", &namespace)),
                Some(ns) if !ns.object()["metadata"]["deletionTimestamp"].is_null() => {
                    let name = object["metadata"]["name"].as_str().unwrap_or("");
                    return Err(ApiError::forbidden(
                        &ty.group,
                        &ty.plural,
                        name,
                        &format!("unable to create new content in namespace {namespace} because it is being terminated"),
                    ));
                }
                Some(_) => {}
            }
        }
        let name = object["metadata"]["name"].as_str().unwrap_or("").to_string();
        let key = (namespace.clone(), name.clone());
        let exists =
            state.objects.get(&(ty.group.clone(), ty.plural.clone())).is_some_and(|o| o.contains_key(&key));
        if exists {
            return Err(ApiError::already_exists(&ty.group, &ty.plural, &name));
        }
        let meta = object["metadata"].as_object_mut().expect("prepare_new made metadata an object");
        meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
        if ty.generation {
            meta.insert("generation".into(), json!(1));
        }
        if ty.group == "apiextensions.k8s.io" {
            crate::crds::set_accepted_status(&mut object);
        }
        if options.dry_run {
            return Ok(Arc::unwrap_or_clone(present(&Arc::new(object), &ty, &resource.version)));
        }
        if ty.group == "apiextensions.k8s.io" && ty.plural == "customresourcedefinitions" {
            register_crd(&mut state, &object)?;
        }
        let stored = commit(&self.shared, &mut state, &ty, key, Some(object), EventType::Added);
        Ok(Arc::unwrap_or_clone(present(&stored, &ty, &resource.version)))
    }

    /// Replace an object (PUT). When the object carries `metadata.resourceVersion` it must be
    /// the stored one. On types with a status subresource, status changes are ignored here.
    ///
    /// # Errors
    /// 404, 409 Conflict on a stale resourceVersion, 422 Invalid, 400 for a name mismatch.
    pub fn update(&self, resource: &ResourceRef, object: Value) -> Result<Value, ApiError> {
        self.update_with(resource, object, &WriteOptions::default())
    }

    /// [`Store::update`] with options (dry run).
    ///
    /// # Errors
    /// As [`Store::update`].
    pub fn update_with(
        &self,
        resource: &ResourceRef,
        object: Value,
        options: &WriteOptions,
    ) -> Result<Value, ApiError> {
        self.put(resource, object, Subresource::Main, options)
    }

    /// Replace only `status` (PUT on `/status`); everything else is kept as stored.
    ///
    /// # Errors
    /// As [`Store::update`]; 404 when the type has no status subresource.
    pub fn update_status(&self, resource: &ResourceRef, object: Value) -> Result<Value, ApiError> {
        self.update_status_with(resource, object, &WriteOptions::default())
    }

    /// [`Store::update_status`] with options (dry run).
    ///
    /// # Errors
    /// As [`Store::update_status`].
    pub fn update_status_with(
        &self,
        resource: &ResourceRef,
        object: Value,
        options: &WriteOptions,
    ) -> Result<Value, ApiError> {
        self.put(resource, object, Subresource::Status, options)
    }

    fn put(
        &self,
        resource: &ResourceRef,
        object: Value,
        subresource: Subresource,
        options: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let namespace = object["metadata"]["namespace"].as_str().unwrap_or("").to_string();
        let name = object["metadata"]["name"].as_str().unwrap_or("").to_string();
        if name.is_empty() {
            let ty = self.resource_type(resource)?;
            return Err(ApiError::invalid(
                &ty.group,
                &ty.kind,
                "",
                &[crate::errors::InvalidField::required("metadata.name", "name or generateName is required")],
            ));
        }
        let precondition = match object["metadata"]["resourceVersion"].as_str() {
            Some(rv) if !rv.is_empty() => Some(rv.to_string()),
            _ => None,
        };
        // Custom resources allow no unconditional update.
        let ty = self.resource_type(resource)?;
        if ty.is_custom() && precondition.is_none() {
            return Err(ApiError::invalid(
                &ty.group,
                &ty.kind,
                &name,
                &[crate::errors::InvalidField::invalid(
                    "metadata.resourceVersion",
                    "0x0",
                    "must be specified for an update",
                )],
            ));
        }
        let mut object = Some(object);
        self.guaranteed_update(
            resource,
            &namespace,
            &name,
            subresource,
            options,
            precondition.as_deref(),
            false,
            &mut |_| object.take().ok_or_else(|| ApiError::internal("update retried without an object")),
        )
    }

    /// Read-modify-write with retries: `change` edits the current object; the result is
    /// written as an update (status changes ignored on types with a status subresource). When
    /// nothing changed, nothing is written and the stored object is returned.
    ///
    /// # Errors
    /// 404, 422 Invalid, or an admission refusal.
    pub fn modify(
        &self,
        resource: &ResourceRef,
        namespace: &str,
        name: &str,
        mut change: impl FnMut(&mut Value),
    ) -> Result<Value, ApiError> {
        self.guaranteed_update(
            resource,
            namespace,
            name,
            Subresource::Main,
            &WriteOptions::default(),
            None,
            false,
            &mut |current| {
                let mut object = current.cloned().unwrap_or(Value::Null);
                change(&mut object);
                Ok(object)
            },
        )
    }

    /// As [`Store::modify`] for the status subresource: only `status` changes are kept.
    ///
    /// # Errors
    /// 404, 422 Invalid.
    pub fn modify_status(
        &self,
        resource: &ResourceRef,
        namespace: &str,
        name: &str,
        mut change: impl FnMut(&mut Value),
    ) -> Result<Value, ApiError> {
        self.guaranteed_update(
            resource,
            namespace,
            name,
            Subresource::Status,
            &WriteOptions::default(),
            None,
            false,
            &mut |current| {
                let mut object = current.cloned().unwrap_or(Value::Null);
                change(&mut object);
                Ok(object)
            },
        )
    }

    /// The general write behind update, patch and apply: read the current object, let
    /// `compute` produce the new one (from `None` when absent and `create_if_missing`), run
    /// defaulting, validation and admission, and commit if nothing changed in between (else
    /// retry, or 409 when `precondition` names a resourceVersion).
    ///
    /// # Errors
    /// 404 when absent (and not creating), 409 on a failed precondition, 422, admission errors,
    /// and whatever `compute` returns.
    #[allow(clippy::too_many_arguments)]
    pub fn guaranteed_update(
        &self,
        resource: &ResourceRef,
        namespace: &str,
        name: &str,
        subresource: Subresource,
        options: &WriteOptions,
        precondition: Option<&str>,
        create_if_missing: bool,
        compute: &mut dyn FnMut(Option<&Value>) -> Result<Value, ApiError>,
    ) -> Result<Value, ApiError> {
        loop {
            let ty = self.resource_type(resource)?;
            let namespace = if ty.namespaced { namespace } else { "" };
            let key = (namespace.to_string(), name.to_string());
            let current = {
                let state = self.lock();
                state.objects.get(&(ty.group.clone(), ty.plural.clone())).and_then(|o| o.get(&key)).cloned()
            };
            let Some(current_commit) = current else {
                if create_if_missing && subresource == Subresource::Main {
                    let mut object = compute(None)?;
                    if object["metadata"]["name"].as_str().unwrap_or("").is_empty() {
                        object["metadata"]["name"] = json!(name);
                    }
                    if ty.namespaced && object["metadata"]["namespace"].as_str().unwrap_or("").is_empty() {
                        object["metadata"]["namespace"] = json!(namespace);
                    }
                    check_identity(&ty, &object, namespace, name)?;
                    match self.create_with(resource, object, options) {
                        Err(e) if e.reason == "AlreadyExists" => continue,
                        other => return other,
                    }
                }
                return Err(ApiError::not_found(&ty.group, &ty.plural, name));
            };
            let current = current_commit.object();
            let current_rv = current["metadata"]["resourceVersion"].as_str().unwrap_or("").to_string();
            if let Some(rv) = precondition {
                if rv != current_rv {
                    return Err(ApiError::conflict(&ty.group, &ty.plural, name));
                }
            }
            let presented = present(&current, &ty, &resource.version);
            let mut object = compute(Some(&presented))?;
            check_identity(&ty, &object, namespace, name)?;
            if let Some(rv) = object["metadata"]["resourceVersion"].as_str() {
                if !rv.is_empty() && rv != current_rv {
                    return Err(ApiError::conflict(&ty.group, &ty.plural, name));
                }
            }
            prepare_update(&ty, resource, &current, &mut object, subresource)?;
            if subresource == Subresource::Main {
                crate::defaults::apply(&ty, &mut object);
                self.mutate(resource, Operation::Update, &mut object);
            }
            crate::validation::validate(&ty, &resource.version, &mut object, Some(&current))?;
            if subresource == Subresource::Main {
                self.admit(resource, Operation::Update, &object, Some(&current), options.dry_run)?;
            }
            let changed = if ty.status {
                strip_meta_status(&object) != strip_meta_status(&current)
            } else {
                strip_meta(&object) != strip_meta(&current)
            };
            if ty.generation && changed {
                let generation = current["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
                object["metadata"]["generation"] = json!(generation);
            }
            let finalizing = !object["metadata"]["deletionTimestamp"].is_null()
                && object["metadata"]["finalizers"].as_array().is_none_or(|f| f.is_empty());
            // A no-op update writes nothing and keeps the resourceVersion, as etcd3 storage does.
            if object == *current && !finalizing {
                return Ok(Arc::unwrap_or_clone(present(&current, &ty, &resource.version)));
            }
            if options.dry_run {
                return Ok(Arc::unwrap_or_clone(present(&Arc::new(object), &ty, &resource.version)));
            }
            let mut state = self.lock();
            let ty = lookup(&state, resource)?;
            let still =
                state.objects.get(&(ty.group.clone(), ty.plural.clone())).and_then(|o| o.get(&key)).cloned();
            match still {
                Some(still) if still.same_commit(&current_commit) => {}
                _ if precondition.is_some() => return Err(ApiError::conflict(&ty.group, &ty.plural, name)),
                _ => continue,
            }
            if ty.group == "apiextensions.k8s.io" && ty.plural == "customresourcedefinitions" {
                register_crd(&mut state, &object)?;
            }
            if finalizing {
                let removed = remove(&self.shared, &mut state, &ty, &key, Some(object));
                return Ok(Arc::unwrap_or_clone(present(&removed, &ty, &resource.version)));
            }
            let stored = commit(&self.shared, &mut state, &ty, key, Some(object), EventType::Modified);
            return Ok(Arc::unwrap_or_clone(present(&stored, &ty, &resource.version)));
        }
    }
}
