//! Connects to the user's cluster the way kubectl does, names targets, and turns API errors into
//! one plain sentence with the right exit code.

use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::cli::GlobalArgs;
use crate::error::{Error, Result};

/// A connected client and where it points.
#[derive(Clone)]
pub struct Cluster {
    pub client: kube::Client,
    /// The namespace commands act in: `-n`, else the context's, else `default`.
    pub namespace: String,
    /// The kubeconfig context in use (None in-cluster).
    pub context: Option<String>,
    /// The API server URL, for error messages.
    pub server: String,
}

impl Cluster {
    /// Build a client from the global flags: `--kubeconfig`, else `$KUBECONFIG` (merged), else
    /// `~/.kube/config`, else in-cluster config.
    ///
    /// # Errors
    /// Exit 2 when the kubeconfig is missing, unreadable or names an unknown context/cluster/user.
    pub async fn connect(global: &GlobalArgs) -> Result<Self> {
        let options = KubeConfigOptions {
            context: global.context.clone(),
            cluster: global.cluster.clone(),
            user: global.user.clone(),
        };
        let kubeconfig = load_kubeconfig(global)?;
        let (mut config, context) = match kubeconfig {
            Some(kubeconfig) => {
                let context = options.context.clone().or_else(|| kubeconfig.current_context.clone());
                let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .map_err(|e| Error::usage(format!("cannot use the kubeconfig: {e}")).with_source(e))?;
                (config, context)
            }
            None => {
                let config = kube::Config::incluster().map_err(|e| {
                    Error::usage(
                        "no kubeconfig found (--kubeconfig, $KUBECONFIG, ~/.kube/config) and not running in a cluster",
                    )
                    .with_source(e)
                })?;
                (config, None)
            }
        };
        if let Some(timeout) = &global.request_timeout {
            let timeout = parse_request_timeout(timeout)?;
            config.read_timeout = timeout;
            config.write_timeout = timeout;
            if timeout.is_some() {
                config.connect_timeout = timeout;
            }
        }
        let namespace = global.namespace.clone().unwrap_or_else(|| config.default_namespace.clone());
        let server = config.cluster_url.to_string().trim_end_matches('/').to_string();
        let client = kube::Client::try_from(config)
            .map_err(|e| Error::failed(format!("cannot set up a client for {server}: {e}")).with_source(e))?;
        Ok(Self { client, namespace, context, server })
    }

    /// Turn a kube error on `what` (e.g. `get deployment "fraud"`) into a user-facing error.
    pub fn api_error(&self, err: kube::Error, what: &str) -> Error {
        api_error(err, what, &self.server, self.context.as_deref(), &self.namespace)
    }
}

/// Read the kubeconfig as kubectl would; `None` means "none found, try in-cluster".
fn load_kubeconfig(global: &GlobalArgs) -> Result<Option<Kubeconfig>> {
    if let Some(path) = &global.kubeconfig {
        return Kubeconfig::read_from(path).map(Some).map_err(|e| {
            Error::usage(format!("cannot read kubeconfig {}: {e}", path.display())).with_source(e)
        });
    }
    match Kubeconfig::from_env() {
        Ok(Some(config)) => return Ok(Some(config)),
        Ok(None) => {}
        Err(e) => return Err(Error::usage(format!("cannot read $KUBECONFIG: {e}")).with_source(e)),
    }
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    match home.map(|h| h.join(".kube").join("config")) {
        Some(path) if path.exists() => Kubeconfig::read_from(&path).map(Some).map_err(|e| {
            Error::usage(format!("cannot read kubeconfig {}: {e}", path.display())).with_source(e)
        }),
        _ => Ok(None),
    }
}

/// kubectl's `--request-timeout`: `0` means none; a bare number is seconds.
pub fn parse_request_timeout(text: &str) -> Result<Option<Duration>> {
    let text = text.trim();
    if text == "0" {
        return Ok(None);
    }
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Some(Duration::from_secs(seconds)));
    }
    parse_duration(text).map(Some).map_err(|_| {
        Error::usage(format!("invalid --request-timeout {text:?}: use a duration such as 30s or 1m"))
    })
}

/// A duration in Go's format (`90s`, `2m`, `1h30m`, `500ms`).
///
/// # Errors
/// A message saying what is wrong with the text.
pub fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("invalid duration {text:?}: {e}"))
}

/// Translate a kube error into one sentence and an exit code.
pub fn api_error(
    err: kube::Error,
    what: &str,
    server: &str,
    context: Option<&str>,
    namespace: &str,
) -> Error {
    let context = context.map(|c| format!(" (context {c:?})")).unwrap_or_default();
    match &err {
        kube::Error::Api(status) => {
            let message = match status.code {
                401 => format!(
                    "the API server {server}{context} rejected the credentials (401 Unauthorized) to {what}; log in again or check the user in your kubeconfig"
                ),
                403 => format!(
                    "forbidden: cannot {what} in namespace {namespace:?}: {}; ask for a Role that allows it",
                    status.message
                ),
                404 => format!("cannot {what}: not found in namespace {namespace:?}"),
                409 => format!("cannot {what}: {} (conflict); run the command again", status.message),
                _ => format!("cannot {what}: {} ({})", status.message, status.code),
            };
            let error = if status.code == 404 || status.code == 422 || status.code == 400 {
                Error::usage(message)
            } else {
                Error::failed(message)
            };
            error.with_source(err)
        }
        _ => Error::failed(format!(
            "cannot reach the API server {server}{context} to {what}: {}; check that the cluster is up and your kubeconfig points at it",
            root_cause(&err)
        ))
        .with_source(err),
    }
}

fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// What a command acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A Deployment: the stable model.
    Deployment(String),
    /// A Knative Service.
    KnativeService(String),
}

impl Target {
    /// Parse `NAME`, `deploy/NAME`, `deployment/NAME`, `deployments.apps/NAME`, `ksvc/NAME`,
    /// `kservice/NAME`, `service.serving.knative.dev/NAME`.
    ///
    /// # Errors
    /// Exit 2 for an unknown kind or an empty or invalid name.
    pub fn parse(text: &str) -> Result<Self> {
        let (kind, name) = match text.split_once('/') {
            Some((kind, name)) => (Some(kind), name),
            None => (None, text),
        };
        if name.is_empty() || name.contains('/') || !is_dns_subdomain(name) {
            return Err(Error::usage(format!(
                "invalid target {text:?}: a name must be lowercase letters, digits, '-' and '.'"
            )));
        }
        let name = name.to_string();
        match kind.map(str::to_ascii_lowercase).as_deref() {
            None | Some("deploy" | "deployment" | "deployments" | "deployment.apps" | "deployments.apps") => {
                Ok(Self::Deployment(name))
            }
            Some(
                "ksvc"
                | "kservice"
                | "ksvcs"
                | "kservices"
                | "service.serving.knative.dev"
                | "services.serving.knative.dev",
            ) => Ok(Self::KnativeService(name)),
            Some(other) => Err(Error::usage(format!(
                "unknown target kind {other:?} in {text:?}: use NAME, deploy/NAME or ksvc/NAME"
            ))),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Self::Deployment(name) | Self::KnativeService(name) => name,
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Deployment(name) => write!(f, "deployment/{name}"),
            Self::KnativeService(name) => write!(f, "ksvc/{name}"),
        }
    }
}

fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|part| {
            !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_as_cli_md_lists_them() {
        for text in ["fraud", "deploy/fraud", "deployment/fraud", "deployments.apps/fraud"] {
            assert_eq!(Target::parse(text).unwrap(), Target::Deployment("fraud".into()), "{text}");
        }
        for text in ["ksvc/fraud", "kservice/fraud", "service.serving.knative.dev/fraud"] {
            assert_eq!(Target::parse(text).unwrap(), Target::KnativeService("fraud".into()), "{text}");
        }
    }

    #[test]
    fn unknown_kinds_and_bad_names_are_usage_errors() {
        for text in ["pod/fraud", "Fraud", "deploy/", "a/b/c", ""] {
            let err = Target::parse(text).unwrap_err();
            assert_eq!(err.code, crate::error::ExitCode::Usage, "{text}");
        }
    }

    #[test]
    fn request_timeout_follows_kubectl() {
        assert_eq!(parse_request_timeout("0").unwrap(), None);
        assert_eq!(parse_request_timeout("30").unwrap(), Some(Duration::from_secs(30)));
        assert_eq!(parse_request_timeout("1m").unwrap(), Some(Duration::from_secs(60)));
        assert!(parse_request_timeout("soon").is_err());
    }
}
