//! Connects to the user's cluster the way kubectl does, names targets, and turns API errors into
//! one plain sentence with the right exit code.
//!
//! kubectl's rules, as client-go's `ClientConfigLoadingRules` implements them:
//! - `--kubeconfig PATH` is the only file read, and it must exist;
//! - else every file of `$KUBECONFIG` (`:`-separated) is read and merged, missing files skipped,
//!   and for every key (a context, cluster or user name, `current-context`) the first file that
//!   sets it wins;
//! - else `~/.kube/config`;
//! - when that yields no usable configuration, the in-cluster service account.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::cli::GlobalArgs;
use crate::error::{Error, Result};

/// A connected client and where it points.
#[derive(Clone)]
pub struct Cluster {
    pub client: kube::Client,
    /// The same connection without kube's automatic retries of 429/503/504: for requests through
    /// the pod proxy, where a 503 is the pod's own "not yet" answer to see, not to hide.
    pub proxy_client: kube::Client,
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
    /// Exit 2 when the kubeconfig is missing, unreadable or names an unknown context/cluster/user,
    /// or `--request-timeout` is malformed; exit 1 when the client cannot be set up (bad TLS data).
    pub async fn connect(global: &GlobalArgs) -> Result<Self> {
        let request_timeout = match &global.request_timeout {
            Some(text) => parse_request_timeout(text)?,
            None => None,
        };
        let resolved =
            resolve(global, std::env::var_os("KUBECONFIG").as_deref(), home_dir().as_deref()).await?;
        let Resolved { config: mut kube_config, namespace, context } = resolved;
        if let Some(timeout) = request_timeout {
            // Also bound connecting; the per-request deadline itself is set in `ApiRequestLayer`
            // so that it spares watches, which stay open on purpose.
            kube_config.connect_timeout = Some(timeout);
        }
        let server = kube_config.cluster_url.to_string().trim_end_matches('/').to_string();
        let mut no_retries = kube_config.clone();
        no_retries.default_retry = false;
        let setup_failed = |e: kube::Error| {
            Error::failed(format!(
                "cannot set up a client for the API server {server}{}: {}; check the certificate and key data in your kubeconfig",
                context_suffix(context.as_deref()),
                root_cause(&e)
            ))
            .with_source(e)
        };
        let client = build_client(kube_config, &server, request_timeout).map_err(setup_failed)?;
        let proxy_client = build_client(no_retries, &server, request_timeout).map_err(setup_failed)?;
        Ok(Self { client, proxy_client, namespace, context, server })
    }

    /// Turn a kube error on `what` (e.g. `get deployment "fraud"`) into a user-facing error.
    pub fn api_error(&self, err: kube::Error, what: &str) -> Error {
        api_error(err, what, &self.server, self.context.as_deref(), &self.namespace)
    }
}

/// A kube client config chosen as kubectl would choose it, plus what commands need besides.
pub struct Resolved {
    pub config: kube::Config,
    /// `-n`, else the context's namespace, else `default` (in-cluster: the pod's namespace).
    pub namespace: String,
    /// The context in use; None in-cluster.
    pub context: Option<String>,
}

/// Choose the kubeconfig, context, cluster, user and namespace from the flags, the value of
/// `$KUBECONFIG` and the home directory, exactly as kubectl does.
///
/// # Errors
/// Exit 2 when a kubeconfig cannot be read or parsed, when `--context`, `--cluster` or `--user`
/// names something the kubeconfig lacks, or when there is no configuration at all.
pub async fn resolve(
    global: &GlobalArgs,
    kubeconfig_env: Option<&OsStr>,
    home: Option<&Path>,
) -> Result<Resolved> {
    let loaded = load_kubeconfig(global.kubeconfig.as_deref(), kubeconfig_env, home)?;
    if loaded.is_empty() && global.context.is_none() {
        // client-go falls back to the pod's service account when no kubeconfig configures anything.
        if let Ok(config) = kube::Config::incluster() {
            let namespace = global.namespace.clone().unwrap_or_else(|| config.default_namespace.clone());
            return Ok(Resolved { config, namespace, context: None });
        }
        return Err(Error::usage(format!(
            "no cluster configured: {} and this is not a pod in a cluster; pass --kubeconfig PATH or set KUBECONFIG",
            loaded.describe_missing()
        )));
    }
    let selection = loaded.select(global)?;
    let options = KubeConfigOptions {
        context: Some(selection.context.clone()),
        cluster: global.cluster.clone(),
        user: global.user.clone(),
    };
    let config = kube::Config::from_custom_kubeconfig(loaded.config, &options).await.map_err(|e| {
        Error::usage(format!("cannot use context {:?} of {}: {e}", selection.context, loaded.source))
            .with_source(e)
    })?;
    let namespace = global
        .namespace
        .clone()
        .filter(|ns| !ns.is_empty())
        .or(selection.namespace)
        .unwrap_or_else(|| "default".to_string());
    Ok(Resolved { config, namespace, context: Some(selection.context) })
}

fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from)
}

/// The merged kubeconfig and the files it came from (for messages).
pub struct LoadedKubeconfig {
    pub config: Kubeconfig,
    /// How to name where it came from, e.g. `$KUBECONFIG (a.yaml:b.yaml)`.
    pub source: String,
    /// Files that were looked for and not there (skipped, as kubectl skips them).
    pub missing: Vec<PathBuf>,
}

/// The context, namespace and names picked from a kubeconfig.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub context: String,
    pub namespace: Option<String>,
}

impl LoadedKubeconfig {
    fn is_empty(&self) -> bool {
        self.config.contexts.is_empty()
            && self.config.clusters.is_empty()
            && self.config.auth_infos.is_empty()
    }

    fn describe_missing(&self) -> String {
        if self.missing.is_empty() {
            format!("{} configures no context", self.source)
        } else {
            let files: Vec<String> = self.missing.iter().map(|p| p.display().to_string()).collect();
            format!("no kubeconfig found at {}", files.join(", "))
        }
    }

    /// Pick the context (`--context`, else `current-context`) and check that what it and the
    /// `--cluster`/`--user` overrides name exists, with kubectl's rules.
    ///
    /// # Errors
    /// Exit 2 naming the unknown context, cluster or user, and what the kubeconfig has instead.
    pub fn select(&self, global: &GlobalArgs) -> Result<Selection> {
        let config = &self.config;
        let context_name = match global.context.as_deref().filter(|c| !c.is_empty()) {
            Some(name) => name.to_string(),
            None => match config.current_context.as_deref().filter(|c| !c.is_empty()) {
                Some(name) => name.to_string(),
                None => {
                    return Err(Error::usage(format!(
                        "{} sets no current-context; pass --context NAME ({})",
                        self.source,
                        names("contexts", config.contexts.iter().map(|c| c.name.as_str()))
                    )))
                }
            },
        };
        let Some(context) = config.contexts.iter().find(|c| c.name == context_name) else {
            return Err(Error::usage(format!(
                "context {context_name:?} is not in {}; {}",
                self.source,
                names("contexts are", config.contexts.iter().map(|c| c.name.as_str()))
            )));
        };
        let context_body = context.context.clone().unwrap_or_default();
        let cluster_name = global.cluster.clone().unwrap_or(context_body.cluster.clone());
        if !config.clusters.iter().any(|c| c.name == cluster_name) {
            return Err(Error::usage(format!(
                "cluster {cluster_name:?} (of context {context_name:?}) is not in {}; {}",
                self.source,
                names("clusters are", config.clusters.iter().map(|c| c.name.as_str()))
            )));
        }
        // kubectl rejects an unknown --user, but tolerates a context whose user is not defined
        // (it then sends no credentials).
        if let Some(user) = &global.user {
            if !config.auth_infos.iter().any(|u| &u.name == user) {
                return Err(Error::usage(format!(
                    "user {user:?} is not in {}; {}",
                    self.source,
                    names("users are", config.auth_infos.iter().map(|u| u.name.as_str()))
                )));
            }
        }
        Ok(Selection { context: context_name, namespace: context_body.namespace.filter(|ns| !ns.is_empty()) })
    }
}

fn names<'a>(label: &str, names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        format!("it has no {}", label.trim_end_matches(" are"))
    } else {
        format!("{label}: {}", names.join(", "))
    }
}

/// Read and merge the kubeconfig files kubectl would read. An empty result (no file found) means
/// "try in-cluster".
///
/// # Errors
/// Exit 2 when `--kubeconfig` names a missing file, or any file cannot be read or parsed.
pub fn load_kubeconfig(
    explicit: Option<&Path>,
    kubeconfig_env: Option<&OsStr>,
    home: Option<&Path>,
) -> Result<LoadedKubeconfig> {
    if let Some(path) = explicit {
        if !path.exists() {
            return Err(Error::usage(format!(
                "the kubeconfig {} given with --kubeconfig does not exist",
                path.display()
            )));
        }
        let config = read_kubeconfig(path)?;
        return Ok(LoadedKubeconfig {
            config,
            source: format!("kubeconfig {}", path.display()),
            missing: vec![],
        });
    }
    let from_env: Vec<PathBuf> = kubeconfig_env
        .map(|value| std::env::split_paths(value).filter(|p| !p.as_os_str().is_empty()).collect())
        .unwrap_or_default();
    let (paths, source) = if from_env.is_empty() {
        let Some(home) = home else {
            return Ok(LoadedKubeconfig {
                config: Kubeconfig::default(),
                source: "~/.kube/config".into(),
                missing: vec![PathBuf::from("~/.kube/config")],
            });
        };
        let path = home.join(".kube").join("config");
        let source = format!("kubeconfig {}", path.display());
        (vec![path], source)
    } else {
        let joined =
            std::env::join_paths(&from_env).map(|j| j.to_string_lossy().into_owned()).unwrap_or_default();
        (from_env, format!("$KUBECONFIG ({joined})"))
    };
    let mut merged = Kubeconfig::default();
    let mut missing = Vec::new();
    let mut seen: Vec<&Path> = Vec::new();
    for path in &paths {
        if seen.contains(&path.as_path()) {
            continue;
        }
        seen.push(path);
        if !path.exists() {
            missing.push(path.clone());
            continue;
        }
        merged = merge_first_wins(merged, read_kubeconfig(path)?);
    }
    Ok(LoadedKubeconfig { config: merged, source, missing })
}

/// Read one kubeconfig file; relative file paths inside it are resolved against its directory.
fn read_kubeconfig(path: &Path) -> Result<Kubeconfig> {
    let mut config = Kubeconfig::read_from(path).map_err(|e| {
        Error::usage(format!("cannot read the kubeconfig {}: {}", path.display(), root_cause(&e)))
            .with_source(e)
    })?;
    // client-go treats empty strings as unset; serde keeps them as Some("").
    if config.current_context.as_deref() == Some("") {
        config.current_context = None;
    }
    Ok(config)
}

/// kubectl's merge: the first file to set a key wins, later files only add what is new.
/// Unlike `Kubeconfig::merge`, differing `kind`/`apiVersion` are no error (kubectl ignores them).
fn merge_first_wins(first: Kubeconfig, mut next: Kubeconfig) -> Kubeconfig {
    next.kind = first.kind.clone().or(next.kind);
    next.api_version = first.api_version.clone().or(next.api_version);
    first.merge(next).expect("kind and apiVersion were aligned above")
}

/// Add the per-request deadline and `-vv` request log to kube's default stack.
fn build_client(
    config: kube::Config,
    server: &str,
    request_timeout: Option<Duration>,
) -> std::result::Result<kube::Client, kube::Error> {
    // Ours retries 5xx and connection errors too, within the command's --timeout (kube's own
    // retries only 429/503/504); one retry layer, or the attempts would multiply.
    let mut config = config;
    config.default_retry = false;
    let builder = kube::client::ClientBuilder::try_from(config)?;
    Ok(builder
        .with_layer(&ApiRequestLayer { server: server.to_string(), timeout: request_timeout })
        // A retry sends the request again through a clone of the stack below it.
        .with_layer(&tower::buffer::BufferLayer::new(1024))
        .with_layer(&tower::retry::RetryLayer::new(crate::retry::RetryPolicy::new()))
        .build())
}

/// A request that got no answer within `--request-timeout` (a retry never repeats it).
pub use crate::retry::RequestTimedOut;

/// Tower layer around kube's client stack: applies `--request-timeout` to every request but
/// watches (kubectl's timeout would end a watch; ours wait on purpose and carry their own
/// deadlines), and logs each request with `-vv` (method, URL, status, duration).
#[derive(Clone)]
struct ApiRequestLayer {
    server: String,
    timeout: Option<Duration>,
}

impl<S> tower::Layer<S> for ApiRequestLayer {
    type Service = ApiRequestService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ApiRequestService { inner, server: self.server.clone(), timeout: self.timeout }
    }
}

struct ApiRequestService<S> {
    inner: S,
    server: String,
    timeout: Option<Duration>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S, B, ResB> tower::Service<http::Request<B>> for ApiRequestService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<ResB>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = std::result::Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<std::result::Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = request.method().clone();
        let url = format!("{}{}", self.server, request.uri());
        let is_watch = request.uri().query().is_some_and(|q| q.split('&').any(|kv| kv == "watch=true"));
        let timeout = self.timeout.filter(|_| !is_watch);
        let response = self.inner.call(request);
        Box::pin(async move {
            let started = Instant::now();
            let result = match timeout {
                Some(limit) => match tokio::time::timeout(limit, response).await {
                    Ok(result) => result.map_err(Into::into),
                    Err(_) => Err(Box::new(RequestTimedOut(limit)) as BoxError),
                },
                None => response.await.map_err(Into::into),
            };
            let elapsed = started.elapsed().as_millis();
            match &result {
                Ok(res) => {
                    tracing::trace!(target: "modelroll::api", "{method} {url} {} in {elapsed}ms", res.status())
                }
                Err(err) => {
                    tracing::trace!(target: "modelroll::api", "{method} {url} failed in {elapsed}ms: {err}")
                }
            }
            result
        })
    }
}

/// kubectl's `--request-timeout`: `0` means none; a bare number is seconds.
///
/// # Errors
/// Exit 2 when the text is no duration.
/// How many times a write is tried while others keep changing the object (409 Conflict).
pub const WRITE_ATTEMPTS: usize = 8;

/// The error when [`WRITE_ATTEMPTS`] tries to `verb` (`update`, `create`, `delete`) `what`
/// (`deployment "fraud"`) all met a conflict.
pub fn kept_conflicting(verb: &str, what: &str) -> Error {
    Error::failed(format!(
        "cannot {verb} {what}: it kept changing under us ({WRITE_ATTEMPTS} conflicts); run the command again"
    ))
}

pub fn parse_request_timeout(text: &str) -> Result<Option<Duration>> {
    let text = text.trim();
    if text == "0" {
        return Ok(None);
    }
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Some(Duration::from_secs(seconds)));
    }
    match crate::duration::parse(text) {
        Ok(d) if d.is_zero() => Ok(None),
        Ok(d) => Ok(Some(d)),
        Err(_) => Err(Error::usage(format!(
            "invalid --request-timeout {text:?}: use a duration such as 30s or 1m (0 for none)"
        ))),
    }
}

fn context_suffix(context: Option<&str>) -> String {
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

fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let mut text = String::new();
    let _ = write!(text, "{cause}");
    text
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
    use crate::error::ExitCode;

    #[test]
    fn targets_parse_as_cli_md_lists_them() {
        for text in ["fraud", "deploy/fraud", "deployment/fraud", "deployments.apps/fraud"] {
            assert_eq!(Target::parse(text).unwrap(), Target::Deployment("fraud".into()), "{text}");
        }
        for text in ["ksvc/fraud", "kservice/fraud", "service.serving.knative.dev/fraud"] {
            assert_eq!(Target::parse(text).unwrap(), Target::KnativeService("fraud".into()), "{text}");
        }
        assert_eq!(Target::parse("ksvc/fraud").unwrap().to_string(), "ksvc/fraud");
        assert_eq!(Target::parse("fraud.v2").unwrap().name(), "fraud.v2");
    }

    #[test]
    fn unknown_kinds_and_bad_names_are_usage_errors() {
        for text in ["pod/fraud", "Fraud", "deploy/", "a/b/c", "", "-fraud", "fraud-", "fr_aud"] {
            let err = Target::parse(text).unwrap_err();
            assert_eq!(err.code, ExitCode::Usage, "{text}");
        }
        let err = Target::parse("statefulset/fraud").unwrap_err();
        assert!(err.message.contains("unknown target kind \"statefulset\""), "{}", err.message);
    }

    #[test]
    fn request_timeout_follows_kubectl() {
        assert_eq!(parse_request_timeout("0").unwrap(), None);
        assert_eq!(parse_request_timeout("0s").unwrap(), None);
        assert_eq!(parse_request_timeout("30").unwrap(), Some(Duration::from_secs(30)));
        assert_eq!(parse_request_timeout("1m").unwrap(), Some(Duration::from_secs(60)));
        assert_eq!(parse_request_timeout("1m30s").unwrap(), Some(Duration::from_secs(90)));
        assert_eq!(parse_request_timeout("500ms").unwrap(), Some(Duration::from_millis(500)));
        assert_eq!(parse_request_timeout("soon").unwrap_err().code, ExitCode::Usage);
    }

    // --- kubeconfig resolution, with temporary files ---

    fn kubeconfig(current: Option<&str>, contexts: &[(&str, &str, Option<&str>)], server: &str) -> String {
        let mut text = String::from("apiVersion: v1\nkind: Config\n");
        if let Some(current) = current {
            text.push_str(&format!("current-context: {current}\n"));
        }
        text.push_str("clusters:\n");
        for (_, cluster, _) in contexts {
            text.push_str(&format!("- name: {cluster}\n  cluster:\n    server: {server}\n"));
        }
        text.push_str("users:\n- name: me\n  user:\n    token: secret\n");
        text.push_str("contexts:\n");
        for (name, cluster, namespace) in contexts {
            text.push_str(&format!("- name: {name}\n  context:\n    cluster: {cluster}\n    user: me\n"));
            if let Some(ns) = namespace {
                text.push_str(&format!("    namespace: {ns}\n"));
            }
        }
        text
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn resolve_with(global: &GlobalArgs, env: Option<&OsStr>, home: Option<&Path>) -> Result<Resolved> {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(resolve(global, env, home))
    }

    #[test]
    fn several_kubeconfig_files_merge_first_wins() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(
            dir.path(),
            "a",
            &kubeconfig(
                Some("alpha"),
                &[("alpha", "cluster-a", Some("ns-a")), ("shared", "cluster-a", None)],
                "https://a.example:6443",
            ),
        );
        let b = write(
            dir.path(),
            "b",
            &kubeconfig(
                Some("beta"),
                &[("beta", "cluster-b", Some("ns-b")), ("shared", "cluster-b", Some("ns-shared-b"))],
                "https://b.example:6443",
            ),
        );
        let missing = dir.path().join("not-there");
        let env = std::env::join_paths([&missing, &a, &b]).unwrap();
        let global = GlobalArgs::default();

        let resolved = resolve_with(&global, Some(&env), None).unwrap();
        // current-context from the first file that sets one; its namespace.
        assert_eq!(resolved.context.as_deref(), Some("alpha"));
        assert_eq!(resolved.namespace, "ns-a");
        assert_eq!(resolved.config.cluster_url.to_string(), "https://a.example:6443/");

        // A context only the second file has is reachable with --context.
        let global = GlobalArgs { context: Some("beta".into()), ..Default::default() };
        let resolved = resolve_with(&global, Some(&env), None).unwrap();
        assert_eq!(resolved.namespace, "ns-b");
        assert_eq!(resolved.config.cluster_url.to_string(), "https://b.example:6443/");

        // A context both define: the first file's wins whole (no namespace there -> default).
        let global = GlobalArgs { context: Some("shared".into()), ..Default::default() };
        let resolved = resolve_with(&global, Some(&env), None).unwrap();
        assert_eq!(resolved.namespace, "default");
        assert_eq!(resolved.config.cluster_url.to_string(), "https://a.example:6443/");

        // Reversed order: the other file wins.
        let env = std::env::join_paths([&b, &a]).unwrap();
        let resolved = resolve_with(&GlobalArgs::default(), Some(&env), None).unwrap();
        assert_eq!(resolved.context.as_deref(), Some("beta"));
    }

    #[test]
    fn an_empty_current_context_does_not_shadow_a_later_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(
            dir.path(),
            "a",
            &kubeconfig(Some("\"\""), &[("alpha", "cluster-a", None)], "https://a.example"),
        );
        let b = write(
            dir.path(),
            "b",
            &kubeconfig(Some("beta"), &[("beta", "cluster-b", None)], "https://b.example"),
        );
        let env = std::env::join_paths([&a, &b]).unwrap();
        let resolved = resolve_with(&GlobalArgs::default(), Some(&env), None).unwrap();
        assert_eq!(resolved.context.as_deref(), Some("beta"));
    }

    #[test]
    fn context_flag_picks_a_non_current_context_and_namespace_precedence_holds() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir_all(home.join(".kube")).unwrap();
        write(
            &home.join(".kube"),
            "config",
            &kubeconfig(
                Some("dev"),
                &[("dev", "c1", None), ("prod", "c2", Some("models"))],
                "https://k.example",
            ),
        );
        // No KUBECONFIG: ~/.kube/config; current context has no namespace -> default.
        let resolved = resolve_with(&GlobalArgs::default(), None, Some(&home)).unwrap();
        assert_eq!((resolved.context.as_deref(), resolved.namespace.as_str()), (Some("dev"), "default"));
        // An empty KUBECONFIG counts as unset.
        let resolved = resolve_with(&GlobalArgs::default(), Some(OsStr::new("")), Some(&home)).unwrap();
        assert_eq!(resolved.context.as_deref(), Some("dev"));

        let global = GlobalArgs { context: Some("prod".into()), ..Default::default() };
        let resolved = resolve_with(&global, None, Some(&home)).unwrap();
        assert_eq!((resolved.context.as_deref(), resolved.namespace.as_str()), (Some("prod"), "models"));

        let global =
            GlobalArgs { context: Some("prod".into()), namespace: Some("ml".into()), ..Default::default() };
        let resolved = resolve_with(&global, None, Some(&home)).unwrap();
        assert_eq!(resolved.namespace, "ml");
    }

    #[test]
    fn explicit_kubeconfig_wins_over_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let env_file =
            write(dir.path(), "env", &kubeconfig(Some("env"), &[("env", "c", None)], "https://env.example"));
        let flag_file = write(
            dir.path(),
            "flag",
            &kubeconfig(Some("flag"), &[("flag", "c", None)], "https://flag.example"),
        );
        let global = GlobalArgs { kubeconfig: Some(flag_file), ..Default::default() };
        let resolved = resolve_with(&global, Some(env_file.as_os_str()), None).unwrap();
        assert_eq!(resolved.context.as_deref(), Some("flag"));
    }

    #[test]
    fn missing_kubeconfig_and_unknown_names_are_usage_errors() {
        let dir = tempfile::tempdir().unwrap();
        let global = GlobalArgs { kubeconfig: Some(dir.path().join("nope")), ..Default::default() };
        let err = resolve_with(&global, None, None).err().unwrap();
        assert_eq!(err.code, ExitCode::Usage);
        assert!(err.message.contains("nope") && err.message.contains("does not exist"), "{}", err.message);

        let file = write(
            dir.path(),
            "k",
            &kubeconfig(Some("dev"), &[("dev", "c1", None), ("prod", "c2", None)], "https://k.example"),
        );
        let global = GlobalArgs {
            kubeconfig: Some(file.clone()),
            context: Some("staging".into()),
            ..Default::default()
        };
        let err = resolve_with(&global, None, None).err().unwrap();
        assert_eq!(err.code, ExitCode::Usage);
        assert!(err.message.contains("context \"staging\" is not in"), "{}", err.message);
        assert!(err.message.contains("contexts are: dev, prod"), "{}", err.message);

        let global =
            GlobalArgs { kubeconfig: Some(file.clone()), user: Some("root".into()), ..Default::default() };
        let err = resolve_with(&global, None, None).err().unwrap();
        assert!(err.message.contains("user \"root\" is not in"), "{}", err.message);

        let global = GlobalArgs { kubeconfig: Some(file), cluster: Some("c2".into()), ..Default::default() };
        assert!(resolve_with(&global, None, None).is_ok());

        // Nothing anywhere (and not in a pod).
        if std::env::var_os("KUBERNETES_SERVICE_HOST").is_none() {
            let env = dir.path().join("absent");
            let err = resolve_with(&GlobalArgs::default(), Some(env.as_os_str()), None).err().unwrap();
            assert_eq!(err.code, ExitCode::Usage);
            assert!(
                err.message.starts_with("no cluster configured: no kubeconfig found at"),
                "{}",
                err.message
            );
        }

        let no_current =
            write(dir.path(), "nc", &kubeconfig(None, &[("dev", "c1", None)], "https://k.example"));
        let global = GlobalArgs { kubeconfig: Some(no_current), ..Default::default() };
        let err = resolve_with(&global, None, None).err().unwrap();
        assert!(
            err.message.contains("sets no current-context; pass --context NAME (contexts: dev)"),
            "{}",
            err.message
        );
    }

    // --- API errors ---

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
