//! `history`: the model's revisions.

use crate::cli::HistoryArgs;
use crate::cmd::Context;
use crate::error::{Error, Result};

/// Run `history`.
///
/// # Errors
/// Exit 2 until this command lands.
pub async fn run(_ctx: &Context, _args: HistoryArgs) -> Result<()> {
    Err(Error::usage("`history` is not available yet in this build"))
}
