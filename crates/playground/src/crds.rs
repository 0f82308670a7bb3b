//! CustomResourceDefinitions: the checks kube-apiserver makes on a CRD, the status it reports
//! once the CRD is established, and loading CRD files from a directory (`--crds DIR`).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::clock::now_rfc3339;
use super::errors::{ApiError, InvalidField};

/// CRDs that cannot be loaded: from `--crds` files, from `--with` groups, or into the store.
/// Each variant names what failed and keeps its cause.
#[derive(Debug, thiserror::Error)]
pub enum CrdError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot parse {}: {source}", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_yaml::Error,
    },
    #[error("unknown --with group {group:?}; known groups: {}", known.join(", "))]
    UnknownGroup { group: String, known: Vec<&'static str> },
    #[error("compact CRDs for {group} do not parse: {source}")]
    CompactYaml {
        group: String,
        #[source]
        source: serde_yaml::Error,
    },
    #[error("compact CRDs for {group} are not JSON: {source}")]
    CompactJson {
        group: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("CustomResourceDefinition {name:?} was refused: {}", source.message)]
    Refused {
        name: String,
        #[source]
        source: ApiError,
    },
}

/// Checks on a CRD object (names, versions, schemas).
pub fn validate_crd(crd: &Value, old: Option<&Value>, causes: &mut Vec<InvalidField>) {
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or("");
    let plural = spec["names"]["plural"].as_str().unwrap_or("");
    let name = crd["metadata"]["name"].as_str().unwrap_or("");
    if group.is_empty() {
        causes.push(InvalidField::required("spec.group", ""));
    } else if !group.contains('.') {
        causes.push(InvalidField::invalid(
            "spec.group",
            format!("{group:?}"),
            "should be a domain with at least one dot",
        ));
    }
    if plural.is_empty() {
        causes.push(InvalidField::required("spec.names.plural", ""));
    } else if !super::names::is_dns1123_label(plural) {
        causes.push(InvalidField::invalid(
            "spec.names.plural",
            format!("{plural:?}"),
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        ));
    }
    if spec["names"]["kind"].as_str().unwrap_or("").is_empty() {
        causes.push(InvalidField::required("spec.names.kind", "must be specified"));
    }
    if !group.is_empty() && !plural.is_empty() && name != format!("{plural}.{group}") {
        causes.push(InvalidField::invalid(
            "metadata.name",
            format!("{name:?}"),
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    match spec["scope"].as_str() {
        Some("Namespaced" | "Cluster") => {}
        Some(other) => causes.push(InvalidField::not_supported(
            "spec.scope",
            format!("{other:?}"),
            &["\"Cluster\"".into(), "\"Namespaced\"".into()],
        )),
        None => causes.push(InvalidField::required("spec.scope", "")),
    }
    let versions = spec["versions"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    if versions.is_empty() {
        causes.push(InvalidField::invalid(
            "spec.versions",
            "[]apiextensions.CustomResourceDefinitionVersion(nil)",
            "must have exactly one version marked as storage version",
        ));
    } else {
        let storage = versions.iter().filter(|v| v["storage"] == true).count();
        if storage != 1 {
            causes.push(InvalidField::invalid(
                "spec.versions",
                "[]apiextensions.CustomResourceDefinitionVersion{...}",
                "must have exactly one version marked as storage version",
            ));
        }
        for (i, v) in versions.iter().enumerate() {
            if v["schema"]["openAPIV3Schema"].is_null() {
                causes.push(InvalidField::required(
                    format!("spec.versions[{i}].schema.openAPIV3Schema"),
                    "schemas are required",
                ));
            } else if v["schema"]["openAPIV3Schema"]["type"] != "object" {
                causes.push(InvalidField::required(
                    format!("spec.versions[{i}].schema.openAPIV3Schema.type"),
                    "must not be empty at the root",
                ));
            }
        }
    }
    if let Some(old) = old {
        let old_scope = &old["spec"]["scope"];
        if old_scope != &spec["scope"] {
            causes.push(InvalidField::invalid("spec.scope", &spec["scope"], "field is immutable"));
        }
    }
}

/// The status a freshly created CRD gets once the API server accepted its names.
pub fn set_accepted_status(crd: &mut Value) {
    let storage: Vec<Value> = crd["spec"]["versions"]
        .as_array()
        .map(|vs| vs.iter().filter(|v| v["storage"] == true).map(|v| v["name"].clone()).collect())
        .unwrap_or_default();
    let now = now_rfc3339();
    crd["status"] = json!({
        "acceptedNames": crd["spec"]["names"].clone(),
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now},
        ],
        "storedVersions": storage,
    });
}

/// Every CustomResourceDefinition document in the YAML/JSON files under `dir` (recursively).
///
/// # Errors
/// [`CrdError::Read`] or [`CrdError::Parse`], naming the file.
pub fn read_dir(dir: &Path) -> Result<Vec<Value>, CrdError> {
    let mut files = Vec::new();
    collect_files(dir, &mut files).map_err(|source| CrdError::Read { path: dir.to_path_buf(), source })?;
    files.sort();
    let mut crds = Vec::new();
    for file in files {
        let text =
            std::fs::read_to_string(&file).map_err(|source| CrdError::Read { path: file.clone(), source })?;
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value: Value = serde::Deserialize::deserialize(doc)
                .map_err(|source| CrdError::Parse { path: file.clone(), source })?;
            if value["kind"] == "CustomResourceDefinition" {
                crds.push(value);
            }
        }
    }
    Ok(crds)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if dir.is_file() {
        out.push(dir.to_path_buf());
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json")) {
            out.push(path);
        }
    }
    Ok(())
}
