//! The `scale` subresource: an object's replicas and selector as an `autoscaling/v1` Scale, read,
//! updated and patched through the paths its type declares.

use axum::http::{header, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::{json_response, Call};
use crate::errors::{ApiError, InvalidField};
use crate::patch::{self, PatchType};
use crate::resources::{ResourceRef, ResourceType, ScalePaths};
use crate::selectors::selector_string;
use crate::store::Subresource;

impl Call<'_> {
    pub(super) fn scale(&self, resource: &ResourceRef, ty: &ResourceType) -> Result<Response, ApiError> {
        let paths = ty.scale.clone().expect("scale() is called for types with a scale subresource");
        let name = self.target.name.clone().unwrap_or_default();
        let namespace = self.target.namespace.clone();
        let store = &self.server.store;
        match self.verb() {
            "get" => {
                let object = store.get(resource, &namespace, &name)?;
                Ok(json_response(StatusCode::OK, &scale_of(&object, &paths)))
            }
            "update" | "patch" => {
                let options = self.write_options()?;
                let body = if self.verb() == "update" { Some(self.body_json()?) } else { None };
                let content_type = self
                    .headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let patch_body: Option<Value> = if self.verb() == "patch" {
                    Some(
                        serde_json::from_slice(&self.body)
                            .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?,
                    )
                } else {
                    None
                };
                let precondition = body
                    .as_ref()
                    .and_then(|b| b["metadata"]["resourceVersion"].as_str())
                    .filter(|rv| !rv.is_empty())
                    .map(str::to_string);
                let mut compute = |current: Option<&Value>| -> Result<Value, ApiError> {
                    let current = current.ok_or_else(|| ApiError::not_found(&ty.group, &ty.plural, &name))?;
                    let scale = scale_of(current, &paths);
                    let wanted = match (&body, &patch_body) {
                        (Some(b), _) => b.clone(),
                        (None, Some(p)) => match PatchType::from_content_type(&content_type) {
                            Some(PatchType::Json) => patch::json_patch(&scale, p)?,
                            Some(PatchType::Merge | PatchType::Strategic) => patch::merge_patch(&scale, p)?,
                            _ => return Err(ApiError::unsupported_media_type(&content_type)),
                        },
                        (None, None) => scale.clone(),
                    };
                    let replicas = wanted["spec"]["replicas"].as_i64().unwrap_or(0);
                    if replicas < 0 {
                        return Err(ApiError::invalid(
                            "autoscaling",
                            "Scale",
                            &name,
                            &[InvalidField::invalid(
                                "spec.replicas",
                                replicas,
                                "must be greater than or equal to 0",
                            )],
                        ));
                    }
                    let mut object = current.clone();
                    set_path(&mut object, &paths.spec_replicas, json!(replicas));
                    Ok(object)
                };
                let updated = store.guaranteed_update(
                    resource,
                    &namespace,
                    &name,
                    Subresource::Main,
                    &options,
                    precondition.as_deref(),
                    false,
                    &mut compute,
                )?;
                Ok(json_response(StatusCode::OK, &scale_of(&updated, &paths)))
            }
            _ => Err(ApiError::method_not_allowed(
                "the server does not allow this method on the requested resource",
            )),
        }
    }
}

fn get_path<'a>(object: &'a Value, path: &str) -> &'a Value {
    let mut v = object;
    for part in path.trim_start_matches('.').split('.').filter(|p| !p.is_empty()) {
        v = &v[part];
    }
    v
}

fn set_path(object: &mut Value, path: &str, value: Value) {
    let parts: Vec<&str> = path.trim_start_matches('.').split('.').filter(|p| !p.is_empty()).collect();
    let Some((last, parents)) = parts.split_last() else { return };
    let mut v = object;
    for part in parents {
        if !v[*part].is_object() {
            v[*part] = json!({});
        }
        v = &mut v[*part];
    }
    v[*last] = value;
}

/// The `autoscaling/v1` Scale of an object.
fn scale_of(object: &Value, paths: &ScalePaths) -> Value {
    let meta = &object["metadata"];
    let selector = match &paths.label_selector {
        Some(p)
            if p == ".status.selector"
                && object["kind"] != "Deployment"
                && object["kind"] != "ReplicaSet" =>
        {
            get_path(object, p).as_str().unwrap_or("").to_string()
        }
        Some(p) if get_path(object, p).is_string() => get_path(object, p).as_str().unwrap_or("").to_string(),
        _ => selector_string(&object["spec"]["selector"]),
    };
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": get_path(object, &paths.spec_replicas).as_i64().unwrap_or(0)},
        "status": {"replicas": get_path(object, &paths.status_replicas).as_i64().unwrap_or(0), "selector": selector},
    })
}
