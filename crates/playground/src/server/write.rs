//! Writes: create, update (main and status) and patch (JSON, merge, strategic, server-side
//! apply), with `dryRun`, `fieldValidation` and field managers as kube-apiserver records them.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::{json_response, Call};
use crate::errors::{ApiError, InvalidField};
use crate::patch::{self, PatchType};
use crate::resources::{ResourceRef, ResourceType};
use crate::store::Subresource;

impl Call<'_> {
    pub(super) fn create(&self, resource: &ResourceRef, ty: &ResourceType) -> Result<Response, ApiError> {
        let options = self.write_options()?;
        let mut object = self.body_json()?;
        if ty.namespaced {
            let ns = object["metadata"]["namespace"].as_str().unwrap_or("");
            if !ns.is_empty() && ns != self.target.namespace {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            if !object["metadata"].is_object() {
                object["metadata"] = json!({});
            }
            object["metadata"]["namespace"] = json!(self.target.namespace);
        }
        let warnings = self.field_validation(ty, resource, &mut object, None)?;
        crate::apply::record_create(ty, &mut object, &self.manager());
        let created = self.server.store.create_with(resource, object, &options)?;
        let mut response = json_response(StatusCode::CREATED, &created);
        add_warnings(&mut response, &warnings);
        Ok(response)
    }

    /// `fieldValidation`: Strict refuses unknown fields, Warn (the default) reports them.
    fn field_validation(
        &self,
        ty: &ResourceType,
        resource: &ResourceRef,
        object: &mut Value,
        _old: Option<&Value>,
    ) -> Result<Vec<String>, ApiError> {
        let mode = self.param("fieldValidation").unwrap_or("Warn");
        if mode == "Ignore" {
            return Ok(Vec::new());
        }
        let mut copy = object.clone();
        let unknown = crate::validation::unknown_fields_of(ty, &resource.version, &mut copy);
        if unknown.is_empty() {
            return Ok(Vec::new());
        }
        if mode == "Strict" {
            let list: Vec<String> = unknown.iter().map(|u| format!("unknown field \"{u}\"")).collect();
            return Err(ApiError::bad_request(format!("strict decoding error: {}", list.join(", "))));
        }
        Ok(unknown.iter().map(|u| format!("unknown field \"{u}\"")).collect())
    }

    pub(super) fn update(
        &self,
        resource: &ResourceRef,
        ty: &ResourceType,
        sub: Subresource,
    ) -> Result<Response, ApiError> {
        let options = self.write_options()?;
        let mut object = self.body_json()?;
        let name = self.target.name.clone().unwrap_or_default();
        let body_name = object["metadata"]["name"].as_str().unwrap_or("");
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        if !object["metadata"].is_object() {
            object["metadata"] = json!({});
        }
        object["metadata"]["name"] = json!(name);
        if ty.namespaced {
            let ns = object["metadata"]["namespace"].as_str().unwrap_or("");
            if !ns.is_empty() && ns != self.target.namespace {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            object["metadata"]["namespace"] = json!(self.target.namespace);
        }
        let warnings = if sub == Subresource::Main {
            self.field_validation(ty, resource, &mut object, None)?
        } else {
            Vec::new()
        };
        let precondition =
            object["metadata"]["resourceVersion"].as_str().filter(|rv| !rv.is_empty()).map(str::to_string);
        if ty.is_custom() && precondition.is_none() {
            return Err(ApiError::invalid(
                &ty.group,
                &ty.kind,
                &name,
                &[InvalidField::invalid(
                    "metadata.resourceVersion",
                    "0x0",
                    "must be specified for an update",
                )],
            ));
        }
        let manager = self.manager();
        let mut compute = |current: Option<&Value>| -> Result<Value, ApiError> {
            let mut new = object.clone();
            if let (Some(current), Subresource::Main) = (current, sub) {
                crate::apply::record_update(ty, current, &mut new, &manager);
            }
            Ok(new)
        };
        let namespace = self.target.namespace.clone();
        let updated = self.server.store.guaranteed_update(
            resource,
            &namespace,
            &name,
            sub,
            &options,
            precondition.as_deref(),
            false,
            &mut compute,
        )?;
        let mut response = json_response(StatusCode::OK, &updated);
        add_warnings(&mut response, &warnings);
        Ok(response)
    }

    pub(super) fn patch(
        &self,
        resource: &ResourceRef,
        ty: &ResourceType,
        sub: Subresource,
    ) -> Result<Response, ApiError> {
        let options = self.write_options()?;
        let content_type = self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let patch_type = PatchType::from_content_type(content_type)
            .ok_or_else(|| ApiError::unsupported_media_type(content_type))?;
        if patch_type == PatchType::Strategic && ty.is_custom() {
            return Err(ApiError::unsupported_media_type(content_type));
        }
        let body: Value = if patch_type == PatchType::Apply {
            serde_yaml::from_slice(&self.body)
                .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?
        } else {
            serde_json::from_slice(&self.body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?
        };
        let name = self.target.name.clone().unwrap_or_default();
        let namespace = self.target.namespace.clone();
        let manager = self.manager();
        let strict = self.param("fieldValidation") == Some("Strict");
        if patch_type == PatchType::Apply && self.param("fieldManager").is_none() {
            return Err(ApiError::bad_request(
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            ));
        }
        let force = self.flag("force");
        let mut created = false;
        if patch_type == PatchType::Apply && strict && sub == Subresource::Main {
            let mut copy = body.clone();
            let unknown = crate::validation::unknown_fields_of(ty, &resource.version, &mut copy);
            if !unknown.is_empty() {
                let list: Vec<String> =
                    unknown.iter().map(|u| format!(".{u}: field not declared in schema")).collect();
                return Err(ApiError::bad_request(list.join(", ")));
            }
        }
        let mut compute = |current: Option<&Value>| -> Result<Value, ApiError> {
            let mut new = match (patch_type, current) {
                (PatchType::Json, Some(c)) => patch::json_patch(c, &body)?,
                (PatchType::Merge, Some(c)) => patch::merge_patch(c, &body)?,
                (PatchType::Strategic, Some(c)) => patch::strategic_merge(c, &body)?,
                (PatchType::Apply, current) => {
                    created = current.is_none();
                    return crate::apply::apply(ty, current, &body, &manager, force);
                }
                (_, None) => return Err(ApiError::not_found(&ty.group, &ty.plural, &name)),
            };
            if strict && sub == Subresource::Main {
                let mut copy = new.clone();
                let unknown = crate::validation::unknown_fields_of(ty, &resource.version, &mut copy);
                if !unknown.is_empty() {
                    let list: Vec<String> =
                        unknown.iter().map(|u| format!("unknown field \"{u}\"")).collect();
                    return Err(ApiError::bad_request(format!("strict decoding error: {}", list.join(", "))));
                }
            }
            if let (Some(current), Subresource::Main) = (current, sub) {
                crate::apply::record_update(ty, current, &mut new, &manager);
            }
            Ok(new)
        };
        let create_if_missing = patch_type == PatchType::Apply && sub == Subresource::Main;
        let patched = self.server.store.guaranteed_update(
            resource,
            &namespace,
            &name,
            sub,
            &options,
            None,
            create_if_missing,
            &mut compute,
        )?;
        let code = if created { StatusCode::CREATED } else { StatusCode::OK };
        Ok(json_response(code, &patched))
    }
}

fn add_warnings(response: &mut Response, warnings: &[String]) {
    for w in warnings {
        if let Ok(v) = HeaderValue::from_str(&format!("299 - {}", json!(w))) {
            response.headers_mut().append(header::WARNING, v);
        }
    }
}
