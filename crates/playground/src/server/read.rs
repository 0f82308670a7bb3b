//! Reads: GET of one object and LIST with label and field selectors, `limit` and `continue`,
//! as JSON or as a Table.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::continue_token::{decode_continue, encode_continue, object_key};
use super::{json_response, Call};
use crate::errors::ApiError;
use crate::resources::{ResourceRef, ResourceType};
use crate::tables;

impl Call<'_> {
    pub(super) fn get(&self, resource: &ResourceRef) -> Result<Response, ApiError> {
        let name = self.target.name.as_deref().unwrap_or("");
        let object = self.server.store.get_shared(resource, &self.target.namespace, name)?;
        if self.wants_table() {
            let ty = self.server.store.resource_type(resource)?;
            let table = tables::table(&ty, &[object], None, &self.query);
            return Ok(json_response(StatusCode::OK, &table));
        }
        Ok(json_response(StatusCode::OK, &object))
    }

    pub(super) fn list(&self, resource: &ResourceRef, ty: &ResourceType) -> Result<Response, ApiError> {
        let (labels, fields) = self.selectors(ty)?;
        let limit: usize = self.param("limit").and_then(|l| l.parse().ok()).unwrap_or(0);
        let cont = self.param("continue").map(decode_continue).transpose()?;
        let list = self.server.store.list_matching(resource, &self.target.namespace, |o| {
            labels.matches(&o["metadata"]["labels"]) && fields.matches(o)
        })?;
        let mut items = list.items;
        if let Some((_, after)) = &cont {
            items.retain(|o| object_key(o) > *after);
        }
        let mut metadata = json!({"resourceVersion": list.resource_version.to_string()});
        if let Some((rv, _)) = &cont {
            metadata["resourceVersion"] = json!(rv.to_string());
        }
        if limit > 0 && items.len() > limit {
            let remaining = items.len() - limit;
            items.truncate(limit);
            let last = object_key(items.last().expect("limit > 0 keeps an item"));
            let rv = cont.as_ref().map_or(list.resource_version, |(rv, _)| *rv);
            metadata["continue"] = json!(encode_continue(rv, &last));
            metadata["remainingItemCount"] = json!(remaining);
        }
        if self.wants_table() {
            let table = tables::table(ty, &items, Some(metadata), &self.query);
            return Ok(json_response(StatusCode::OK, &table));
        }
        let mut out = Vec::with_capacity(256 + items.len() * 1024);
        out.extend_from_slice(
            format!(
                "{{\"kind\":{},\"apiVersion\":{},\"metadata\":{},\"items\":[",
                json!(ty.list_kind),
                json!(ty.api_version(&resource.version)),
                metadata
            )
            .as_bytes(),
        );
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            serde_json::to_writer(&mut out, &**item).map_err(|e| ApiError::internal(e.to_string()))?;
        }
        out.extend_from_slice(b"]}");
        Ok((StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], out).into_response())
    }
}
