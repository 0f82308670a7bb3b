//! `status`: one screen on the model: revisions, images, ready pods, traffic, phase, problems.

use crate::cli::StatusArgs;
use crate::cmd::Context;
use crate::error::{Error, Result};

/// Run `status`.
///
/// # Errors
/// Exit 2 until this command lands.
pub async fn run(_ctx: &Context, _args: StatusArgs) -> Result<()> {
    Err(Error::usage("`status` is not available yet in this build"))
}
