//! `undo`: roll back to an earlier revision, with progress.

use crate::cli::UndoArgs;
use crate::cmd::Context;
use crate::error::{Error, Result};

/// Run `undo`.
///
/// # Errors
/// Exit 2 until this command lands.
pub async fn run(_ctx: &Context, _args: UndoArgs) -> Result<()> {
    Err(Error::usage("`undo` is not available yet in this build"))
}
