//! `abort`: send all traffic back to stable and remove the canary.

use crate::cli::AbortArgs;
use crate::cmd::Context;
use crate::error::{Error, Result};

/// Run `abort`.
///
/// # Errors
/// Exit 2 until this command lands.
pub async fn run(_ctx: &Context, _args: AbortArgs) -> Result<()> {
    Err(Error::usage("`abort` is not available yet in this build"))
}
