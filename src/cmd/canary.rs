//! `canary`: start a canary of a new model version.

use crate::cli::CanaryArgs;
use crate::cmd::Context;
use crate::error::{Error, Result};

/// Run `canary`.
///
/// # Errors
/// Exit 2 until this command lands.
pub async fn run(_ctx: &Context, _args: CanaryArgs) -> Result<()> {
    Err(Error::usage("`canary` is not available yet in this build"))
}
