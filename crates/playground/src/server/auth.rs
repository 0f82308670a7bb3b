//! Authentication (bearer tokens) and authorization of one request: RBAC for users from a
//! token table, the built-in admin and viewer otherwise.

use axum::http::{header, HeaderMap};

use super::{ApiServer, Call, User};
use crate::errors::ApiError;

pub(super) fn authenticate(server: &ApiServer, headers: &HeaderMap) -> Result<User, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    token.and_then(|t| server.tokens.get(t)).cloned().ok_or_else(ApiError::unauthorized)
}

impl Call<'_> {
    /// Authorize the request as kube-apiserver does, before it looks the resource up (so an
    /// unknown resource is forbidden, not missing, to a user who may not use it).
    pub(super) fn authorize(&self) -> Result<(), ApiError> {
        let verb = self.verb();
        let target = &self.target;
        let subresource = target.subresource.as_deref().unwrap_or("");
        let mut name = target.name.as_deref().unwrap_or("");
        // A list or watch of one object by field selector is authorized for that name.
        if name.is_empty() && matches!(verb, "list" | "watch") {
            if let Some(selected) = self.param("fieldSelector").and_then(|f| {
                f.strip_prefix("metadata.name=")
                    .filter(|n| !n.contains(','))
                    .map(|n| n.trim_start_matches('='))
            }) {
                name = selected;
            }
        }
        // A request for a namespace object is in that namespace.
        let namespace = if target.group.is_empty() && target.resource == "namespaces" && !name.is_empty() {
            name
        } else {
            &target.namespace
        };
        let allowed = if self.user.rbac {
            crate::authz::authorize(
                &self.server.store,
                &crate::authz::Attributes {
                    user: &self.user.name,
                    groups: &self.user.groups,
                    verb,
                    api_group: &target.group,
                    resource: &target.resource,
                    subresource,
                    name,
                    namespace,
                },
            )
        } else {
            // Like the `view` ClusterRole, the viewer may not reach into pods (proxy, exec, …).
            let connect = matches!(subresource, "proxy" | "exec" | "attach" | "portforward");
            self.user.can_write || (matches!(verb, "get" | "list" | "watch") && !connect)
        };
        if allowed {
            return Ok(());
        }
        Err(ApiError::forbidden_rbac(
            &self.user.name,
            verb,
            &target.group,
            &target.resource,
            subresource,
            namespace,
            target.name.as_deref().unwrap_or(""),
        ))
    }
}
