//! Connects to the user's cluster the way kubectl does: the kubeconfig chosen as kubectl chooses
//! it (`kubeconfig.rs`), a client whose stack applies `--request-timeout`, logs requests and
//! retries what the cluster could not answer (`retry.rs`), targets (`target.rs`) and API errors
//! as one plain sentence with the right exit code (`api_error.rs`).

mod api_error;
mod kubeconfig;
mod target;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use crate::cli::GlobalArgs;
use crate::error::{Error, Result};

pub use api_error::api_error;
use api_error::{context_suffix, root_cause};
use kubeconfig::home_dir;
pub use kubeconfig::{load_kubeconfig, resolve, LoadedKubeconfig, Resolved, Selection};
pub use target::Target;

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
    /// Until when the clients' requests are retried, and whether the server answered yet (shared by both).
    retry_budget: crate::retry::RetryBudget,
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
        let retry_budget = crate::retry::RetryBudget::default();
        let client =
            build_client(kube_config, &server, request_timeout, &retry_budget).map_err(setup_failed)?;
        let proxy_client =
            build_client(no_retries, &server, request_timeout, &retry_budget).map_err(setup_failed)?;
        Ok(Self { client, proxy_client, namespace, context, server, retry_budget })
    }

    /// A cluster of `client` as it is (tests that build their own client stack).
    pub fn of_client(client: kube::Client, namespace: &str) -> Self {
        Self {
            proxy_client: client.clone(),
            client,
            namespace: namespace.to_string(),
            context: None,
            server: "https://test".to_string(),
            retry_budget: crate::retry::RetryBudget::default(),
        }
    }

    /// Retry unanswered requests until the command's `--timeout` from now runs out, rather than
    /// for the default minute from each request's first failure.
    pub fn retry_within(&self, timeout: Duration) {
        self.retry_budget.set(tokio::time::Instant::now() + timeout);
    }

    /// Turn a kube error on `what` (e.g. `get deployment "fraud"`) into a user-facing error.
    pub fn api_error(&self, err: kube::Error, what: &str) -> Error {
        api_error(err, what, &self.server, self.context.as_deref(), &self.namespace)
    }
}

/// Add the per-request deadline and `-vv` request log to kube's default stack.
fn build_client(
    config: kube::Config,
    server: &str,
    request_timeout: Option<Duration>,
    retry_budget: &crate::retry::RetryBudget,
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
        .with_layer(&tower::retry::RetryLayer::new(crate::retry::RetryPolicy::new(retry_budget.clone())))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ExitCode;

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
}
