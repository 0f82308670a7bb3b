//! One operation at a time per model: who holds a model's operation lease, whether it is still
//! alive, and the sentence that names the holder. The lease itself (a `coordination.k8s.io/v1`
//! Lease in the model's namespace) is read and written by `crate::lock`; this module decides.

use std::time::Duration;

use jiff::Timestamp;

/// How long a lease lives without renewal. The holder renews it every [`RENEW_EVERY`]; a holder
/// killed without a chance to release it (SIGKILL, a lost laptop) blocks the model this long
/// from other machines (on its own machine a dead holder's lease is taken over at once).
///
/// Renewals are per time, not per pod: a lease that must run out within this long after a crash
/// has to be renewed at least once in each such stretch of a running command, so their count
/// grows with how long the command runs (not with how many pods it rolls out). 30 s (client-go's leader election
/// uses 15 s) halves that count against 15 s and still frees a crashed command's model within
/// half a minute; a longer lease also bears more clock skew between two users' machines, since
/// the one reading it judges expiry by its own clock.
pub const LEASE_DURATION: Duration = Duration::from_secs(30);

/// How often a running command renews its lease: three renewals fit in one duration, so one or
/// two failed renewals (a 5xx, a restarting API server) do not lose it.
pub const RENEW_EVERY: Duration = Duration::from_secs(10);

/// Annotation on the lease: the command holding it (`shift`).
pub const OPERATION_ANNOTATION: &str = "modelroll.io/operation";
/// Annotation on the lease: who runs it (`alice@laptop`).
pub const HOLDER_ANNOTATION: &str = "modelroll.io/holder";

/// The lease of a model: `modelroll-deployment-fraud`, `modelroll-ksvc-fraud`. A Deployment and a
/// ksvc of the same name are different models and get different leases.
pub fn lease_name(kind: &str, name: &str) -> String {
    format!("modelroll-{kind}-{name}")
}

/// What the lease says, as far as the decision goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRecord {
    /// `spec.holderIdentity`: unique per running command; empty when released.
    pub holder_identity: String,
    /// The command (`shift`), from [`OPERATION_ANNOTATION`].
    pub operation: String,
    /// `alice@laptop`, from [`HOLDER_ANNOTATION`].
    pub holder: String,
    /// `spec.acquireTime`: since when the holder has it.
    pub acquired: Option<Timestamp>,
    /// `spec.renewTime`: when the holder last said it is alive.
    pub renewed: Option<Timestamp>,
    /// `spec.leaseDurationSeconds`.
    pub duration_seconds: Option<i32>,
}

impl LeaseRecord {
    /// When the lease stops protecting its holder: `renewTime + leaseDurationSeconds`, as
    /// client-go's leader election reads a Lease. A lease without either is already expired.
    pub fn expires(&self) -> Option<Timestamp> {
        let renewed = self.renewed.or(self.acquired)?;
        let seconds = i64::from(self.duration_seconds?.max(0));
        renewed.checked_add(jiff::SignedDuration::from_secs(seconds)).ok()
    }
}

/// What to do about a model's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No lease: create it.
    Create,
    /// A lease no one holds (released, or its holder stopped renewing it): take it over.
    TakeOver,
    /// Someone else's operation is in progress: refuse.
    Held,
}

/// Decide about `lease` (None: there is none) at `now`. `holder_gone`: the holder is known to
/// be dead (a process of this machine that no longer exists), so the lease need not run out
/// first: re-running a command right after killing it works at once on the same machine.
pub fn verdict(lease: Option<&LeaseRecord>, now: Timestamp, holder_gone: bool) -> Verdict {
    let Some(lease) = lease else { return Verdict::Create };
    if lease.holder_identity.is_empty() || holder_gone {
        return Verdict::TakeOver;
    }
    match lease.expires() {
        Some(expires) if expires > now => Verdict::Held,
        _ => Verdict::TakeOver,
    }
}

/// The identity of a holder: `user@host/pid/nonce`, unique per running command.
pub fn identity(holder: &str, pid: u32, nonce: &str) -> String {
    format!("{holder}/{pid}/{nonce}")
}

/// The host and process id in an identity written by [`identity`] (None for other writers').
pub fn host_and_pid(identity: &str) -> Option<(&str, u32)> {
    let mut parts = identity.rsplitn(3, '/');
    let _nonce = parts.next()?;
    let pid = parts.next()?.parse().ok()?;
    let host = parts.next()?.rsplit_once('@')?.1;
    Some((host, pid))
}

/// The refusal, in the words of Helm's "another operation is in progress": the command, who
/// runs it, since when, and what to do.
pub fn refusal(model: &str, lease_name: &str, lease: &LeaseRecord, now: Timestamp) -> String {
    let operation = if lease.operation.is_empty() { "an operation" } else { lease.operation.as_str() };
    let holder = if lease.holder.is_empty() { lease.holder_identity.as_str() } else { lease.holder.as_str() };
    let since = match lease.acquired {
        Some(at) => format!(
            " since {} ({} ago)",
            at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            crate::rollout::progress::short_duration(now.duration_since(at).unsigned_abs())
        ),
        None => String::new(),
    };
    let expires = match lease.expires() {
        Some(at) => format!(" (at {} if it is not renewed)", at.strftime("%Y-%m-%dT%H:%M:%SZ")),
        None => String::new(),
    };
    format!(
        "another operation is in progress on {model}: `{operation}` by {holder}{since}; wait for it to finish and run the command again. If that command was killed, its lease {lease_name:?} expires on its own{expires}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn held(renewed: &str) -> LeaseRecord {
        LeaseRecord {
            holder_identity: "alice@laptop/1234/abc".into(),
            operation: "shift".into(),
            holder: "alice@laptop".into(),
            acquired: Some(at("2026-01-01T10:00:00Z")),
            renewed: Some(at(renewed)),
            duration_seconds: Some(15),
        }
    }

    #[test]
    fn a_lease_is_held_until_renew_time_plus_duration() {
        let lease = held("2026-01-01T10:00:10Z");
        assert_eq!(verdict(None, at("2026-01-01T10:00:00Z"), false), Verdict::Create);
        assert_eq!(verdict(Some(&lease), at("2026-01-01T10:00:24Z"), false), Verdict::Held);
        // Expired at exactly renewTime + leaseDurationSeconds.
        assert_eq!(verdict(Some(&lease), at("2026-01-01T10:00:25Z"), false), Verdict::TakeOver);
        // A holder known dead does not block until then.
        assert_eq!(verdict(Some(&lease), at("2026-01-01T10:00:11Z"), true), Verdict::TakeOver);
        let released = LeaseRecord { holder_identity: String::new(), ..lease.clone() };
        assert_eq!(verdict(Some(&released), at("2026-01-01T10:00:11Z"), false), Verdict::TakeOver);
        // No renewTime: the acquire time counts; neither: expired.
        let unrenewed = LeaseRecord { renewed: None, ..lease.clone() };
        assert_eq!(verdict(Some(&unrenewed), at("2026-01-01T10:00:14Z"), false), Verdict::Held);
        let timeless = LeaseRecord { renewed: None, acquired: None, ..lease };
        assert_eq!(verdict(Some(&timeless), at("2026-01-01T10:00:00Z"), false), Verdict::TakeOver);
    }

    #[test]
    fn the_refusal_names_command_holder_and_since_when() {
        let lease = held("2026-01-01T10:00:30Z");
        let text =
            refusal("deployment/fraud", "modelroll-deployment-fraud", &lease, at("2026-01-01T10:00:42Z"));
        assert_eq!(
            text,
            "another operation is in progress on deployment/fraud: `shift` by alice@laptop since 2026-01-01T10:00:00Z (42s ago); wait for it to finish and run the command again. If that command was killed, its lease \"modelroll-deployment-fraud\" expires on its own (at 2026-01-01T10:00:45Z if it is not renewed)"
        );
        assert_eq!(lease_name("ksvc", "fraud"), "modelroll-ksvc-fraud");
        let id = identity("alice@build/7", 4242, "ab12cd34");
        assert_eq!(host_and_pid(&id), Some(("build/7", 4242)));
        assert_eq!(host_and_pid("kube-controller-manager_1b2c"), None);
    }
}
