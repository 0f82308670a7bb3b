//! Retries of API requests the cluster could not answer: 429 (after its Retry-After), 5xx and
//! connection errors (an API server restarting, a load balancer dropping connections), with
//! exponential backoff, for as long as the command's `--timeout` allows.
//!
//! It sits in the client's tower stack ([`RetryLayer`]), so every request of every command gets
//! it; the watchers re-establish cut watches themselves with their own backoff. A write retried
//! after its first attempt was applied meets a 409 (or finds its change made), which the
//! commands' conflict handling already resolves by reading again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response};
use kube::client::Body;
use tokio::time::Instant;
use tower::retry::Policy;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long requests are retried when no command deadline is set (reads, `status`).
const DEFAULT_BUDGET: Duration = Duration::from_secs(60);

/// First wait between attempts; doubled each time up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// What every request of one client (one [`crate::cluster::Cluster`]) shares with the others'
/// retry policies: the end of the command's `--timeout` (no retry waits past it; unset, a request
/// is retried for [`DEFAULT_BUDGET`] from its first failure), and whether the API server has
/// answered yet. A refused connection is retried only once it has: then the server is
/// restarting; before, it is not there at all (a wrong port, a cluster that is down), and the
/// user hears so at once, as from kubectl.
#[derive(Clone, Default)]
pub struct RetryBudget(Arc<Shared>);

#[derive(Default)]
struct Shared {
    until: Mutex<Option<Instant>>,
    answered: AtomicBool,
}

impl RetryBudget {
    /// Retry until `deadline` (the command's `--timeout` from now), not the default minute.
    pub fn set(&self, deadline: Instant) {
        *self.0.until.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(deadline);
    }

    /// When a request that first failed at `first_failure` stops being retried.
    fn of(&self, first_failure: Instant) -> Instant {
        self.0
            .until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .unwrap_or(first_failure + DEFAULT_BUDGET)
    }

    fn answered(&self) -> bool {
        self.0.answered.load(Ordering::Relaxed)
    }

    fn note_answer(&self) {
        self.0.answered.store(true, Ordering::Relaxed);
    }
}

/// Whether an answer with this status is worth another attempt: the server was busy (429) or
/// failed, or something between us and it did (5xx but 501 Not Implemented).
pub fn retryable_status(status: u16) -> bool {
    status == 429 || (500..600).contains(&status) && status != 501
}

/// How long to wait before attempt `attempt + 1` (the first retry is attempt 1): the server's
/// Retry-After when it gave one, else exponential backoff from [`FIRST_BACKOFF`] to
/// [`MAX_BACKOFF`].
pub fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    retry_after.unwrap_or_else(|| {
        FIRST_BACKOFF.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1))).min(MAX_BACKOFF)
    })
}

/// `wait` shortened by a random part of up to half, so that retries of many clients (or one
/// client's retries against an API server that comes and goes at a steady beat) do not fall
/// in step: a retry every 2s against a server down 1s of every 2s can miss it forever.
pub fn jittered(wait: Duration) -> Duration {
    wait.mul_f64(rand::random_range(0.5..=1.0))
}

/// The error and its causes, outermost first. An io::Error's `source()` skips the error it wraps
/// (TLS and timeout connectors wrap the refused connection's io::Error in another one), so the
/// wrapped one is looked at first.
fn causes(err: &BoxError) -> impl Iterator<Item = &(dyn std::error::Error + 'static)> {
    let outermost: &(dyn std::error::Error + 'static) = err.as_ref();
    std::iter::successors(Some(outermost), |current| {
        match current.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => current.source(),
        }
    })
}

/// Whether a failed request (no answer at all) may be tried again: the connection was refused,
/// reset or closed before the answer, as when the API server restarts.
fn transient(err: &BoxError) -> bool {
    for current in causes(err) {
        if current.is::<RequestTimedOut>() {
            // The user's --request-timeout: theirs to decide, not ours to stretch.
            return false;
        }
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            if matches!(
                io.kind(),
                ConnectionRefused
                    | ConnectionReset
                    | ConnectionAborted
                    | BrokenPipe
                    | UnexpectedEof
                    | NotConnected
            ) {
                return true;
            }
        }
        if let Some(hyper) = current.downcast_ref::<hyper::Error>() {
            if hyper.is_incomplete_message() || hyper.is_canceled() || hyper.is_closed() {
                return true;
            }
        }
    }
    false
}

/// Whether the connection was refused (as opposed to cut or reset once made).
fn refused(err: &BoxError) -> bool {
    causes(err).any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
    })
}

/// The retry policy of every request (see the module documentation).
#[derive(Clone)]
pub struct RetryPolicy {
    attempt: u32,
    /// When the request first failed (each request gets a fresh copy of the policy).
    first_failure: Option<Instant>,
    /// The command's deadline, shared by every copy.
    budget: RetryBudget,
}

impl RetryPolicy {
    /// The policy of one request of the client that shares `budget` (see [`RetryBudget::set`]).
    pub fn new(budget: RetryBudget) -> Self {
        Self { attempt: 0, first_failure: None, budget }
    }
}

impl<Res> Policy<Request<Body>, Response<Res>, BoxError> for RetryPolicy {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        request: &mut Request<Body>,
        result: &mut Result<Response<Res>, BoxError>,
    ) -> Option<Self::Future> {
        // Through the proxy subresource the answer is the pod's or the Service's (a model
        // server's 503 while it loads), not the API server's: the caller judges it.
        if request.uri().path().split('/').any(|segment| segment == "proxy") {
            return None;
        }
        if result.is_ok() {
            self.budget.note_answer();
        }
        let retry_after = match result {
            Ok(response) if retryable_status(response.status().as_u16()) => response
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
            Ok(_) => return None,
            // A refused connection before any answer: nothing is listening there.
            Err(err) if transient(err) && (self.budget.answered() || !refused(err)) => None,
            Err(_) => return None,
        };
        self.attempt += 1;
        // The server's Retry-After is honoured as given; our own backoff is jittered.
        let wait = match retry_after {
            Some(_) => backoff(self.attempt, retry_after),
            None => jittered(backoff(self.attempt, None)),
        };
        let first_failure = *self.first_failure.get_or_insert_with(Instant::now);
        if Instant::now() + wait > self.budget.of(first_failure) {
            return None;
        }
        tracing::debug!(
            "{} {} failed ({}); trying again in {}ms",
            request.method(),
            request.uri(),
            match result {
                Ok(response) => response.status().to_string(),
                Err(err) => err.to_string(),
            },
            wait.as_millis()
        );
        Some(tokio::time::sleep(wait))
    }

    fn clone_request(&mut self, request: &Request<Body>) -> Option<Request<Body>> {
        // Streaming bodies cannot be sent twice; every body this program sends can.
        let body = request.body().try_clone()?;
        let mut copy = Request::builder().method(request.method().clone()).uri(request.uri().clone());
        if let Some(headers) = copy.headers_mut() {
            headers.extend(request.headers().clone());
        }
        let mut copy = copy.body(body).ok()?;
        *copy.extensions_mut() = request.extensions().clone();
        Some(copy)
    }
}

/// A request that got no answer within `--request-timeout`.
#[derive(Debug, thiserror::Error)]
#[error("no answer within {}", humantime::format_duration(*.0))]
pub struct RequestTimedOut(pub Duration);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_and_failing_servers_are_retried_with_backoff_or_their_retry_after() {
        for status in [429, 500, 502, 503, 504] {
            assert!(retryable_status(status), "{status}");
        }
        for status in [200, 400, 401, 403, 404, 409, 422, 501] {
            assert!(!retryable_status(status), "{status}");
        }
        let waits: Vec<u128> = (1..=7).map(|n| backoff(n, None).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(backoff(1, Some(Duration::from_secs(3))), Duration::from_secs(3));
        for _ in 0..100 {
            let wait = jittered(Duration::from_secs(2));
            assert!((Duration::from_secs(1)..=Duration::from_secs(2)).contains(&wait), "{wait:?}");
        }
    }

    #[test]
    fn refused_and_cut_connections_are_transient_timeouts_are_not() {
        let refused: BoxError = Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(transient(&refused));
        let denied: BoxError = Box::new(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
        assert!(!transient(&denied));
        // As a TLS connector reports it: an io::Error of kind Other around the refused one.
        let wrapped: BoxError =
            Box::new(std::io::Error::other(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)));
        assert!(transient(&wrapped));
        let timed_out: BoxError = Box::new(RequestTimedOut(Duration::from_secs(1)));
        assert!(!transient(&timed_out));
    }

    fn get() -> Request<Body> {
        Request::get("/api/v1/namespaces/ml/pods").body(Body::empty()).unwrap()
    }

    fn refused_connection() -> Result<Response<()>, BoxError> {
        Err(Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)))
    }

    fn answer(status: u16) -> Result<Response<()>, BoxError> {
        Ok(Response::builder().status(status).body(()).unwrap())
    }

    #[tokio::test]
    async fn a_refused_connection_is_retried_only_once_the_server_has_answered() {
        let budget = RetryBudget::default();
        // Never answered: a wrong port or a cluster that is down, told at once.
        assert!(RetryPolicy::new(budget.clone()).retry(&mut get(), &mut refused_connection()).is_none());
        // Any answer of the same client, even a refusal, shows the server is there...
        assert!(RetryPolicy::new(budget.clone()).retry(&mut get(), &mut answer(404)).is_none());
        // ...so a refused connection now is a restart, waited out.
        assert!(RetryPolicy::new(budget.clone()).retry(&mut get(), &mut refused_connection()).is_some());
        // Another client has heard nothing.
        assert!(RetryPolicy::new(RetryBudget::default())
            .retry(&mut get(), &mut refused_connection())
            .is_none());
        // A connection cut once made (a load balancer, a TLS handshake cut off) is retried at once.
        let mut reset: Result<Response<()>, BoxError> =
            Err(Box::new(std::io::Error::other(std::io::Error::from(std::io::ErrorKind::ConnectionReset))));
        assert!(RetryPolicy::new(RetryBudget::default()).retry(&mut get(), &mut reset).is_some());
        let mut wrapped: Result<Response<()>, BoxError> =
            Err(Box::new(std::io::Error::other(std::io::Error::from(std::io::ErrorKind::ConnectionRefused))));
        assert!(RetryPolicy::new(RetryBudget::default()).retry(&mut get(), &mut wrapped).is_none());
    }

    #[tokio::test]
    async fn no_retry_waits_past_the_commands_deadline_and_each_client_has_its_own() {
        let ended = RetryBudget::default();
        ended.set(Instant::now());
        assert!(RetryPolicy::new(ended.clone()).retry(&mut get(), &mut answer(503)).is_none());
        // Unset, a busy server is retried for the default budget.
        let other = RetryBudget::default();
        assert!(RetryPolicy::new(other.clone()).retry(&mut get(), &mut answer(503)).is_some());
        other.set(Instant::now() + Duration::from_secs(600));
        assert!(RetryPolicy::new(other).retry(&mut get(), &mut answer(503)).is_some());
    }
}
