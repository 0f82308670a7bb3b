//! `/openapi/v3`: as much of the API server's OpenAPI v3 documents as clients need to learn
//! which operations each kind supports (kubectl checks the `fieldValidation` parameter of PATCH
//! before it leaves validation to the server). Schemas of built-in kinds are not published, so
//! `kubectl explain` does not work; CRD kinds carry their CRD schema.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::resources::ResourceType;
use super::store::Store;

/// Group-versions the server publishes, as `api/v1` or `apis/apps/v1`.
fn group_versions(store: &Store) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for ty in store.types() {
        for v in &ty.versions {
            let gv = (ty.group.clone(), v.clone());
            if !out.contains(&gv) {
                out.push(gv);
            }
        }
    }
    out
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// The document for one group-version.
pub fn document(store: &Store, group: &str, version: &str) -> Option<Value> {
    let types: Vec<_> = store.types().into_iter().filter(|t| t.group == group && t.serves(version)).collect();
    if types.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for ty in &types {
        let gvk = json!({"group": ty.group, "version": version, "kind": ty.kind});
        let prefix = if ty.namespaced {
            format!("/{}/namespaces/{{namespace}}/{}", gv_path(group, version), ty.plural)
        } else {
            format!("/{}/{}", gv_path(group, version), ty.plural)
        };
        let param = |name: &str| json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}});
        let schema_name = format!("{}.{}.{}", reverse_group(&ty.group), version, ty.kind);
        let reference = json!({"$ref": format!("#/components/schemas/{schema_name}")});
        let content = |types: &[&str]| {
            let mut m = Map::new();
            for t in types {
                m.insert((*t).to_string(), json!({"schema": reference}));
            }
            Value::Object(m)
        };
        // Strategic merge is accepted for built-in kinds but not advertised: the schemas here
        // carry no patch merge keys, so kubectl computes strategic patches from its own types.
        let patch_types =
            ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"];
        let ok = json!({"200": {"description": "OK", "content": content(&["application/json"])}});
        let op = |verb: &str, params: Vec<Value>, body: Option<Value>| {
            let mut o = json!({
                "operationId": format!("{verb}{}", ty.kind),
                "x-kubernetes-action": verb,
                "x-kubernetes-group-version-kind": gvk,
                "parameters": params,
                "responses": ok,
            });
            if let Some(b) = body {
                o["requestBody"] = json!({"content": b, "required": true});
            }
            o
        };
        let write_params = || vec![param("dryRun"), param("fieldManager"), param("fieldValidation")];
        paths.insert(
            prefix.clone(),
            json!({
                "get": op("list", vec![param("labelSelector"), param("fieldSelector"), param("limit"), param("continue"), param("resourceVersion"), param("watch"), param("timeoutSeconds")], None),
                "post": op("post", write_params(), Some(content(&["application/json", "application/yaml"]))),
                "delete": op("deletecollection", vec![param("labelSelector"), param("fieldSelector"), param("dryRun")], None),
            }),
        );
        let mut patch_params = write_params();
        patch_params.push(param("force"));
        paths.insert(
            format!("{prefix}/{{name}}"),
            json!({
                "get": op("get", vec![], None),
                "put": op("put", write_params(), Some(content(&["application/json", "application/yaml"]))),
                "patch": op("patch", patch_params, Some(content(&patch_types))),
                "delete": op("delete", vec![param("dryRun"), param("gracePeriodSeconds"), param("propagationPolicy")], None),
            }),
        );
        let mut schema = ty
            .schemas
            .as_ref()
            .and_then(|s| s.get(version))
            .cloned()
            .unwrap_or_else(|| json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
        schema["x-kubernetes-group-version-kind"] = json!([gvk]);
        schemas.insert(schema_name, schema);
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

/// `io.k8s.api.apps` style prefixes kube-apiserver uses for schema names (approximated for CRDs
/// as the reversed group).
fn reverse_group(group: &str) -> String {
    if group.is_empty() {
        return "io.k8s.api.core".into();
    }
    group.split('.').rev().collect::<Vec<_>>().join(".")
}

/// The discovery document of `/openapi/v3`: every group-version with a URL whose hash changes
/// when its document does (clients cache by it).
pub fn root(store: &Store) -> Value {
    let mut paths = Map::new();
    for (group, version) in group_versions(store) {
        let doc = document(store, &group, &version).unwrap_or(Value::Null);
        let hash = hex(&Sha256::digest(doc.to_string().as_bytes()));
        let path = gv_path(&group, &version);
        paths.insert(
            path.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={}", &hash[..32])}),
        );
    }
    json!({"paths": paths})
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Whether the type is served in the document (for tests).
pub fn describes(doc: &Value, ty: &ResourceType) -> bool {
    doc["paths"].as_object().is_some_and(|p| {
        p.values().any(|path| path["patch"]["x-kubernetes-group-version-kind"]["kind"] == json!(ty.kind))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_operations_advertise_field_validation() {
        let store = Store::new();
        let root = root(&store);
        assert!(root["paths"]["apis/apps/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap()
            .starts_with("/openapi/v3/apis/apps/v1?hash="));
        let doc = document(&store, "apps", "v1").unwrap();
        let patch = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert!(patch["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "fieldValidation"));
        let ty = store.resource_type(&super::super::resources::DEPLOYMENTS).unwrap();
        assert!(describes(&doc, &ty));
    }
}
