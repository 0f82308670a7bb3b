//! RBAC for the playground: users from a static token table (kube-apiserver's
//! `--token-auth-file`) and an authorizer that evaluates Roles, ClusterRoles, RoleBindings and
//! ClusterRoleBindings exactly as Kubernetes' RBAC authorizer does.
//!
//! Only resource requests are authorized here: discovery (`/api`, `/apis/...`), `/version` and
//! `/openapi/...` are open to every authenticated user, as the default `system:discovery` and
//! `system:public-info-viewer` ClusterRoles make them on a real cluster.

use std::path::Path;

use serde_json::Value;

use super::errors::InvalidField;
use super::resources::ResourceRef;
use super::store::Store;

pub const ROLES: ResourceRef = ResourceRef::of("rbac.authorization.k8s.io", "v1", "roles");
pub const CLUSTER_ROLES: ResourceRef = ResourceRef::of("rbac.authorization.k8s.io", "v1", "clusterroles");
pub const ROLE_BINDINGS: ResourceRef = ResourceRef::of("rbac.authorization.k8s.io", "v1", "rolebindings");
pub const CLUSTER_ROLE_BINDINGS: ResourceRef =
    ResourceRef::of("rbac.authorization.k8s.io", "v1", "clusterrolebindings");

/// One line of a token-auth file: a bearer token and the user it authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticUser {
    pub token: String,
    pub name: String,
    pub uid: String,
    /// Groups besides `system:authenticated` (which every authenticated user is in).
    pub groups: Vec<String>,
}

impl StaticUser {
    /// A user with a fresh random token.
    pub fn new(name: &str, groups: &[&str]) -> Self {
        Self {
            token: format!("{name}-{}", uuid::Uuid::new_v4().simple()),
            name: name.to_string(),
            uid: uuid::Uuid::new_v4().to_string(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }
}

/// Split one CSV line into fields (double quotes group, `""` inside quotes is a quote).
fn csv_fields(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    if quoted {
        return Err("a quoted field is not closed".into());
    }
    fields.push(field);
    Ok(fields)
}

/// Parse a token-auth file: CSV lines `token,user,uid[,"group1,group2"]`, as kube-apiserver's
/// `--token-auth-file` reads them (blank lines and `#` comments skipped).
///
/// # Errors
/// A sentence naming the line when a line has fewer than three fields, an empty token or
/// user, or a token used twice.
pub fn parse_token_auth_file(text: &str) -> Result<Vec<StaticUser>, String> {
    let mut users: Vec<StaticUser> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let number = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields = csv_fields(line).map_err(|e| format!("line {number}: {e}"))?;
        if fields.len() < 3 {
            return Err(format!("line {number}: expected token,user,uid[,\"group1,group2\"]"));
        }
        let (token, name, uid) = (fields[0].trim(), fields[1].trim(), fields[2].trim());
        if token.is_empty() || name.is_empty() {
            return Err(format!("line {number}: the token and the user name must not be empty"));
        }
        if users.iter().any(|u| u.token == token) {
            return Err(format!("line {number}: the token of user {name:?} is used twice"));
        }
        let groups = fields
            .get(3)
            .map(|g| g.split(',').map(str::trim).filter(|g| !g.is_empty()).map(str::to_string).collect())
            .unwrap_or_default();
        users.push(StaticUser { token: token.into(), name: name.into(), uid: uid.into(), groups });
    }
    Ok(users)
}

/// Read and parse a token-auth file.
///
/// # Errors
/// When the file cannot be read or a line is malformed (see [`parse_token_auth_file`]).
pub fn read_token_auth_file(path: &Path) -> Result<Vec<StaticUser>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse_token_auth_file(&text).map_err(|e| format!("{}: {e}", path.display()))
}

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

/// Go's `field.NotSupported`, values quoted.
fn unsupported(field: impl Into<String>, value: &str, allowed: &[&str]) -> InvalidField {
    let allowed: Vec<String> = allowed.iter().map(|a| format!("{a:?}")).collect();
    InvalidField::not_supported(field, format!("{value:?}"), &allowed)
}

fn strings(value: &Value) -> impl Iterator<Item = &str> {
    value.as_array().into_iter().flatten().filter_map(Value::as_str)
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

/// The extra checks kube-apiserver's RBAC validation makes beyond the schema: rules name
/// verbs, and resources with apiGroups (or nonResourceURLs, in ClusterRoles only); bindings
/// name a role of an allowed kind and well-formed subjects; `roleRef` never changes.
pub fn validate(resource: &str, object: &Value, old: Option<&Value>, causes: &mut Vec<InvalidField>) {
    match resource {
        "roles" | "clusterroles" => {
            let cluster = resource == "clusterroles";
            for (i, rule) in object["rules"].as_array().into_iter().flatten().enumerate() {
                let field = |f: &str| format!("rules[{i}].{f}");
                if strings(&rule["verbs"]).next().is_none() {
                    causes.push(InvalidField::required(
                        field("verbs"),
                        "verbs must contain at least one value",
                    ));
                }
                let urls = strings(&rule["nonResourceURLs"]).next().is_some();
                if urls && !cluster {
                    causes.push(InvalidField::invalid(
                        field("nonResourceURLs"),
                        format!("{:?}", strings(&rule["nonResourceURLs"]).collect::<Vec<_>>()),
                        "namespaced rules cannot apply to non-resource URLs",
                    ));
                }
                if urls
                    && (strings(&rule["resources"]).next().is_some()
                        || strings(&rule["apiGroups"]).next().is_some())
                {
                    causes.push(InvalidField::invalid(
                        field("nonResourceURLs"),
                        format!("{:?}", strings(&rule["nonResourceURLs"]).collect::<Vec<_>>()),
                        "rules cannot apply to both regular resources and non-resource URLs",
                    ));
                }
                if !urls {
                    if strings(&rule["apiGroups"]).next().is_none() {
                        causes.push(InvalidField::required(
                            field("apiGroups"),
                            "resource rules must supply at least one api group",
                        ));
                    }
                    if strings(&rule["resources"]).next().is_none() {
                        causes.push(InvalidField::required(
                            field("resources"),
                            "resource rules must supply at least one resource",
                        ));
                    }
                }
            }
        }
        "rolebindings" | "clusterrolebindings" => {
            let role_ref = &object["roleRef"];
            if role_ref["apiGroup"].as_str() != Some("rbac.authorization.k8s.io") {
                causes.push(unsupported(
                    "roleRef.apiGroup",
                    role_ref["apiGroup"].as_str().unwrap_or(""),
                    &["rbac.authorization.k8s.io"],
                ));
            }
            let kinds: &[&str] =
                if resource == "rolebindings" { &["Role", "ClusterRole"] } else { &["ClusterRole"] };
            let kind = role_ref["kind"].as_str().unwrap_or("");
            if !kinds.contains(&kind) {
                causes.push(unsupported("roleRef.kind", kind, kinds));
            }
            if role_ref["name"].as_str().unwrap_or("").is_empty() {
                causes.push(InvalidField::required("roleRef.name", ""));
            }
            for (i, subject) in object["subjects"].as_array().into_iter().flatten().enumerate() {
                let kind = subject["kind"].as_str().unwrap_or("");
                if subject["name"].as_str().unwrap_or("").is_empty() {
                    causes.push(InvalidField::required(format!("subjects[{i}].name"), ""));
                }
                match kind {
                    "ServiceAccount" => {
                        if resource == "clusterrolebindings"
                            && subject["namespace"].as_str().unwrap_or("").is_empty()
                        {
                            causes.push(InvalidField::required(format!("subjects[{i}].namespace"), ""));
                        }
                    }
                    "User" | "Group" => {
                        if subject["apiGroup"].as_str() != Some("rbac.authorization.k8s.io") {
                            causes.push(unsupported(
                                format!("subjects[{i}].apiGroup"),
                                subject["apiGroup"].as_str().unwrap_or(""),
                                &["rbac.authorization.k8s.io"],
                            ));
                        }
                    }
                    other => causes.push(unsupported(
                        format!("subjects[{i}].kind"),
                        other,
                        &["ServiceAccount", "User", "Group"],
                    )),
                }
            }
            if let Some(old) = old {
                if old["roleRef"] != object["roleRef"] {
                    causes.push(InvalidField::invalid(
                        "roleRef",
                        format!("{}", object["roleRef"]),
                        "cannot change roleRef",
                    ));
                }
            }
        }
        _ => {}
    }
}

impl super::Playground {
    /// Write a kubeconfig for `user` beside this playground's: the same cluster (server and CA),
    /// one user with the token, one context `name` (current) in `namespace`.
    ///
    /// # Errors
    /// When the playground's kubeconfig cannot be read or the new one cannot be written.
    pub fn write_user_kubeconfig(
        &self,
        user: &StaticUser,
        namespace: &str,
        path: &Path,
    ) -> std::io::Result<()> {
        let text = std::fs::read_to_string(&self.kubeconfig_path)?;
        let admin: Value = serde_yaml::from_str(&text).map_err(std::io::Error::other)?;
        let cluster = admin["clusters"][0].clone();
        let config = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "preferences": {},
            "clusters": [cluster],
            "users": [{"name": user.name, "user": {"token": user.token}}],
            "contexts": [{"name": user.name, "context": {"cluster": cluster["name"], "user": user.name, "namespace": namespace}}],
            "current-context": user.name,
        });
        let yaml = serde_yaml::to_string(&config).map_err(std::io::Error::other)?;
        std::fs::write(path, yaml)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn token_files_parse_like_kube_apiserver() {
        let users = parse_token_auth_file(
            "# comment\nt1,alice,u1,\"ml-team,deployers\"\n\nt2,bob,u2\nt3,carol,u3,ops\n",
        )
        .unwrap();
        assert_eq!(users.len(), 3);
        assert_eq!(users[0].groups, vec!["ml-team", "deployers"]);
        assert!(users[1].groups.is_empty());
        assert_eq!(users[2].groups, vec!["ops"]);
        assert!(parse_token_auth_file("t1,alice\n").unwrap_err().contains("line 1"));
        assert!(parse_token_auth_file("t1,a,u\nt1,b,u\n").unwrap_err().contains("twice"));
        assert!(parse_token_auth_file("t1,a,u,\"g\n").is_err());
    }

    #[test]
    fn bindings_are_validated() {
        let mut causes = Vec::new();
        validate(
            "clusterrolebindings",
            &json!({"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "x"}, "subjects": [{"kind": "Robot", "name": "r"}]}),
            None,
            &mut causes,
        );
        assert_eq!(causes.len(), 2, "{causes:?}");
        let mut causes = Vec::new();
        let old = json!({"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "a"}});
        let new = json!({"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "b"}});
        validate("rolebindings", &new, Some(&old), &mut causes);
        assert_eq!(causes.len(), 1);
        let mut causes = Vec::new();
        validate("roles", &json!({"rules": [{"verbs": ["get"]}]}), None, &mut causes);
        assert_eq!(causes.len(), 2);
    }
}
