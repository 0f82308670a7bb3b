//! The playground's authorizer: evaluates Roles, ClusterRoles, RoleBindings and
//! ClusterRoleBindings exactly as Kubernetes' RBAC authorizer does.
//!
//! Only resource requests are authorized here: discovery (`/api`, `/apis/...`), `/version` and
//! `/openapi/...` are open to every authenticated user, as the default `system:discovery` and
//! `system:public-info-viewer` ClusterRoles make them on a real cluster.

use serde_json::Value;

use super::rbac::{strings, CLUSTER_ROLES, CLUSTER_ROLE_BINDINGS, ROLES, ROLE_BINDINGS};
use super::store::Store;

/// What a resource request asks to do, as the API server's RequestInfo describes it.
#[derive(Debug, Clone, Default)]
pub struct Attributes<'a> {
    pub user: &'a str,
    /// The user's groups, `system:authenticated` included.
    pub groups: &'a [String],
    pub verb: &'a str,
    pub api_group: &'a str,
    pub resource: &'a str,
    pub subresource: &'a str,
    /// Empty when the request names no object (list, watch, create, deletecollection).
    pub name: &'a str,
    /// Empty for cluster-scoped requests.
    pub namespace: &'a str,
}

/// Whether the RBAC objects in `store` allow the request (RBAC has no deny rules: a request is
/// allowed when any rule bound to the user matches it).
pub fn authorize(store: &Store, attributes: &Attributes<'_>) -> bool {
    let bound_rules = |binding: &Value, binding_namespace: &str| -> Vec<Value> {
        if !binding["subjects"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| subject_matches(s, attributes, binding_namespace)))
        {
            return Vec::new();
        }
        role_rules(store, &binding["roleRef"], binding_namespace)
    };
    let allows = |rules: Vec<Value>| rules.iter().any(|rule| rule_allows(rule, attributes));
    if let Ok(list) = store.list(&CLUSTER_ROLE_BINDINGS, "") {
        if list.items.iter().any(|b| allows(bound_rules(b, ""))) {
            return true;
        }
    }
    if attributes.namespace.is_empty() {
        return false;
    }
    match store.list(&ROLE_BINDINGS, attributes.namespace) {
        Ok(list) => list.items.iter().any(|b| allows(bound_rules(b, attributes.namespace))),
        Err(_) => false,
    }
}

/// The rules of the Role or ClusterRole a binding refers to (none when it does not exist).
fn role_rules(store: &Store, role_ref: &Value, binding_namespace: &str) -> Vec<Value> {
    if role_ref["apiGroup"].as_str() != Some("rbac.authorization.k8s.io") {
        return Vec::new();
    }
    let name = role_ref["name"].as_str().unwrap_or("");
    let role = match role_ref["kind"].as_str() {
        // A ClusterRoleBinding may only refer to a ClusterRole (validation refuses Roles).
        Some("Role") if !binding_namespace.is_empty() => store.get(&ROLES, binding_namespace, name),
        Some("ClusterRole") => store.get(&CLUSTER_ROLES, "", name),
        _ => return Vec::new(),
    };
    role.ok().and_then(|r| r["rules"].as_array().cloned()).unwrap_or_default()
}

/// Whether a binding subject names the requesting user (`binding_namespace` is where a
/// ServiceAccount subject without a namespace lives).
fn subject_matches(subject: &Value, attributes: &Attributes<'_>, binding_namespace: &str) -> bool {
    let name = subject["name"].as_str().unwrap_or("");
    match subject["kind"].as_str() {
        Some("User") => name == attributes.user,
        Some("Group") => attributes.groups.iter().any(|g| g == name),
        Some("ServiceAccount") => {
            let namespace =
                subject["namespace"].as_str().filter(|n| !n.is_empty()).unwrap_or(binding_namespace);
            !namespace.is_empty() && attributes.user == format!("system:serviceaccount:{namespace}:{name}")
        }
        _ => false,
    }
}

/// Whether one PolicyRule allows a resource request (`VerbMatches`, `APIGroupMatches`,
/// `ResourceMatches` and `ResourceNameMatches` of Kubernetes' rbac package).
pub fn rule_allows(rule: &Value, attributes: &Attributes<'_>) -> bool {
    let verb = strings(&rule["verbs"]).any(|v| v == "*" || v == attributes.verb);
    let group = strings(&rule["apiGroups"]).any(|g| g == "*" || g == attributes.api_group);
    let combined = if attributes.subresource.is_empty() {
        attributes.resource.to_string()
    } else {
        format!("{}/{}", attributes.resource, attributes.subresource)
    };
    let resource = strings(&rule["resources"]).any(|r| {
        r == "*"
            || r == combined
            || (!attributes.subresource.is_empty()
                && r.strip_prefix("*/").is_some_and(|sub| sub == attributes.subresource))
    });
    let names = rule["resourceNames"].as_array().is_none_or(|n| n.is_empty())
        || strings(&rule["resourceNames"]).any(|n| n == attributes.name);
    verb && group && resource && names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::ResourceRef;
    use serde_json::json;

    fn attrs<'a>(groups: &'a [String], verb: &'a str, group: &'a str, resource: &'a str) -> Attributes<'a> {
        Attributes {
            user: "alice",
            groups,
            verb,
            api_group: group,
            resource,
            subresource: "",
            name: "fraud",
            namespace: "ml",
        }
    }

    #[test]
    fn rules_match_verbs_groups_resources_and_names() {
        let g = vec!["system:authenticated".to_string()];
        let rule = json!({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "patch"]});
        assert!(rule_allows(&rule, &attrs(&g, "patch", "apps", "deployments")));
        assert!(!rule_allows(&rule, &attrs(&g, "delete", "apps", "deployments")));
        assert!(!rule_allows(&rule, &attrs(&g, "get", "", "deployments")));
        assert!(!rule_allows(&rule, &attrs(&g, "get", "apps", "replicasets")));
        let star = json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]});
        assert!(rule_allows(&star, &attrs(&g, "deletecollection", "x.io", "things")));
        let named = json!({"apiGroups": [""], "resources": ["services"], "verbs": ["get"], "resourceNames": ["fraud"]});
        assert!(rule_allows(&named, &attrs(&g, "get", "", "services")));
        let mut list = attrs(&g, "list", "", "services");
        list.verb = "get";
        list.name = "";
        assert!(!rule_allows(&named, &list), "resourceNames never match a request without a name");
    }

    #[test]
    fn subresources_need_their_own_rule() {
        let g = vec![];
        let rule = json!({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["*"]});
        let mut scale = attrs(&g, "patch", "apps", "deployments");
        scale.subresource = "scale";
        assert!(!rule_allows(&rule, &scale));
        let sub = json!({"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["patch"]});
        assert!(rule_allows(&sub, &scale));
        assert!(!rule_allows(&sub, &attrs(&g, "patch", "apps", "deployments")));
        let any = json!({"apiGroups": ["apps"], "resources": ["*/scale"], "verbs": ["patch"]});
        assert!(rule_allows(&any, &scale));
        scale.subresource = "status";
        assert!(!rule_allows(&any, &scale));
    }

    fn store_with(objects: &[(ResourceRef, Value)]) -> Store {
        let store = Store::new();
        for (resource, object) in objects {
            store.create(resource, object.clone()).expect("created");
        }
        store
    }

    fn role(name: &str, ns: &str, rules: Value) -> (ResourceRef, Value) {
        (
            ROLES,
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": name, "namespace": ns}, "rules": rules}),
        )
    }

    fn binding(
        resource: ResourceRef,
        ns: &str,
        role_kind: &str,
        role: &str,
        subjects: Value,
    ) -> (ResourceRef, Value) {
        let kind = if resource == ROLE_BINDINGS { "RoleBinding" } else { "ClusterRoleBinding" };
        let mut metadata = json!({"name": format!("{role}-binding")});
        if !ns.is_empty() {
            metadata["namespace"] = json!(ns);
        }
        (
            resource,
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": metadata,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role}, "subjects": subjects}),
        )
    }

    #[test]
    fn role_bindings_grant_only_in_their_namespace() {
        let store = store_with(&[
            (
                super::super::resources::NAMESPACES,
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ml"}}),
            ),
            role(
                "deployer",
                "ml",
                json!([{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "patch"]}]),
            ),
            binding(
                ROLE_BINDINGS,
                "ml",
                "Role",
                "deployer",
                json!([{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"}]),
            ),
        ]);
        let g = vec!["system:authenticated".to_string()];
        let request = attrs(&g, "patch", "apps", "deployments");
        assert!(authorize(&store, &request));
        assert!(!authorize(&store, &Attributes { namespace: "other", ..request.clone() }));
        assert!(!authorize(&store, &Attributes { namespace: "", ..request.clone() }));
        assert!(!authorize(&store, &Attributes { user: "bob", ..request.clone() }));
        assert!(!authorize(&store, &Attributes { verb: "delete", ..request }));
    }

    #[test]
    fn groups_service_accounts_and_cluster_roles() {
        let store = store_with(&[
            (
                super::super::resources::NAMESPACES,
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ml"}}),
            ),
            (
                CLUSTER_ROLES,
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "node-reader"},
                "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list"]}]}),
            ),
            (
                CLUSTER_ROLES,
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "pod-reader"},
                "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]}),
            ),
            binding(
                CLUSTER_ROLE_BINDINGS,
                "",
                "ClusterRole",
                "node-reader",
                json!([{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "ml-team"}]),
            ),
            binding(
                ROLE_BINDINGS,
                "ml",
                "ClusterRole",
                "pod-reader",
                json!([{"kind": "ServiceAccount", "name": "ci"}]),
            ),
        ]);
        let team = vec!["ml-team".to_string()];
        let nodes = Attributes {
            verb: "list",
            resource: "nodes",
            name: "",
            namespace: "",
            ..attrs(&team, "list", "", "nodes")
        };
        assert!(authorize(&store, &nodes));
        assert!(!authorize(&store, &Attributes { groups: &[], ..nodes.clone() }));
        let pods = Attributes {
            user: "system:serviceaccount:ml:ci",
            resource: "pods",
            name: "",
            ..attrs(&[], "list", "", "pods")
        };
        assert!(authorize(&store, &pods), "a ClusterRole bound by a RoleBinding grants in its namespace");
        assert!(!authorize(&store, &Attributes { namespace: "", ..pods.clone() }));
        assert!(!authorize(&store, &Attributes { user: "system:serviceaccount:other:ci", ..pods }));
    }
}
