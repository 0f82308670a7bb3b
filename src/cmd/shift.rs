//! `shift`: move traffic to the canary.

use crate::cli::ShiftArgs;
use crate::cmd::Context;
use crate::error::{Error, Result};

/// Run `shift`.
///
/// # Errors
/// Exit 2 until this command lands.
pub async fn run(_ctx: &Context, _args: ShiftArgs) -> Result<()> {
    Err(Error::usage("`shift` is not available yet in this build"))
}
