//! Questions to the user (dialoguer, on stderr). `--yes` takes the offered choice; without a
//! terminal a question is an error that names `--yes`.

use crate::error::{Error, Result};
use crate::ui::Terminal;

/// Room kept at the end of the prompt's line for " [y/N] " and the answer ("yes").
const ANSWER_ROOM: usize = 12;

/// Ask `question` (yes/no, default no). With `yes` the answer is yes without asking. The answer
/// counts only once Enter is pressed, so the Enter never lands in the shell afterwards.
///
/// # Errors
/// No terminal to ask on: exit 1 with `no_terminal` (which should name `--yes` and the flags
/// that avoid the question). The prompt itself failing (terminal closed) counts the same.
pub async fn confirm(terminal: Terminal, yes: bool, question: &str, no_terminal: &str) -> Result<bool> {
    if yes {
        return Ok(true);
    }
    if !terminal.interactive {
        return Err(Error::failed(no_terminal.to_string()));
    }
    // The prompt blocks its thread until Enter. Commands run on one thread: the question is asked
    // on a blocking thread of its own, so the operation's Lease is renewed while the user thinks.
    let (question, no_terminal) = (question.to_string(), no_terminal.to_string());
    tokio::task::spawn_blocking(move || ask(&question, &no_terminal))
        .await
        .map_err(|e| Error::failed(format!("the question was not asked: {e}")))?
}

/// Ask on the terminal (blocking).
fn ask(question: &str, no_terminal: &str) -> Result<bool> {
    let term = console::Term::stderr();
    let (explanation, prompt) = layout(question, usize::from(term.size().1));
    if let Some(explanation) = explanation {
        // Printed once and never redrawn: the terminal may wrap it freely.
        let _ = term.write_line(explanation);
    }
    dialoguer::Confirm::new()
        .with_prompt(prompt)
        .default(false)
        .wait_for_newline(true)
        .interact_on_opt(&term)
        .map(|answer| answer.unwrap_or(false))
        .map_err(|e| Error::failed(no_terminal.to_string()).with_source(e))
}

/// How `question` is put on a terminal `width` columns wide: an explanation printed once, then
/// the prompt that dialoguer redraws on each key. dialoguer clears only the prompt's last line
/// before a redraw, so a prompt that wraps would leave its first line behind at every key: the
/// prompt is the question's last sentence when that fits on one line, else empty (`[y/N]` alone
/// under the whole question).
pub fn layout(question: &str, width: usize) -> (Option<&str>, &str) {
    let room = width.saturating_sub(ANSWER_ROOM);
    let fits = |text: &str| console::measure_text_width(text) <= room;
    if fits(question) {
        return (None, question);
    }
    // The last sentence: after the last ". " (a question ends with "?", so never at the end).
    if let Some(end) = question.trim_end().rfind(". ") {
        let (explanation, last) = (&question[..=end], question[end + 1..].trim());
        if fits(last) {
            return (Some(explanation), last);
        }
    }
    (Some(question), "")
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: &str = "The istio router tells the tracks apart by the label modelroll.io/track; adding \
                        modelroll.io/track=stable to deployment fraud's pod template restarts its pods once. Add it?";

    #[test]
    fn a_question_that_fits_is_the_prompt() {
        assert_eq!(layout("Add it?", 80), (None, "Add it?"));
    }

    #[test]
    fn a_long_question_is_explained_once_and_asks_its_last_sentence() {
        let (explanation, prompt) = layout(LONG, 80);
        assert_eq!(prompt, "Add it?");
        assert!(explanation.unwrap().ends_with("restarts its pods once."));
    }

    #[test]
    fn a_last_sentence_too_long_for_the_line_leaves_the_prompt_bare() {
        let question = "Use maxSurge 0, maxUnavailable 1 instead (one replica down at a time)?";
        assert_eq!(layout(question, 100), (None, question));
        assert_eq!(layout(question, 50), (Some(question), ""));
        // The prompt never needs more than one line.
        for width in 20..200 {
            let (_, prompt) = layout(LONG, width);
            assert!(prompt.len() + ANSWER_ROOM <= width.max(ANSWER_ROOM), "width {width}: {prompt:?}");
        }
    }
}
