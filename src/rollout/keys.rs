//! The labels and annotations of `../shared/CLI.md`, and the field manager of every write: the
//! names other tools and people see on cluster objects, in one place.

/// Pod template label: the model version a pod serves.
pub const MODEL_VERSION_LABEL: &str = "modelroll.io/model-version";
/// Pod template label: which track (stable/canary) a pod belongs to.
pub const TRACK_LABEL: &str = "modelroll.io/track";
/// Annotation recording what each change did; shown by `history`.
pub const CHANGE_CAUSE: &str = "kubernetes.io/change-cause";
/// Field manager of every write.
pub const FIELD_MANAGER: &str = "kubectl-modelroll";
/// Annotation on the stable Deployment or ksvc with the JSON state of a canary in progress.
pub const ROLLOUT_ANNOTATION: &str = "modelroll.io/rollout";
/// Annotation on the canary Deployment naming the stable one.
pub const CANARY_OF_ANNOTATION: &str = "modelroll.io/canary-of";

/// What is wrong with a label value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelValueError {
    #[error("it is empty")]
    Empty,
    #[error("it is {length} characters long; a label value holds at most 63")]
    TooLong { length: usize },
    #[error(
        "a label value must start and end with a letter or digit and hold only letters, digits, '-', '_' and '.'"
    )]
    Characters,
}

/// Check a label value (`--model-version`): at most 63 characters, alphanumerics with `-`, `_`,
/// `.` inside.
///
/// # Errors
/// A [`LabelValueError`], a phrase saying what is wrong.
pub fn check_label_value(value: &str) -> Result<(), LabelValueError> {
    if value.is_empty() {
        return Err(LabelValueError::Empty);
    }
    if value.len() > 63 {
        return Err(LabelValueError::TooLong { length: value.len() });
    }
    let alnum = |c: char| c.is_ascii_alphanumeric();
    let ok = value.starts_with(alnum)
        && value.ends_with(alnum)
        && value.chars().all(|c| alnum(c) || c == '-' || c == '_' || c == '.');
    if !ok {
        return Err(LabelValueError::Characters);
    }
    Ok(())
}
