//! `demo`: the whole lifecycle on an in-process playground, narrated.

use crate::cli::DemoArgs;
use crate::cmd::Context;
use crate::error::{Error, Result};

/// Run `demo`.
///
/// # Errors
/// Exit 2 until this command lands.
pub async fn run(_ctx: &Context, _args: DemoArgs) -> Result<()> {
    Err(Error::usage("`demo` is not available yet in this build"))
}
