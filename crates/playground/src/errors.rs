//! The API server's refusals as real `Status` objects: code, reason, details and the message
//! format of kube-apiserver, so clients (kubectl, kube-rs, our plugin) see what a cluster says.

use serde_json::{json, Value};

/// One field-level cause of a 422 Invalid, as in `details.causes[]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidField {
    /// `FieldValueInvalid`, `FieldValueRequired`, `FieldValueNotSupported`, `FieldValueForbidden`,
    /// `FieldValueTooLong`, `FieldValueDuplicate`, `FieldValueTypeInvalid`.
    pub reason: &'static str,
    /// The path, e.g. `spec.template.metadata.labels`.
    pub field: String,
    /// The text after the path, e.g. `Invalid value: "x": must be ...`.
    pub message: String,
}

impl InvalidField {
    /// `field: Invalid value: <value>: detail` (Go's `field.Invalid`).
    pub fn invalid(field: impl Into<String>, value: impl std::fmt::Display, detail: &str) -> Self {
        let message = if detail.is_empty() {
            format!("Invalid value: {value}")
        } else {
            format!("Invalid value: {value}: {detail}")
        };
        Self { reason: "FieldValueInvalid", field: field.into(), message }
    }

    /// `field: Required value` (Go's `field.Required`).
    pub fn required(field: impl Into<String>, detail: &str) -> Self {
        let message = if detail.is_empty() {
            "Required value".to_string()
        } else {
            format!("Required value: {detail}")
        };
        Self { reason: "FieldValueRequired", field: field.into(), message }
    }

    /// `field: Unsupported value: "x": supported values: "a", "b"` (Go's `field.NotSupported`).
    pub fn not_supported(
        field: impl Into<String>,
        value: impl std::fmt::Display,
        allowed: &[String],
    ) -> Self {
        let allowed: Vec<String> = allowed.iter().map(|a| a.to_string()).collect();
        Self {
            reason: "FieldValueNotSupported",
            field: field.into(),
            message: format!("Unsupported value: {value}: supported values: {}", allowed.join(", ")),
        }
    }

    /// `field: Forbidden: detail` (Go's `field.Forbidden`).
    pub fn forbidden(field: impl Into<String>, detail: &str) -> Self {
        Self { reason: "FieldValueForbidden", field: field.into(), message: format!("Forbidden: {detail}") }
    }

    /// `field: Invalid value: "string": field must be integer` style type errors.
    pub fn type_invalid(field: impl Into<String>, value: impl std::fmt::Display, detail: &str) -> Self {
        Self {
            reason: "FieldValueTypeInvalid",
            field: field.into(),
            message: format!("Invalid value: {value}: {detail}"),
        }
    }

    /// `field: Duplicate value: x` (Go's `field.Duplicate`).
    pub fn duplicate(field: impl Into<String>, value: impl std::fmt::Display) -> Self {
        Self {
            reason: "FieldValueDuplicate",
            field: field.into(),
            message: format!("Duplicate value: {value}"),
        }
    }

    /// `field: Too long: may not be more than N bytes`.
    pub fn too_long(field: impl Into<String>, max: usize) -> Self {
        Self {
            reason: "FieldValueTooLong",
            field: field.into(),
            message: format!("Too long: may not be more than {max} bytes"),
        }
    }

    /// The line as the API server prints it: `field: message`.
    pub fn line(&self) -> String {
        if self.field.is_empty() {
            self.message.clone()
        } else {
            format!("{}: {}", self.field, self.message)
        }
    }
}

impl std::fmt::Display for InvalidField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.line())
    }
}

/// A refusal by the API server, rendered as a `meta/v1 Status`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
    /// Seconds for `Retry-After` (429, some 500s).
    pub retry_after: Option<u64>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({} {})", self.message, self.code, self.reason)
    }
}

impl std::error::Error for ApiError {}

/// `deployments.apps` or `pods`: how the API server names a resource in messages.
pub fn qualified(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

fn details(name: &str, group: &str, kind: &str) -> Value {
    let mut details = serde_json::Map::new();
    if !name.is_empty() {
        details.insert("name".into(), json!(name));
    }
    if !group.is_empty() {
        details.insert("group".into(), json!(group));
    }
    details.insert("kind".into(), json!(kind));
    Value::Object(details)
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: String, details: Option<Value>) -> Self {
        Self { code, reason, message, details, retry_after: None }
    }

    /// 404: `deployments.apps "x" not found`.
    pub fn not_found(group: &str, resource: &str, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", qualified(group, resource)),
            Some(details(name, group, resource)),
        )
    }

    /// 404 for a path that names no resource: `the server could not find the requested resource`.
    pub fn no_route() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource".into(),
            Some(
                json!({"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]}),
            ),
        )
    }

    /// 409: `deployments.apps "x" already exists`.
    pub fn already_exists(group: &str, resource: &str, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", qualified(group, resource)),
            Some(details(name, group, resource)),
        )
    }

    /// 409 on a stale resourceVersion, with the API server's own sentence.
    pub fn conflict(group: &str, resource: &str, name: &str) -> Self {
        Self::conflict_because(
            group,
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 409 with another reason after the colon.
    pub fn conflict_because(group: &str, resource: &str, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {} \"{name}\": {why}", qualified(group, resource)),
            Some(details(name, group, resource)),
        )
    }

    /// 422: `Deployment.apps "x" is invalid: field: message` (several causes in brackets).
    pub fn invalid(group: &str, kind: &str, name: &str, causes: &[InvalidField]) -> Self {
        let qualified_kind = if group.is_empty() { kind.to_string() } else { format!("{kind}.{group}") };
        let text = match causes {
            [one] => one.line(),
            many => format!("[{}]", many.iter().map(InvalidField::line).collect::<Vec<_>>().join(", ")),
        };
        let mut d = details(name, group, kind);
        d["causes"] = Value::Array(
            causes
                .iter()
                .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                .collect(),
        );
        Self::new(422, "Invalid", format!("{qualified_kind} \"{name}\" is invalid: {text}"), Some(d))
    }

    /// 403 with the RBAC authorizer's sentence.
    pub fn forbidden_rbac(
        user: &str,
        verb: &str,
        group: &str,
        resource: &str,
        subresource: &str,
        namespace: &str,
        name: &str,
    ) -> Self {
        let what = qualified(group, resource);
        let subject = if name.is_empty() { what.clone() } else { format!("{what} \"{name}\"") };
        let full_resource =
            if subresource.is_empty() { resource.to_string() } else { format!("{resource}/{subresource}") };
        let scope = if namespace.is_empty() {
            "at the cluster scope".to_string()
        } else {
            format!("in the namespace \"{namespace}\"")
        };
        Self::new(
            403,
            "Forbidden",
            format!(
                "{subject} is forbidden: User \"{user}\" cannot {verb} resource \"{full_resource}\" in API group \"{group}\" {scope}"
            ),
            Some(details(name, group, resource)),
        )
    }

    /// 403 for other refusals, e.g. writes into a terminating namespace.
    pub fn forbidden(group: &str, resource: &str, name: &str, why: &str) -> Self {
        let what = qualified(group, resource);
        let subject = if name.is_empty() { what } else { format!("{what} \"{name}\"") };
        Self::new(
            403,
            "Forbidden",
            format!("{subject} is forbidden: {why}"),
            Some(details(name, group, resource)),
        )
    }

    /// 401 for a missing or unknown token.
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized".into(), None)
    }

    /// 400 with a message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message.into(), None)
    }

    /// 405 for a verb a resource does not support.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message.into(), None)
    }

    /// 406 for an Accept type we cannot produce.
    pub fn not_acceptable(message: impl Into<String>) -> Self {
        Self::new(406, "NotAcceptable", message.into(), None)
    }

    /// 415 for a Content-Type we cannot read.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {content_type:?})"), None)
    }

    /// 415 for a request body in a serialization the playground does not read (protobuf, CBOR).
    pub fn unsupported_body(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got {content_type:?})"),
            None,
        )
    }

    /// 410 for a watch or continue from a resourceVersion the watch cache no longer holds.
    pub fn gone(requested: u64, oldest: u64) -> Self {
        Self::new(410, "Expired", format!("too old resource version: {requested} ({oldest})"), None)
    }

    /// 410 for an expired continue token.
    pub fn expired_continue() -> Self {
        Self::new(
            410,
            "Expired",
            "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.".into(),
            None,
        )
    }

    /// 429 with `Retry-After`.
    pub fn too_many_requests(retry_after: u64) -> Self {
        let mut e = Self::new(
            429,
            "TooManyRequests",
            "the server has received too many requests and has asked us to try again later".into(),
            Some(json!({"retryAfterSeconds": retry_after})),
        );
        e.retry_after = Some(retry_after);
        e
    }

    /// 503 with a message, as `NewServiceUnavailable` (e.g. a proxy that cannot reach a pod).
    pub fn service_unavailable(message: impl Into<String>) -> Self {
        Self::new(503, "ServiceUnavailable", message.into(), None)
    }

    /// 500 with a message.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", format!("Internal error occurred: {}", message.into()), None)
    }

    /// 504-free timeout for a wait that ran out (e.g. watch with timeoutSeconds is not an error).
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(504, "Timeout", message.into(), None)
    }

    /// The `meta/v1 Status` object.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_the_api_server() {
        assert_eq!(
            ApiError::not_found("apps", "deployments", "x").message,
            "deployments.apps \"x\" not found"
        );
        assert_eq!(ApiError::not_found("", "pods", "p").message, "pods \"p\" not found");
        assert_eq!(
            ApiError::conflict("apps", "deployments", "x").message,
            "Operation cannot be fulfilled on deployments.apps \"x\": the object has been modified; please apply your changes to the latest version and try again"
        );
        assert_eq!(
            ApiError::forbidden_rbac("viewer", "patch", "apps", "deployments", "", "ml", "fraud").message,
            "deployments.apps \"fraud\" is forbidden: User \"viewer\" cannot patch resource \"deployments\" in API group \"apps\" in the namespace \"ml\""
        );
        assert_eq!(
            ApiError::forbidden_rbac("viewer", "create", "", "namespaces", "", "", "").message,
            "namespaces is forbidden: User \"viewer\" cannot create resource \"namespaces\" in API group \"\" at the cluster scope"
        );
        let e = ApiError::invalid(
            "apps",
            "Deployment",
            "x",
            &[InvalidField::invalid(
                "spec.template.metadata.labels",
                "map[string]string{\"app\":\"y\"}",
                "`selector` does not match template `labels`",
            )],
        );
        assert_eq!(e.message, "Deployment.apps \"x\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"y\"}: `selector` does not match template `labels`");
        assert_eq!(e.to_status()["details"]["causes"][0]["field"], "spec.template.metadata.labels");
    }
}
