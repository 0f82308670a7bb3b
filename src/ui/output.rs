//! `-o json|yaml` rendering of results and of objects a dry run would write.

use serde::Serialize;

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::settings::{DryRun, WriteOutput};

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

/// What every `--dry-run` prints on stdout, for the objects it would write (each with whether it
/// would be created): with `-o yaml|json` the objects as kubectl shows them (no `managedFields`;
/// several as YAML documents or one JSON `List`), else one line each as kubectl's dry runs do:
/// `deployment.apps/fraud configured (dry run)`.
///
/// # Errors
/// See [`json`] and [`yaml`].
pub fn dry_run(objects: &[(Value, bool)], output: Option<WriteOutput>, mode: DryRun) -> Result<String> {
    let shown: Vec<Value> = objects.iter().map(|(object, _)| without_managed_fields(object)).collect();
    match output {
        Some(WriteOutput::Yaml) => {
            let mut text = String::new();
            for object in &shown {
                text.push_str("---\n");
                text.push_str(&yaml(object)?);
            }
            Ok(text)
        }
        Some(WriteOutput::Json) => match shown.as_slice() {
            [one] => json(one),
            _ => json(&json!({"apiVersion": "v1", "kind": "List", "items": shown})),
        },
        None => {
            let mode = if mode == DryRun::Server { "server dry run" } else { "dry run" };
            Ok(objects
                .iter()
                .map(|(object, created)| {
                    let kind = object["kind"].as_str().unwrap_or_default().to_ascii_lowercase();
                    let group = object["apiVersion"].as_str().and_then(|v| v.split_once('/')).map(|(g, _)| g);
                    let kind = group.map_or(kind.clone(), |g| format!("{kind}.{g}"));
                    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
                    let action = if *created { "created" } else { "configured" };
                    format!("{kind}/{name} {action} ({mode})\n")
                })
                .collect())
        }
    }
}

/// An object as kubectl shows it: without `metadata.managedFields`.
pub fn without_managed_fields(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dry_runs_print_as_kubectl_without_managed_fields() {
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "fraud", "managedFields": [{"manager": "kubectl"}]}});
        let objects = [(deployment, false)];
        assert_eq!(
            dry_run(&objects, None, DryRun::Client).unwrap(),
            "deployment.apps/fraud configured (dry run)\n"
        );
        assert_eq!(
            dry_run(&objects, None, DryRun::Server).unwrap(),
            "deployment.apps/fraud configured (server dry run)\n"
        );
        let yaml = dry_run(&objects, Some(WriteOutput::Yaml), DryRun::Client).unwrap();
        assert!(yaml.starts_with("---\napiVersion: apps/v1") && !yaml.contains("managedFields"), "{yaml}");
        let json_text = dry_run(&objects, Some(WriteOutput::Json), DryRun::Client).unwrap();
        assert!(!json_text.contains("managedFields"), "{json_text}");
    }
}
