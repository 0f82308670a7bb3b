//! The program's error: what failed, in one sentence, and the exit code CLI.md gives it.

use std::fmt;

/// Exit codes of `../shared/CLI.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// 0: done.
    Ok = 0,
    /// 1: the operation failed in the cluster (rollout failed, unreachable, forbidden, ...).
    Failed = 1,
    /// 2: bad usage or input (bad flag, bad weight, target not found, router not available).
    Usage = 2,
    /// 3: a metric check failed and the change was rolled back (or held at weight 0).
    CheckFailed = 3,
    /// 130: interrupted.
    Interrupted = 130,
}

/// An error that ends the command: a plain sentence for the user, an exit code, and the cause
/// chain (shown with `-v`).
#[derive(Debug)]
pub struct Error {
    pub code: ExitCode,
    pub message: String,
    pub source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Bad usage or input: exit 2, nothing was changed.
    pub fn usage(message: impl Into<String>) -> Self {
        Self { code: ExitCode::Usage, message: message.into(), source: None }
    }

    /// The operation failed in the cluster: exit 1.
    pub fn failed(message: impl Into<String>) -> Self {
        Self { code: ExitCode::Failed, message: message.into(), source: None }
    }

    /// A metric check failed and the change was undone (or held at weight 0): exit 3.
    pub fn check_failed(message: impl Into<String>) -> Self {
        Self { code: ExitCode::CheckFailed, message: message.into(), source: None }
    }

    /// The user interrupted a wait: exit 130.
    pub fn interrupted(message: impl Into<String>) -> Self {
        Self { code: ExitCode::Interrupted, message: message.into(), source: None }
    }

    /// Ctrl-C as the normal way out of a command that runs until interrupted (`status --watch`,
    /// as `kubectl get -w`): exit 130 and no "error:" line.
    pub fn interrupted_quietly() -> Self {
        Self { code: ExitCode::Interrupted, message: String::new(), source: None }
    }

    /// Keep `source` as the cause shown with `-v`.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The message followed by every cause, one per line (for `-v`).
    pub fn chain(&self) -> String {
        let mut out = self.message.clone();
        let mut cause: Option<&(dyn std::error::Error + 'static)> =
            self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static));
        while let Some(c) = cause {
            // kube prints an API error with a debug dump of its Status; the Status says it plainly.
            if let Some(kube::Error::Api(status)) = c.downcast_ref::<kube::Error>() {
                out.push_str(&format!(
                    "\n  caused by: the API server answered {} {}: {}",
                    status.code, status.reason, status.message
                ));
                break;
            }
            out.push_str(&format!("\n  caused by: {c}"));
            cause = c.source();
        }
        out
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// The errors of pure checks (`rollout/`) that are bad input wherever they surface: exit 2,
/// their sentence as the message. Errors whose exit code depends on where they come from (a
/// strategy on the command line, or one read from the cluster) are converted by their callers.
macro_rules! usage_errors {
    ($($error:ty),* $(,)?) => {$(
        impl From<$error> for Error {
            fn from(error: $error) -> Self {
                Self::usage(error.to_string())
            }
        }
    )*};
}

usage_errors!(
    crate::rollout::image::AssignmentError,
    crate::rollout::image::ContainerError,
    crate::rollout::canary::ImagesError,
    crate::rollout::revision::UndoError,
    crate::rollout::weights::WeightError,
    crate::rollout::weights::StepsError,
    crate::rollout::waves::ContextsError,
    crate::rollout::state::InvalidState,
    crate::rollout::model_ready::GateError,
);
