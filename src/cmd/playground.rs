//! `playground`: serve a simulated cluster on loopback.

use crate::cli::PlaygroundArgs;
use crate::cmd::Context;
use crate::error::{Error, Result};

/// Run `playground`.
///
/// # Errors
/// Exit 2 until this command lands.
pub async fn run(_ctx: &Context, _args: PlaygroundArgs) -> Result<()> {
    Err(Error::usage("`playground` is not available yet in this build"))
}
