//! The resource types the API server serves: built-in kinds and those CRDs register at runtime,
//! with what discovery says about them (names, scope, verbs, subresources).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::Value;

/// Names one resource as a client addresses it: group, version and plural name.
///
/// Objects are stored by group and resource only (version-independent); the version says which
/// `apiVersion` a read returns.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceRef {
    pub group: Cow<'static, str>,
    pub version: Cow<'static, str>,
    pub resource: Cow<'static, str>,
}

impl ResourceRef {
    /// A resource known at compile time.
    pub const fn of(group: &'static str, version: &'static str, resource: &'static str) -> Self {
        Self {
            group: Cow::Borrowed(group),
            version: Cow::Borrowed(version),
            resource: Cow::Borrowed(resource),
        }
    }

    /// A resource named at run time (e.g. by a CRD).
    pub fn new(group: impl Into<String>, version: impl Into<String>, resource: impl Into<String>) -> Self {
        Self {
            group: Cow::Owned(group.into()),
            version: Cow::Owned(version.into()),
            resource: Cow::Owned(resource.into()),
        }
    }

    /// `apps/v1` or `v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `deployments.apps` or `pods`.
    pub fn qualified(&self) -> String {
        super::errors::qualified(&self.group, &self.resource)
    }
}

impl std::fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.qualified())
    }
}

pub const NAMESPACES: ResourceRef = ResourceRef::of("", "v1", "namespaces");
pub const NODES: ResourceRef = ResourceRef::of("", "v1", "nodes");
pub const PODS: ResourceRef = ResourceRef::of("", "v1", "pods");
pub const SERVICES: ResourceRef = ResourceRef::of("", "v1", "services");
pub const CONFIGMAPS: ResourceRef = ResourceRef::of("", "v1", "configmaps");
pub const EVENTS: ResourceRef = ResourceRef::of("", "v1", "events");
pub const ENDPOINTSLICES: ResourceRef = ResourceRef::of("discovery.k8s.io", "v1", "endpointslices");
pub const DEPLOYMENTS: ResourceRef = ResourceRef::of("apps", "v1", "deployments");
pub const REPLICASETS: ResourceRef = ResourceRef::of("apps", "v1", "replicasets");
pub const LEASES: ResourceRef = ResourceRef::of("coordination.k8s.io", "v1", "leases");
pub const CRDS: ResourceRef = ResourceRef::of("apiextensions.k8s.io", "v1", "customresourcedefinitions");

/// Where a scale subresource reads and writes replicas (JSON paths as in a CRD's
/// `subresources.scale`, e.g. `.spec.replicas`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalePaths {
    pub spec_replicas: String,
    pub status_replicas: String,
    pub label_selector: Option<String>,
}

/// One served resource type.
#[derive(Debug, Clone)]
pub struct ResourceType {
    pub group: String,
    /// Served versions; the first is the preferred (and storage) version.
    pub versions: Vec<String>,
    pub kind: String,
    pub list_kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Has a `/status` subresource (the main endpoint then ignores status changes).
    pub status: bool,
    /// Has a `/scale` subresource.
    pub scale: Option<ScalePaths>,
    /// `metadata.generation` is kept and bumped on spec changes.
    pub generation: bool,
    /// Defined by a CRD: the openAPIV3Schema of each served version.
    pub schemas: Option<BTreeMap<String, Value>>,
    /// A CRD's additionalPrinterColumns (of its preferred version).
    pub printer_columns: Vec<Value>,
}

impl ResourceType {
    /// Whether `version` is served.
    pub fn serves(&self, version: &str) -> bool {
        self.versions.iter().any(|v| v == version)
    }

    /// `apps/v1` for a version of this type.
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{version}", self.group)
        }
    }

    /// A reference to this type in its preferred version.
    pub fn preferred(&self) -> ResourceRef {
        ResourceRef::new(self.group.clone(), self.versions[0].clone(), self.plural.clone())
    }

    /// Whether this type is defined by a CustomResourceDefinition.
    pub fn is_custom(&self) -> bool {
        self.schemas.is_some()
    }

    /// The verbs discovery lists for the main resource.
    pub fn verbs(&self) -> Vec<&'static str> {
        let mut verbs =
            vec!["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
        if self.plural == "namespaces" || self.plural == "nodes" {
            verbs.retain(|v| *v != "deletecollection");
        }
        verbs
    }
}

#[allow(clippy::too_many_arguments)]
fn builtin(
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
    namespaced: bool,
    short_names: &[&str],
    categories: &[&str],
    status: bool,
    scale: bool,
    generation: bool,
) -> ResourceType {
    ResourceType {
        group: group.into(),
        versions: vec![version.into()],
        kind: kind.into(),
        list_kind: format!("{kind}List"),
        plural: plural.into(),
        singular: kind.to_ascii_lowercase(),
        namespaced,
        short_names: short_names.iter().map(|s| s.to_string()).collect(),
        categories: categories.iter().map(|s| s.to_string()).collect(),
        status,
        scale: scale.then(|| ScalePaths {
            spec_replicas: ".spec.replicas".into(),
            status_replicas: ".status.replicas".into(),
            label_selector: Some(".status.selector".into()),
        }),
        generation,
        schemas: None,
        printer_columns: Vec::new(),
    }
}

/// The built-in kinds the playground serves.
/// An `rbac.authorization.k8s.io/v1` kind (no status, scale, generation or short names).
fn rbac(kind: &str, plural: &str, namespaced: bool) -> ResourceType {
    builtin("rbac.authorization.k8s.io", "v1", kind, plural, namespaced, &[], &[], false, false, false)
}

pub fn builtin_types() -> Vec<ResourceType> {
    vec![
        builtin("", "v1", "Namespace", "namespaces", false, &["ns"], &[], true, false, false),
        builtin("", "v1", "Node", "nodes", false, &["no"], &[], true, false, false),
        builtin("", "v1", "Pod", "pods", true, &["po"], &["all"], true, false, false),
        builtin("", "v1", "Service", "services", true, &["svc"], &["all"], true, false, false),
        builtin("", "v1", "ConfigMap", "configmaps", true, &["cm"], &[], false, false, false),
        builtin("", "v1", "Event", "events", true, &["ev"], &[], false, false, false),
        builtin(
            "discovery.k8s.io",
            "v1",
            "EndpointSlice",
            "endpointslices",
            true,
            &[],
            &[],
            false,
            false,
            true,
        ),
        builtin("apps", "v1", "Deployment", "deployments", true, &["deploy"], &["all"], true, true, true),
        builtin("apps", "v1", "ReplicaSet", "replicasets", true, &["rs"], &["all"], true, true, true),
        builtin(
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            true,
            &["hpa"],
            &["all"],
            true,
            false,
            true,
        ),
        builtin(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
            &["crd", "crds"],
            &["api-extensions"],
            true,
            false,
            true,
        ),
        builtin("coordination.k8s.io", "v1", "Lease", "leases", true, &[], &[], false, false, false),
        rbac("Role", "roles", true),
        rbac("RoleBinding", "rolebindings", true),
        rbac("ClusterRole", "clusterroles", false),
        rbac("ClusterRoleBinding", "clusterrolebindings", false),
    ]
}

/// Why a CRD's type cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrdError {
    /// `field` is a path such as `spec.names.plural`.
    #[error("{field} is required")]
    Required { field: &'static str },
    #[error("spec.versions[{version}].schema.openAPIV3Schema is required")]
    NoSchema { version: String },
    #[error("spec.versions must have at least one served version")]
    NoServedVersion,
}

/// The type a CRD object defines, or why it cannot be served.
///
/// # Errors
/// A [`CrdError`] when the CRD lacks names, versions or a schema for a served version.
pub fn type_from_crd(crd: &Value) -> Result<ResourceType, CrdError> {
    let required = |field: &'static str| CrdError::Required { field };
    let spec = &crd["spec"];
    let group = spec["group"].as_str().ok_or_else(|| required("spec.group"))?.to_string();
    let names = &spec["names"];
    let plural = names["plural"].as_str().ok_or_else(|| required("spec.names.plural"))?.to_string();
    let kind = names["kind"].as_str().ok_or_else(|| required("spec.names.kind"))?.to_string();
    let singular =
        names["singular"].as_str().map(str::to_string).unwrap_or_else(|| kind.to_ascii_lowercase());
    let list_kind = names["listKind"].as_str().map(str::to_string).unwrap_or_else(|| format!("{kind}List"));
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    let namespaced = spec["scope"].as_str() != Some("Cluster");
    let mut versions = Vec::new();
    let mut schemas = BTreeMap::new();
    let mut status = false;
    let mut scale = None;
    let mut printer_columns = Vec::new();
    let all_versions = spec["versions"].as_array().ok_or_else(|| required("spec.versions"))?;
    // Served versions in kube-apiserver's priority order (GA, then beta, then alpha; higher
    // numbers first): the first is the preferred version discovery reports.
    let mut ordered: Vec<&Value> =
        all_versions.iter().filter(|v| v["served"].as_bool() == Some(true)).collect();
    ordered.sort_by_key(|v| version_priority(v["name"].as_str().unwrap_or("")));
    for v in ordered {
        let name = v["name"].as_str().ok_or_else(|| required("spec.versions[].name"))?.to_string();
        let schema = v["schema"]["openAPIV3Schema"].clone();
        if schema.is_null() {
            return Err(CrdError::NoSchema { version: name });
        }
        if v["subresources"]["status"].is_object() {
            status = true;
        }
        if let Some(s) = v["subresources"]["scale"].as_object() {
            scale = Some(ScalePaths {
                spec_replicas: s
                    .get("specReplicasPath")
                    .and_then(Value::as_str)
                    .unwrap_or(".spec.replicas")
                    .into(),
                status_replicas: s
                    .get("statusReplicasPath")
                    .and_then(Value::as_str)
                    .unwrap_or(".status.replicas")
                    .into(),
                label_selector: s.get("labelSelectorPath").and_then(Value::as_str).map(str::to_string),
            });
        }
        if versions.is_empty() {
            printer_columns = v["additionalPrinterColumns"].as_array().cloned().unwrap_or_default();
        }
        schemas.insert(name.clone(), schema);
        versions.push(name);
    }
    if versions.is_empty() {
        return Err(CrdError::NoServedVersion);
    }
    Ok(ResourceType {
        group,
        versions,
        kind,
        list_kind,
        plural,
        singular,
        namespaced,
        short_names: strings(&names["shortNames"]),
        categories: strings(&names["categories"]),
        status,
        scale,
        generation: true,
        schemas: Some(schemas),
        printer_columns,
    })
}

/// Sort key of a version in Kubernetes' priority order: `v2` < `v1` < `v1beta2` < `v1beta1` <
/// `v1alpha1` < anything else (alphabetical).
pub fn version_priority(version: &str) -> (u8, i64, i64, String) {
    let parse = |rest: &str| -> Option<(i64, u8, i64)> {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let major: i64 = digits.parse().ok()?;
        let tail = &rest[digits.len()..];
        if tail.is_empty() {
            return Some((major, 0, 0));
        }
        for (word, rank) in [("beta", 1), ("alpha", 2)] {
            if let Some(n) = tail.strip_prefix(word) {
                return n.parse().ok().map(|n: i64| (major, rank, n));
            }
        }
        None
    };
    match version.strip_prefix('v').and_then(parse) {
        Some((major, rank, minor)) => (rank, -major, -minor, String::new()),
        None => (3, 0, 0, version.to_string()),
    }
}
