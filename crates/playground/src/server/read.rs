//! Reads: GET of one object and LIST with label and field selectors, `limit` and `continue`,
//! as JSON or as a Table.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::continue_token::{decode_continue, encode_continue};
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
        let mut selects = |o: &Value| labels.matches(&o["metadata"]["labels"]) && fields.matches(o);
        let selected = !(labels.requirements.is_empty() && fields.terms.is_empty());
        let filter: Option<&mut dyn FnMut(&Value) -> bool> = if selected { Some(&mut selects) } else { None };
        let after = cont.as_ref().map(|(_, after)| after.as_str());
        let page = self.server.store.list_page(resource, &self.target.namespace, filter, after, limit)?;
        let mut metadata = json!({"resourceVersion": page.resource_version.to_string()});
        if let Some((rv, _)) = &cont {
            metadata["resourceVersion"] = json!(rv.to_string());
        }
        if limit > 0 && page.remaining > 0 {
            let last = page.last_key().expect("limit > 0 keeps an item");
            let rv = cont.as_ref().map_or(page.resource_version, |(rv, _)| *rv);
            metadata["continue"] = json!(encode_continue(rv, &last));
            // kube-apiserver counts what remains only for a list without selectors.
            if !selected {
                metadata["remainingItemCount"] = json!(page.remaining);
            }
        }
        if self.wants_table() {
            let table = tables::table(ty, &page.objects(), Some(metadata), &self.query);
            return Ok(json_response(StatusCode::OK, &table));
        }
        let mut out = Vec::with_capacity(256 + page.len() * 1024);
        out.extend_from_slice(
            format!(
                "{{\"kind\":{},\"apiVersion\":{},\"metadata\":{},\"items\":[",
                json!(ty.list_kind),
                json!(ty.api_version(&resource.version)),
                metadata
            )
            .as_bytes(),
        );
        for i in 0..page.len() {
            if i > 0 {
                out.push(b',');
            }
            match page.kept_json(i) {
                Some(json) => out.extend_from_slice(&json),
                None => serde_json::to_writer(&mut out, &*page.object(i))
                    .map_err(|e| ApiError::internal(e.to_string()))?,
            }
        }
        out.extend_from_slice(b"]}");
        Ok((StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], out).into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::super::hostile_requests::{api_server, runtime, TOKEN};
    use super::super::router;
    use super::*;
    use crate::resources::CONFIGMAPS;
    use axum::body::Body;
    use tower::ServiceExt;

    /// The `metadata` of a LIST of ConfigMaps in `default` with `query`.
    fn list_metadata(runtime: &tokio::runtime::Runtime, app: &axum::Router, query: &str) -> Value {
        let request = axum::http::Request::builder()
            .uri(format!("/api/v1/namespaces/default/configmaps?{query}"))
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .unwrap();
        let response = runtime.block_on(app.clone().oneshot(request)).unwrap_or_else(|e| match e {});
        assert_eq!(response.status(), StatusCode::OK);
        let body = runtime.block_on(axum::body::to_bytes(response.into_body(), usize::MAX)).unwrap();
        serde_json::from_slice::<Value>(&body).unwrap()["metadata"].clone()
    }

    #[test]
    fn remaining_item_count_is_given_only_for_a_list_without_selectors() {
        let server = api_server();
        for i in 0..3 {
            let cm = json!({"metadata": {"name": format!("x{i}"), "namespace": "default", "labels": {"app": "x"}}});
            server.store.create(&CONFIGMAPS, cm).unwrap();
        }
        let (runtime, app) = (runtime(), router(server));
        // Four ConfigMaps (cm, x0, x1, x2): a page of one leaves three.
        let plain = list_metadata(&runtime, &app, "limit=1");
        assert_eq!(plain["remainingItemCount"], 3, "{plain}");
        assert!(plain["continue"].is_string());
        // kube-apiserver cannot count what a selector would keep without reading it: no count.
        for query in ["limit=1&labelSelector=app%3Dx", "limit=1&fieldSelector=metadata.name%21%3Dcm"] {
            let selected = list_metadata(&runtime, &app, query);
            assert!(selected["continue"].is_string(), "{query}: {selected}");
            assert!(selected.get("remainingItemCount").is_none(), "{query}: {selected}");
        }
    }
}
