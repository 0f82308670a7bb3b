//! `version`: version, git commit and build target.

use serde::Serialize;

use crate::cli::{VersionArgs, WriteOutput};
use crate::cmd::Context;
use crate::error::{Error, Result};

/// What `version` reports.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    pub version: &'static str,
    pub git_commit: &'static str,
    pub target: &'static str,
}

impl VersionInfo {
    pub fn current() -> Self {
        Self {
            version: env!("CARGO_PKG_VERSION"),
            git_commit: env!("MODELROLL_GIT_COMMIT"),
            target: env!("MODELROLL_TARGET"),
        }
    }
}

/// Print the version.
///
/// # Errors
/// Only if serialization fails.
pub fn run(_ctx: &Context, args: VersionArgs) -> Result<()> {
    let info = VersionInfo::current();
    let text = match args.output {
        None => format!("kubectl-modelroll {} (commit {}, {})\n", info.version, info.git_commit, info.target),
        Some(WriteOutput::Json) => {
            serde_json::to_string_pretty(&info).map_err(|e| Error::failed(e.to_string()))? + "\n"
        }
        Some(WriteOutput::Yaml) => serde_yaml::to_string(&info).map_err(|e| Error::failed(e.to_string()))?,
    };
    crate::ui::print_stdout(&text);
    Ok(())
}
