//! `completion`: print a shell completion script.

use crate::cli::CompletionArgs;
use crate::cmd::Context;
use crate::error::{Error, Result};

/// Run `completion`.
///
/// # Errors
/// Exit 2 until this command lands.
pub fn run(_ctx: &Context, _args: CompletionArgs) -> Result<()> {
    Err(Error::usage("`completion` is not available yet in this build"))
}
