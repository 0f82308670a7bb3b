//! `promote`: make the canary the new stable and clean up.

use crate::cli::PromoteArgs;
use crate::cmd::Context;
use crate::error::{Error, Result};

/// Run `promote`.
///
/// # Errors
/// Exit 2 until this command lands.
pub async fn run(_ctx: &Context, _args: PromoteArgs) -> Result<()> {
    Err(Error::usage("`promote` is not available yet in this build"))
}
