//! Faults for reliability tests, off by default: added latency, a fraction of requests answered
//! 429 (with Retry-After), 500 or 503, watches closed every N seconds or cut at a random moment,
//! a fraction of writes answered 409 Conflict, and restarts (the API server refuses connections
//! for a while, then serves the same state again). A fraction is drawn at random (`0.3`) or
//! strikes exactly one request in N (`1/3`: the 3rd, the 6th…), so that a test can count on a
//! client meeting it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::Method;
use rand::Rng;

use super::errors::ApiError;

/// The faults to inject; `Faults::default()` injects none.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Added to every resource request.
    pub latency: Option<Duration>,
    /// Fraction of resource requests answered 429 Too Many Requests (Retry-After: 1).
    pub too_many_requests: Chance,
    /// Fraction of resource requests answered 500.
    pub internal_error: Chance,
    /// Watches end after this long (clients must re-watch).
    pub watch_close: Option<Duration>,
    /// Fraction of writes (POST/PUT/PATCH/DELETE) answered 409 Conflict.
    pub conflict: Chance,
    /// Fraction of resource requests answered 503 Service Unavailable (an apiserver behind a
    /// load balancer whose backend is gone).
    pub service_unavailable: Chance,
    /// Each watch is cut (the connection dropped mid-stream, no clean end) at a random moment
    /// within this long.
    pub watch_cut: Option<Duration>,
    /// `(up, down)`: after serving for `up`, the API server goes away for `down` (connections
    /// refused, open ones dropped), then serves again with the same objects; and so on.
    pub restart: Option<(Duration, Duration)>,
}

/// A `--faults` part that is not understood.
#[derive(Debug, thiserror::Error)]
pub enum FaultsError {
    #[error("fault {part:?} has no value; use e.g. latency=50ms,429=0.1,500=0.05,503=0.05,watch-close=30s,watch-cut=5s,409=0.1,restart=30s/5s")]
    NoValue { part: String },
    #[error("fault {fault}: {value:?} {source}")]
    Chance { fault: String, value: String, source: ChanceError },
    #[error("fault {fault}: {value:?}: {source}")]
    Duration { fault: String, value: String, source: humantime::DurationError },
    #[error("fault restart: {value:?} is not UP/DOWN, e.g. 30s/5s")]
    Restart { value: String },
    #[error(
        "unknown fault {fault:?}; known faults: latency, 429, 500, 503, watch-close, watch-cut, 409, restart"
    )]
    Unknown { fault: String },
}

/// A chance that is neither a fraction nor `1/N`: the end of a sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChanceError {
    #[error("is not 1/N with N a whole number of at least 1")]
    NotOneInN,
    #[error("is not a fraction between 0 and 1 (or 1/N)")]
    NotAFraction,
}

impl Faults {
    /// Parse `latency=50ms,429=0.1,500=0.05,503=0.05,watch-close=30s,watch-cut=5s,409=0.1,restart=30s/5s`.
    ///
    /// # Errors
    /// A [`FaultsError`] naming the part that is not understood.
    pub fn parse(spec: &str) -> Result<Self, FaultsError> {
        let mut faults = Self::default();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((key, value)) = part.split_once('=') else {
                return Err(FaultsError::NoValue { part: part.to_string() });
            };
            let fraction = || {
                Chance::parse(value).map_err(|source| FaultsError::Chance {
                    fault: key.into(),
                    value: value.into(),
                    source,
                })
            };
            let duration = || {
                humantime::parse_duration(value).map_err(|source| FaultsError::Duration {
                    fault: key.into(),
                    value: value.into(),
                    source,
                })
            };
            match key {
                "latency" => faults.latency = Some(duration()?),
                "429" => faults.too_many_requests = fraction()?,
                "500" => faults.internal_error = fraction()?,
                "409" => faults.conflict = fraction()?,
                "503" => faults.service_unavailable = fraction()?,
                "watch-close" => faults.watch_close = Some(duration()?),
                "watch-cut" => faults.watch_cut = Some(duration()?).filter(|d| !d.is_zero()),
                "restart" => {
                    let bad = || FaultsError::Restart { value: value.to_string() };
                    let (up, down) = value.split_once('/').ok_or_else(bad)?;
                    let up = humantime::parse_duration(up).map_err(|_| bad())?;
                    let down = humantime::parse_duration(down).map_err(|_| bad())?;
                    if up.is_zero() {
                        return Err(bad());
                    }
                    faults.restart = Some((up, down));
                }
                other => return Err(FaultsError::Unknown { fault: other.to_string() }),
            }
        }
        Ok(faults)
    }

    /// Whether any fault is on.
    pub fn any(&self) -> bool {
        *self != Self::default()
    }

    /// The error to answer a resource request with, if this one draws a fault.
    /// A refused write names the object as the API server would (`group`, `resource`, `name`).
    /// `sequence` numbers the requests (`1/N` faults strike every Nth).
    pub fn request_fault(
        &self,
        sequence: &Sequence,
        method: &Method,
        group: &str,
        resource: &str,
        name: &str,
    ) -> Option<ApiError> {
        let write = matches!(*method, Method::POST | Method::PUT | Method::PATCH | Method::DELETE);
        let (request, written) = sequence.next(write);
        if [self.too_many_requests, self.internal_error, self.conflict, self.service_unavailable]
            .iter()
            .all(|c| *c == Chance::Never)
        {
            return None;
        }
        if self.too_many_requests.strikes(request) {
            return Some(ApiError::too_many_requests(1));
        }
        if self.internal_error.strikes(request) {
            return Some(ApiError::internal("injected by playground faults"));
        }
        if self.service_unavailable.strikes(request) {
            return Some(ApiError::service_unavailable(
                "the server is currently unable to handle the request",
            ));
        }
        if write && self.conflict.strikes(written) {
            return Some(ApiError::conflict(group, resource, name));
        }
        None
    }

    /// When to cut a watch that starts now, if watches are cut: a random moment within
    /// `watch_cut` (never at once: a watch that ends before it starts tests nothing).
    pub fn watch_cut_after(&self) -> Option<Duration> {
        let max = self.watch_cut?;
        let millis = u64::try_from(max.as_millis()).unwrap_or(u64::MAX).max(2);
        Some(Duration::from_millis(rand::rng().random_range(1..=millis)))
    }
}

/// How often a fault strikes: never, a fraction of the requests at random, or exactly one in
/// every N (the Nth, the 2Nth…).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Chance {
    #[default]
    Never,
    Fraction(f64),
    OneIn(u64),
}

impl Chance {
    /// `0.3` (a fraction between 0 and 1) or `1/3` (one in three).
    ///
    /// # Errors
    /// A [`ChanceError`]: the end of a sentence that says what is wrong.
    pub fn parse(value: &str) -> Result<Self, ChanceError> {
        if let Some((one, n)) = value.split_once('/') {
            return match (one.trim(), n.trim().parse::<u64>()) {
                ("1", Ok(n)) if n >= 1 => Ok(Self::OneIn(n)),
                _ => Err(ChanceError::NotOneInN),
            };
        }
        match value.parse::<f64>() {
            Ok(0.0) => Ok(Self::Never),
            Ok(f) if (0.0..=1.0).contains(&f) => Ok(Self::Fraction(f)),
            _ => Err(ChanceError::NotAFraction),
        }
    }

    /// Whether the `n`th request (from 0) draws the fault.
    fn strikes(self, n: u64) -> bool {
        match self {
            Self::Never => false,
            Self::Fraction(f) => rand::rng().random::<f64>() < f,
            Self::OneIn(every) => n % every == every - 1,
        }
    }
}

/// Numbers the resource requests (and the writes among them) as they come.
#[derive(Debug, Default)]
pub struct Sequence {
    requests: AtomicU64,
    writes: AtomicU64,
}

impl Sequence {
    /// The number of this request and of the writes so far, counting this one if it writes.
    fn next(&self, write: bool) -> (u64, u64) {
        let request = self.requests.fetch_add(1, Ordering::Relaxed);
        let written = if write {
            self.writes.fetch_add(1, Ordering::Relaxed)
        } else {
            self.writes.load(Ordering::Relaxed)
        };
        (request, written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_cli_spec() {
        let f = Faults::parse("latency=50ms,429=0.1,500=0.05,watch-close=30s,409=0.1").unwrap();
        assert_eq!(f.latency, Some(Duration::from_millis(50)));
        assert_eq!(f.too_many_requests, Chance::Fraction(0.1));
        assert_eq!(f.watch_close, Some(Duration::from_secs(30)));
        let err = Faults::parse("429=2").unwrap_err();
        assert!(
            matches!(&err, FaultsError::Chance { fault, source: ChanceError::NotAFraction, .. } if fault == "429")
        );
        assert_eq!(err.to_string(), "fault 429: \"2\" is not a fraction between 0 and 1 (or 1/N)");
        assert!(matches!(
            Faults::parse("429=2/3"),
            Err(FaultsError::Chance { source: ChanceError::NotOneInN, .. })
        ));
        let err = Faults::parse("slow=1").unwrap_err();
        assert!(matches!(&err, FaultsError::Unknown { fault } if fault == "slow"));
        assert_eq!(
            err.to_string(),
            "unknown fault \"slow\"; known faults: latency, 429, 500, 503, watch-close, watch-cut, 409, restart"
        );
        assert!(matches!(Faults::parse("latency"), Err(FaultsError::NoValue { part }) if part == "latency"));
        assert!(matches!(Faults::parse("latency=soon"), Err(FaultsError::Duration { .. })));
        let err = Faults::parse("restart=0s/5s").unwrap_err();
        assert_eq!(err.to_string(), "fault restart: \"0s/5s\" is not UP/DOWN, e.g. 30s/5s");
        assert!(!Faults::default().any());
        let seq = Sequence::default();
        assert!(Faults::default().request_fault(&seq, &Method::POST, "apps", "deployments", "x").is_none());
        let always = Faults::parse("409=1").unwrap();
        assert_eq!(always.request_fault(&seq, &Method::GET, "apps", "deployments", "x"), None);
        let err = always.request_fault(&seq, &Method::PATCH, "apps", "deployments", "x").unwrap();
        assert_eq!(err.message, "Operation cannot be fulfilled on deployments.apps \"x\": the object has been modified; please apply your changes to the latest version and try again");
        let f = Faults::parse("503=1,watch-cut=2s,restart=20s/3s").unwrap();
        assert_eq!(f.restart, Some((Duration::from_secs(20), Duration::from_secs(3))));
        assert_eq!(f.request_fault(&seq, &Method::GET, "", "pods", "").map(|e| e.code), Some(503));
        let cut = f.watch_cut_after().unwrap();
        assert!(!cut.is_zero() && cut <= Duration::from_secs(2), "{cut:?}");
        assert!(Faults::parse("restart=5s").is_err());
        assert!(Faults::parse("restart=0s/1s").is_err());
    }

    #[test]
    fn one_in_n_strikes_every_nth_request_and_write() {
        assert_eq!(Chance::parse("1/3"), Ok(Chance::OneIn(3)));
        assert_eq!(Chance::parse("0"), Ok(Chance::Never));
        assert!(
            Chance::parse("2/3").is_err() && Chance::parse("1/0").is_err() && Chance::parse("1.5").is_err()
        );
        let seq = Sequence::default();
        let f = Faults::parse("429=1/3,409=1/2").unwrap();
        let codes: Vec<Option<u16>> =
            (0..6).map(|_| f.request_fault(&seq, &Method::GET, "", "pods", "").map(|e| e.code)).collect();
        assert_eq!(codes, [None, None, Some(429), None, None, Some(429)]);
        // Writes are counted apart: every 2nd write conflicts (unless it drew a 429 first).
        let seq = Sequence::default();
        let f = Faults::parse("409=1/2").unwrap();
        let codes: Vec<Option<u16>> = (0..4)
            .flat_map(|_| {
                [
                    f.request_fault(&seq, &Method::GET, "apps", "deployments", "x"),
                    f.request_fault(&seq, &Method::PUT, "apps", "deployments", "x"),
                ]
            })
            .map(|e| e.map(|e| e.code))
            .collect();
        assert_eq!(codes, [None, None, None, Some(409), None, None, None, Some(409)]);
        assert!(Faults::parse("500=1/4").unwrap().any());
    }
}
