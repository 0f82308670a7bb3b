//! Deletes: DeleteOptions from the query and the body (dry run, grace period, propagation,
//! preconditions), DELETE of one object and `deletecollection`.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::{json_response, Call};
use crate::errors::{ApiError, InvalidField};
use crate::resources::{ResourceRef, ResourceType};
use crate::store::{DeleteOptions, Deleted, Propagation};

impl Call<'_> {
    fn delete_options(&self) -> Result<DeleteOptions, ApiError> {
        let body: Value = if self.body.is_empty() {
            json!({})
        } else {
            serde_json::from_slice(&self.body)
                .map_err(|e| ApiError::bad_request(format!("cannot decode DeleteOptions: {e}")))?
        };
        let mut options = DeleteOptions { dry_run: self.write_options()?.dry_run, ..Default::default() };
        if body["dryRun"].as_array().is_some_and(|d| d.iter().any(|v| v == "All")) {
            options.dry_run = true;
        }
        options.grace_period_seconds = self
            .param("gracePeriodSeconds")
            .and_then(|g| g.parse().ok())
            .or_else(|| body["gracePeriodSeconds"].as_i64());
        let policy = self
            .param("propagationPolicy")
            .map(str::to_string)
            .or_else(|| body["propagationPolicy"].as_str().map(str::to_string));
        options.propagation = match policy.as_deref() {
            None => None,
            Some("Background") => Some(Propagation::Background),
            Some("Foreground") => Some(Propagation::Foreground),
            Some("Orphan") => Some(Propagation::Orphan),
            Some(other) => {
                return Err(ApiError::invalid(
                    "meta.k8s.io",
                    "DeleteOptions",
                    "",
                    &[InvalidField::not_supported(
                        "propagationPolicy",
                        format!("{other:?}"),
                        &["\"Background\"".into(), "\"Foreground\"".into(), "\"Orphan\"".into()],
                    )],
                ))
            }
        };
        let orphan = self
            .param("orphanDependents")
            .map(|o| o == "true")
            .or_else(|| body["orphanDependents"].as_bool());
        if orphan == Some(true) && options.propagation.is_none() {
            options.propagation = Some(Propagation::Orphan);
        }
        options.precondition_uid = body["preconditions"]["uid"].as_str().map(str::to_string);
        options.precondition_resource_version =
            body["preconditions"]["resourceVersion"].as_str().map(str::to_string);
        Ok(options)
    }

    pub(super) fn delete(&self, resource: &ResourceRef, ty: &ResourceType) -> Result<Response, ApiError> {
        let options = self.delete_options()?;
        let name = self.target.name.clone().unwrap_or_default();
        match self.server.store.delete(resource, &self.target.namespace, &name, &options)? {
            Deleted::Now(object) => {
                if ty.group.is_empty() && ty.plural == "pods" || ty.is_custom() {
                    return Ok(json_response(StatusCode::OK, &object));
                }
                let mut details = json!({"name": name, "kind": ty.plural, "uid": object["metadata"]["uid"]});
                if !ty.group.is_empty() {
                    details["group"] = json!(ty.group);
                }
                Ok(json_response(
                    StatusCode::OK,
                    &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}),
                ))
            }
            Deleted::Pending(object) => Ok(json_response(StatusCode::ACCEPTED, &object)),
        }
    }

    pub(super) fn delete_collection(
        &self,
        resource: &ResourceRef,
        ty: &ResourceType,
    ) -> Result<Response, ApiError> {
        if !ty.verbs().contains(&"deletecollection") {
            return Err(ApiError::method_not_allowed(
                "the server does not allow this method on the requested resource",
            ));
        }
        let options = self.delete_options()?;
        let (labels, fields) = self.selectors(ty)?;
        let list = self.server.store.list_matching(resource, &self.target.namespace, |o| {
            labels.matches(&o["metadata"]["labels"]) && fields.matches(o)
        })?;
        let mut deleted = Vec::new();
        for item in &list.items {
            let ns = item["metadata"]["namespace"].as_str().unwrap_or("");
            let name = item["metadata"]["name"].as_str().unwrap_or("");
            match self.server.store.delete(resource, ns, name, &options) {
                Ok(d) => deleted.push(d.object().clone()),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(json_response(
            StatusCode::OK,
            &json!({"kind": ty.list_kind, "apiVersion": ty.api_version(&resource.version),
                    "metadata": {"resourceVersion": self.server.store.resource_version().to_string()},
                    "items": deleted}),
        ))
    }
}
