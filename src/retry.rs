//! Retries of API requests the cluster could not answer: 429 (after its Retry-After), 5xx and
//! connection errors (an API server restarting, a load balancer dropping connections), with
//! exponential backoff, for as long as the command's `--timeout` allows.
//!
//! It sits in the client's tower stack ([`RetryLayer`]), so every request of every command gets
//! it; the watchers re-establish cut watches themselves with their own backoff. A write retried
//! after its first attempt was applied meets a 409 (or finds its change made), which the
//! commands' conflict handling already resolves by reading again.

use std::sync::Mutex;
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

/// The end of the command's `--timeout`: no retry waits past it.
static DEADLINE: Mutex<Option<Instant>> = Mutex::new(None);

/// Retry until `deadline` (the command's `--timeout` from now), not the default minute.
pub fn retry_until(deadline: Instant) {
    *DEADLINE.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(deadline);
}

fn deadline(started: Instant) -> Instant {
    DEADLINE.lock().unwrap_or_else(std::sync::PoisonError::into_inner).unwrap_or(started + DEFAULT_BUDGET)
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

/// Whether a failed request (no answer at all) may be tried again: the connection was refused,
/// reset or closed before the answer, as when the API server restarts.
fn transient(err: &BoxError) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err.as_ref());
    while let Some(current) = cause {
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
        // An io::Error's `source()` skips the error it wraps (TLS and timeout connectors wrap the
        // refused connection's io::Error in another one): look inside it first.
        let wrapped = current.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref());
        cause = match wrapped {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => current.source(),
        };
    }
    false
}

/// The retry policy of every request (see the module documentation).
#[derive(Clone)]
pub struct RetryPolicy {
    attempt: u32,
    /// When the request first failed (each request gets a fresh copy of the policy).
    first_failure: Option<Instant>,
}

impl RetryPolicy {
    pub fn new() -> Self {
        Self { attempt: 0, first_failure: None }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::new()
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
        let retry_after = match result {
            Ok(response) if retryable_status(response.status().as_u16()) => response
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
            Ok(_) => return None,
            Err(err) if transient(err) => None,
            Err(_) => return None,
        };
        self.attempt += 1;
        // The server's Retry-After is honoured as given; our own backoff is jittered.
        let wait = match retry_after {
            Some(_) => backoff(self.attempt, retry_after),
            None => jittered(backoff(self.attempt, None)),
        };
        let first_failure = *self.first_failure.get_or_insert_with(Instant::now);
        if Instant::now() + wait > deadline(first_failure) {
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
}
