//! Questions to the user (dialoguer, on stderr). `--yes` takes the offered choice; without a
//! terminal a question is an error that names `--yes`.

use crate::error::{Error, Result};
use crate::ui::Terminal;

/// Ask `question` (yes/no, default no). With `yes` the answer is yes without asking.
///
/// # Errors
/// No terminal to ask on: exit 1 with `no_terminal` (which should name `--yes` and the flags
/// that avoid the question). The prompt itself failing (terminal closed) counts the same.
pub fn confirm(terminal: Terminal, yes: bool, question: &str, no_terminal: &str) -> Result<bool> {
    if yes {
        return Ok(true);
    }
    if !terminal.interactive {
        return Err(Error::failed(no_terminal.to_string()));
    }
    dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact_opt()
        .map(|answer| answer.unwrap_or(false))
        .map_err(|e| Error::failed(no_terminal.to_string()).with_source(e))
}
