//! `__complete`: kubectl's plugin completion protocol.

use crate::cli::CompleteArgs;
use crate::cmd::Context;
use crate::error::{Error, Result};

/// Run `__complete`.
///
/// # Errors
/// Exit 2 until this command lands.
pub async fn run(_ctx: &Context, _args: CompleteArgs) -> Result<()> {
    Err(Error::usage("`__complete` is not available yet in this build"))
}
