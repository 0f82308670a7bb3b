//! API errors as one plain sentence with the right exit code: what was denied or unreached,
//! on which object, and what to do.

use std::fmt::Write as _;

use crate::error::Error;
use crate::retry::RequestTimedOut;

pub(super) fn context_suffix(context: Option<&str>) -> String {
    context.map(|c| format!(" (context {c:?})")).unwrap_or_default()
}

/// Translate a kube error on `what` into one sentence and an exit code: 1 when the cluster
/// refused or could not be reached, 2 when the input was wrong (not found, invalid).
pub fn api_error(
    err: kube::Error,
    what: &str,
    server: &str,
    context: Option<&str>,
    namespace: &str,
) -> Error {
    let at = format!("{server}{}", context_suffix(context));
    let message = match &err {
        kube::Error::Api(status) => {
            let message = match status.code {
                401 => format!(
                    "the API server {at} rejected your credentials (401 Unauthorized) when trying to {what}; log in again or fix the user in your kubeconfig"
                ),
                403 => format!("{}; ask your cluster administrator for a Role that allows it", forbidden_sentence(status, what, namespace)),
                404 => not_found_sentence(status, what, namespace, &at),
                409 => format!("cannot {what}: {} (conflict); run the command again", status.message),
                _ if status.message.is_empty() => format!("cannot {what}: the API server {at} answered {}", status.code),
                _ => format!("cannot {what}: {} ({})", status.message.trim_end_matches('.'), status.code),
            };
            let invalid_input = matches!(status.code, 400 | 404 | 422);
            let error = if invalid_input { Error::usage(message) } else { Error::failed(message) };
            return error.with_source(err);
        }
        kube::Error::Auth(auth) => format!(
            "cannot get credentials for {at} to {what}: {}; check the user's exec plugin, token or certificate in your kubeconfig",
            root_cause(auth)
        ),
        _ => {
            if let Some(timeout) = find_cause::<RequestTimedOut>(&err) {
                format!(
                    "the API server {at} did not answer within {} (--request-timeout) when trying to {what}; check that the cluster is healthy or allow longer",
                    humantime::format_duration(timeout.0)
                )
            } else if let Some(tls) = find_cause::<rustls::Error>(&err) {
                format!(
                    "TLS with the API server {at} failed when trying to {what}: {tls}; check certificate-authority-data (and the client certificate) in your kubeconfig"
                )
            } else {
                format!(
                    "cannot reach the API server {at} to {what}: {}; check that the cluster is up and that your kubeconfig points at it",
                    plain_io_cause(&err)
                )
            }
        }
    };
    Error::failed(message).with_source(err)
}

/// "RBAC denied …": the server's own words name the verb and resource; keep them.
fn forbidden_sentence(status: &kube::core::Status, what: &str, namespace: &str) -> String {
    // Real API servers say: `deployments.apps "fraud" is forbidden: User "alice" cannot patch
    // resource "deployments" in API group "apps" in the namespace "ml"`.
    let reason = status.message.split_once("is forbidden: ").map_or(status.message.as_str(), |(_, r)| r);
    if reason.contains(" cannot ") {
        format!("forbidden by RBAC: {}", reason.trim_end_matches('.'))
    } else {
        let detail =
            if reason.is_empty() { String::new() } else { format!(" ({})", reason.trim_end_matches('.')) };
        format!("forbidden by RBAC: you cannot {what} in namespace {namespace:?}{detail}")
    }
}

fn not_found_sentence(status: &kube::core::Status, what: &str, namespace: &str, at: &str) -> String {
    let named = status.details.as_ref().is_some_and(|d| !d.name.is_empty());
    if named {
        // e.g. `deployments.apps "fraud" not found`
        let object = status.message.trim_end_matches('.').trim_end_matches(" not found");
        format!(
            "{object} not found in namespace {namespace:?}; check the name, or choose the namespace with -n"
        )
    } else {
        format!(
            "cannot {what}: the API server {at} does not serve that resource (404); is its API (CRD) installed in the cluster?"
        )
    }
}

/// The first error of type `T` in the cause chain.
fn find_cause<'a, T: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut cause = Some(err);
    while let Some(current) = cause {
        if let Some(found) = current.downcast_ref::<T>() {
            return Some(found);
        }
        // io::Error's `source()` skips the error it wraps (which may wrap another io::Error).
        let wrapped = current.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref());
        cause = match wrapped {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => current.source(),
        };
    }
    None
}

/// The root cause in plain words: "connection refused" rather than "Connection refused (os error 111)".
fn plain_io_cause(err: &(dyn std::error::Error + 'static)) -> String {
    if let Some(io) = find_cause::<std::io::Error>(err) {
        use std::io::ErrorKind::*;
        let plain = match io.kind() {
            ConnectionRefused => Some("connection refused"),
            ConnectionReset => Some("connection reset"),
            TimedOut => Some("connection timed out"),
            HostUnreachable => Some("host unreachable"),
            NetworkUnreachable => Some("network unreachable"),
            _ => None,
        };
        if let Some(plain) = plain {
            return plain.to_string();
        }
    }
    let text = root_cause(err);
    match text.find(" (os error") {
        Some(at) => text[..at].to_lowercase(),
        None => text,
    }
}

pub(super) fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let mut text = String::new();
    let _ = write!(text, "{cause}");
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ExitCode;

    fn status(code: u16, message: &str, name: Option<&str>) -> kube::Error {
        let mut status = kube::core::Status::failure(message, "").with_code(code);
        if let Some(name) = name {
            status.details = Some(
                serde_json::from_value(
                    serde_json::json!({"name": name, "group": "apps", "kind": "deployments"}),
                )
                .unwrap(),
            );
        }
        kube::Error::Api(status.boxed())
    }

    #[test]
    fn api_errors_become_one_sentence_with_the_right_code() {
        let server = "https://10.0.0.1:6443";
        let err = api_error(
            status(403, "deployments.apps \"fraud\" is forbidden: User \"alice\" cannot patch resource \"deployments\" in API group \"apps\" in the namespace \"ml\"", Some("fraud")),
            "patch deployment \"fraud\"",
            server,
            Some("prod"),
            "ml",
        );
        assert_eq!(err.code, ExitCode::Failed);
        assert_eq!(
            err.message,
            "forbidden by RBAC: User \"alice\" cannot patch resource \"deployments\" in API group \"apps\" in the namespace \"ml\"; ask your cluster administrator for a Role that allows it"
        );

        let err = api_error(
            status(404, "deployments.apps \"fraud\" not found", Some("fraud")),
            "get deployment \"fraud\"",
            server,
            None,
            "ml",
        );
        assert_eq!(err.code, ExitCode::Usage);
        assert_eq!(err.message, "deployments.apps \"fraud\" not found in namespace \"ml\"; check the name, or choose the namespace with -n");

        let err = api_error(
            status(404, "the server could not find the requested resource", None),
            "list ksvc",
            server,
            Some("prod"),
            "ml",
        );
        assert_eq!(err.code, ExitCode::Usage);
        assert!(err.message.contains("does not serve that resource"), "{}", err.message);

        let err = api_error(
            status(401, "Unauthorized", None),
            "get deployment \"fraud\"",
            server,
            Some("prod"),
            "ml",
        );
        assert_eq!(err.code, ExitCode::Failed);
        assert!(
            err.message.starts_with(
                "the API server https://10.0.0.1:6443 (context \"prod\") rejected your credentials"
            ),
            "{}",
            err.message
        );

        let err = api_error(
            status(409, "the object has been modified", None),
            "patch deployment \"fraud\"",
            server,
            None,
            "ml",
        );
        assert_eq!(err.code, ExitCode::Failed);
    }
}
