//! `set-image`: rolling update of the model's image(s), with progress.

use crate::cli::SetImageArgs;
use crate::cmd::Context;
use crate::error::{Error, Result};

/// Run `set-image`.
///
/// # Errors
/// Exit 2 until this command lands.
pub async fn run(_ctx: &Context, _args: SetImageArgs) -> Result<()> {
    Err(Error::usage("`set-image` is not available yet in this build"))
}
