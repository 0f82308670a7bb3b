//! `list`: every model under modelroll's care.

use crate::cli::ListArgs;
use crate::cmd::Context;
use crate::error::{Error, Result};

/// Run `list`.
///
/// # Errors
/// Exit 2 until this command lands.
pub async fn run(_ctx: &Context, _args: ListArgs) -> Result<()> {
    Err(Error::usage("`list` is not available yet in this build"))
}
