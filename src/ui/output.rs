//! `-o json|yaml` rendering of results and of objects a dry run would write.

use serde::Serialize;

use crate::cli::WriteOutput;
use crate::error::{Error, Result};

/// Render `value` as pretty JSON (with a final newline).
///
/// # Errors
/// The value cannot be serialized (a bug).
pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string_pretty(value)
        .map(|s| s + "\n")
        .map_err(|e| Error::failed(format!("cannot render JSON: {e}")).with_source(e))
}

/// Render `value` as YAML.
///
/// # Errors
/// The value cannot be serialized (a bug).
pub fn yaml<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_yaml::to_string(value).map_err(|e| Error::failed(format!("cannot render YAML: {e}")).with_source(e))
}

/// Render an object for `--dry-run -o yaml|json` (YAML when `-o` is not given, as kubectl does
/// for its dry runs that print objects).
///
/// # Errors
/// See [`json`] and [`yaml`].
pub fn object<T: Serialize + ?Sized>(value: &T, output: Option<WriteOutput>) -> Result<String> {
    match output {
        Some(WriteOutput::Json) => json(value),
        Some(WriteOutput::Yaml) | None => yaml(value),
    }
}
