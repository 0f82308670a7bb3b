//! Reading the protobuf bodies kubectl's typed clients send (`kubectl create namespace`,
//! `create configmap`, `create deployment`, `create service`, `run`, `create role`/`rolebinding`
//! and their cluster kinds): the `k8s\0` envelope and
//! the fields of the kinds those generators write, turned into JSON. A field the tables below do
//! not know, holding anything but its zero value, is refused (415) rather than dropped.

use base64::Engine;
use serde_json::{json, Map, Value};

use super::errors::ApiError;

#[derive(Clone, Copy)]
enum Kind {
    Str,
    Bytes,
    Int,
    Bool,
    Msg(&'static [Field]),
    MapStr,
    MapBytes,
    MapQuantity,
    IntOrString,
    Time,
}

#[derive(Clone, Copy)]
struct Field {
    num: u64,
    name: &'static str,
    kind: Kind,
    repeated: bool,
    /// A pointer in Go: present means set, even when zero.
    pointer: bool,
}

const fn f(num: u64, name: &'static str, kind: Kind) -> Field {
    Field { num, name, kind, repeated: false, pointer: false }
}
const fn p(num: u64, name: &'static str, kind: Kind) -> Field {
    Field { num, name, kind, repeated: false, pointer: true }
}
const fn r(num: u64, name: &'static str, kind: Kind) -> Field {
    Field { num, name, kind, repeated: true, pointer: false }
}

const OWNER_REFERENCE: &[Field] = &[
    f(1, "kind", Kind::Str),
    f(3, "name", Kind::Str),
    f(4, "uid", Kind::Str),
    f(5, "apiVersion", Kind::Str),
    p(6, "controller", Kind::Bool),
    p(7, "blockOwnerDeletion", Kind::Bool),
];
const OBJECT_META: &[Field] = &[
    f(1, "name", Kind::Str),
    f(2, "generateName", Kind::Str),
    f(3, "namespace", Kind::Str),
    f(5, "uid", Kind::Str),
    f(6, "resourceVersion", Kind::Str),
    f(7, "generation", Kind::Int),
    f(8, "creationTimestamp", Kind::Time),
    f(11, "labels", Kind::MapStr),
    f(12, "annotations", Kind::MapStr),
    r(13, "ownerReferences", Kind::Msg(OWNER_REFERENCE)),
    r(14, "finalizers", Kind::Str),
];
const LABEL_SELECTOR_REQUIREMENT: &[Field] =
    &[f(1, "key", Kind::Str), f(2, "operator", Kind::Str), r(3, "values", Kind::Str)];
const LABEL_SELECTOR: &[Field] =
    &[f(1, "matchLabels", Kind::MapStr), r(2, "matchExpressions", Kind::Msg(LABEL_SELECTOR_REQUIREMENT))];
const CONTAINER_PORT: &[Field] = &[
    f(1, "name", Kind::Str),
    f(2, "hostPort", Kind::Int),
    f(3, "containerPort", Kind::Int),
    f(4, "protocol", Kind::Str),
    f(5, "hostIP", Kind::Str),
];
const ENV_VAR: &[Field] = &[f(1, "name", Kind::Str), f(2, "value", Kind::Str)];
const RESOURCES: &[Field] = &[f(1, "limits", Kind::MapQuantity), f(2, "requests", Kind::MapQuantity)];
const EMPTY: &[Field] = &[];
const CONTAINER: &[Field] = &[
    f(1, "name", Kind::Str),
    f(2, "image", Kind::Str),
    r(3, "command", Kind::Str),
    r(4, "args", Kind::Str),
    f(5, "workingDir", Kind::Str),
    r(6, "ports", Kind::Msg(CONTAINER_PORT)),
    r(7, "env", Kind::Msg(ENV_VAR)),
    f(8, "resources", Kind::Msg(RESOURCES)),
    f(13, "terminationMessagePath", Kind::Str),
    f(14, "imagePullPolicy", Kind::Str),
    f(16, "stdin", Kind::Bool),
    f(17, "stdinOnce", Kind::Bool),
    f(18, "tty", Kind::Bool),
    f(20, "terminationMessagePolicy", Kind::Str),
];
const TOLERATION: &[Field] = &[
    f(1, "key", Kind::Str),
    f(2, "operator", Kind::Str),
    f(3, "value", Kind::Str),
    f(4, "effect", Kind::Str),
    p(5, "tolerationSeconds", Kind::Int),
];
const POD_SPEC: &[Field] = &[
    r(2, "containers", Kind::Msg(CONTAINER)),
    f(3, "restartPolicy", Kind::Str),
    p(4, "terminationGracePeriodSeconds", Kind::Int),
    p(5, "activeDeadlineSeconds", Kind::Int),
    f(6, "dnsPolicy", Kind::Str),
    f(7, "nodeSelector", Kind::MapStr),
    f(8, "serviceAccountName", Kind::Str),
    f(9, "serviceAccount", Kind::Str),
    f(10, "nodeName", Kind::Str),
    f(11, "hostNetwork", Kind::Bool),
    f(12, "hostPID", Kind::Bool),
    f(13, "hostIPC", Kind::Bool),
    f(14, "securityContext", Kind::Msg(EMPTY)),
    f(16, "hostname", Kind::Str),
    f(17, "subdomain", Kind::Str),
    f(19, "schedulerName", Kind::Str),
    r(20, "initContainers", Kind::Msg(CONTAINER)),
    r(22, "tolerations", Kind::Msg(TOLERATION)),
    f(24, "priorityClassName", Kind::Str),
    p(25, "priority", Kind::Int),
    p(29, "runtimeClassName", Kind::Str),
    p(30, "enableServiceLinks", Kind::Bool),
    p(31, "preemptionPolicy", Kind::Str),
    f(35, "setHostnameAsFQDN", Kind::Bool),
];
const POD_TEMPLATE_SPEC: &[Field] =
    &[f(1, "metadata", Kind::Msg(OBJECT_META)), f(2, "spec", Kind::Msg(POD_SPEC))];
const ROLLING_UPDATE_DEPLOYMENT: &[Field] =
    &[p(1, "maxUnavailable", Kind::IntOrString), p(2, "maxSurge", Kind::IntOrString)];
const DEPLOYMENT_STRATEGY: &[Field] =
    &[f(1, "type", Kind::Str), p(2, "rollingUpdate", Kind::Msg(ROLLING_UPDATE_DEPLOYMENT))];
const DEPLOYMENT_SPEC: &[Field] = &[
    p(1, "replicas", Kind::Int),
    p(2, "selector", Kind::Msg(LABEL_SELECTOR)),
    f(3, "template", Kind::Msg(POD_TEMPLATE_SPEC)),
    f(4, "strategy", Kind::Msg(DEPLOYMENT_STRATEGY)),
    f(5, "minReadySeconds", Kind::Int),
    p(6, "revisionHistoryLimit", Kind::Int),
    f(7, "paused", Kind::Bool),
    p(9, "progressDeadlineSeconds", Kind::Int),
];
const SERVICE_PORT: &[Field] = &[
    f(1, "name", Kind::Str),
    f(2, "protocol", Kind::Str),
    f(3, "port", Kind::Int),
    f(4, "targetPort", Kind::IntOrString),
    f(5, "nodePort", Kind::Int),
    p(6, "appProtocol", Kind::Str),
];
const SERVICE_SPEC: &[Field] = &[
    r(1, "ports", Kind::Msg(SERVICE_PORT)),
    f(2, "selector", Kind::MapStr),
    f(3, "clusterIP", Kind::Str),
    f(4, "type", Kind::Str),
    r(5, "externalIPs", Kind::Str),
    f(7, "sessionAffinity", Kind::Str),
    f(10, "externalName", Kind::Str),
    r(18, "clusterIPs", Kind::Str),
];
const NAMESPACE_SPEC: &[Field] = &[r(1, "finalizers", Kind::Str)];
const QUANTITY: &[Field] = &[f(1, "string", Kind::Str)];
const INT_OR_STRING: &[Field] =
    &[f(1, "type", Kind::Int), f(2, "intVal", Kind::Int), f(3, "strVal", Kind::Str)];
const TIME: &[Field] = &[f(1, "seconds", Kind::Int), f(2, "nanos", Kind::Int)];
const TYPE_META: &[Field] = &[f(1, "apiVersion", Kind::Str), f(2, "kind", Kind::Str)];
const UNKNOWN: &[Field] = &[f(1, "typeMeta", Kind::Msg(TYPE_META)), f(2, "raw", Kind::Bytes)];

/// The message fields of each kind kubectl's generators send: (group/version, kind, fields).
const KINDS: &[(&str, &str, &[Field])] = &[
    (
        "v1",
        "Namespace",
        &[
            f(1, "metadata", Kind::Msg(OBJECT_META)),
            f(2, "spec", Kind::Msg(NAMESPACE_SPEC)),
            f(3, "status", Kind::Msg(EMPTY)),
        ],
    ),
    (
        "v1",
        "ConfigMap",
        &[
            f(1, "metadata", Kind::Msg(OBJECT_META)),
            f(2, "data", Kind::MapStr),
            f(3, "binaryData", Kind::MapBytes),
            p(4, "immutable", Kind::Bool),
        ],
    ),
    (
        "v1",
        "Pod",
        &[
            f(1, "metadata", Kind::Msg(OBJECT_META)),
            f(2, "spec", Kind::Msg(POD_SPEC)),
            f(3, "status", Kind::Msg(EMPTY)),
        ],
    ),
    (
        "v1",
        "Service",
        &[
            f(1, "metadata", Kind::Msg(OBJECT_META)),
            f(2, "spec", Kind::Msg(SERVICE_SPEC)),
            f(3, "status", Kind::Msg(EMPTY)),
        ],
    ),
    (
        "apps/v1",
        "Deployment",
        &[
            f(1, "metadata", Kind::Msg(OBJECT_META)),
            f(2, "spec", Kind::Msg(DEPLOYMENT_SPEC)),
            f(3, "status", Kind::Msg(EMPTY)),
        ],
    ),
    // `kubectl create role|clusterrole|rolebinding|clusterrolebinding`.
    (
        "rbac.authorization.k8s.io/v1",
        "Role",
        &[f(1, "metadata", Kind::Msg(OBJECT_META)), r(2, "rules", Kind::Msg(POLICY_RULE))],
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        &[
            f(1, "metadata", Kind::Msg(OBJECT_META)),
            r(2, "rules", Kind::Msg(POLICY_RULE)),
            f(3, "aggregationRule", Kind::Msg(AGGREGATION_RULE)),
        ],
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        &[
            f(1, "metadata", Kind::Msg(OBJECT_META)),
            r(2, "subjects", Kind::Msg(SUBJECT)),
            f(3, "roleRef", Kind::Msg(ROLE_REF)),
        ],
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        &[
            f(1, "metadata", Kind::Msg(OBJECT_META)),
            r(2, "subjects", Kind::Msg(SUBJECT)),
            f(3, "roleRef", Kind::Msg(ROLE_REF)),
        ],
    ),
];
const POLICY_RULE: &[Field] = &[
    r(1, "verbs", Kind::Str),
    r(2, "apiGroups", Kind::Str),
    r(3, "resources", Kind::Str),
    r(4, "resourceNames", Kind::Str),
    r(5, "nonResourceURLs", Kind::Str),
];
const AGGREGATION_RULE: &[Field] = &[r(1, "clusterRoleSelectors", Kind::Msg(LABEL_SELECTOR))];
const SUBJECT: &[Field] = &[
    f(1, "kind", Kind::Str),
    f(2, "apiGroup", Kind::Str),
    f(3, "name", Kind::Str),
    f(4, "namespace", Kind::Str),
];
const ROLE_REF: &[Field] = &[f(1, "apiGroup", Kind::Str), f(2, "kind", Kind::Str), f(3, "name", Kind::Str)];

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

fn malformed() -> ApiError {
    ApiError::bad_request("the protobuf body of the request is malformed")
}

impl<'a> Reader<'a> {
    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn varint(&mut self) -> Result<u64, ApiError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.data.get(self.pos).ok_or_else(malformed)?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(malformed())
    }

    fn bytes(&mut self) -> Result<&'a [u8], ApiError> {
        let len = usize::try_from(self.varint()?).map_err(|_| malformed())?;
        let end = self.pos.checked_add(len).filter(|e| *e <= self.data.len()).ok_or_else(malformed)?;
        let out = &self.data[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn skip(&mut self, wire: u64) -> Result<bool, ApiError> {
        // Returns whether the skipped value was non-zero.
        Ok(match wire {
            0 => self.varint()? != 0,
            1 => {
                self.pos += 8;
                true
            }
            2 => !self.bytes()?.is_empty(),
            5 => {
                self.pos += 4;
                true
            }
            _ => return Err(malformed()),
        })
    }
}

fn string(bytes: &[u8]) -> Result<String, ApiError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| malformed())
}

fn map_entry(bytes: &[u8], value_kind: Kind) -> Result<(String, Value), ApiError> {
    let mut reader = Reader { data: bytes, pos: 0 };
    let (mut key, mut value) = (String::new(), Value::String(String::new()));
    while !reader.done() {
        let tag = reader.varint()?;
        match (tag >> 3, tag & 7) {
            (1, 2) => key = string(reader.bytes()?)?,
            (2, 2) => {
                let raw = reader.bytes()?;
                value = match value_kind {
                    Kind::MapBytes => json!(base64::engine::general_purpose::STANDARD.encode(raw)),
                    Kind::MapQuantity => {
                        let fields = decode_message(raw, QUANTITY, "quantity")?;
                        fields.get("string").cloned().unwrap_or(json!("0"))
                    }
                    _ => json!(string(raw)?),
                };
            }
            (_, wire) => {
                reader.skip(wire)?;
            }
        }
    }
    Ok((key, value))
}

fn decode_message(
    bytes: &[u8],
    fields: &'static [Field],
    path: &str,
) -> Result<Map<String, Value>, ApiError> {
    let mut reader = Reader { data: bytes, pos: 0 };
    let mut out = Map::new();
    while !reader.done() {
        let tag = reader.varint()?;
        let (num, wire) = (tag >> 3, tag & 7);
        let Some(field) = fields.iter().find(|f| f.num == num) else {
            if reader.skip(wire)? {
                return Err(ApiError::unsupported_body(&format!(
                    "application/vnd.kubernetes.protobuf (field {num} of {path} is not readable by the playground; send JSON or YAML, e.g. kubectl create -f)"
                )));
            }
            continue;
        };
        let child_path = format!("{path}.{}", field.name);
        let value = match (field.kind, wire) {
            (Kind::Str, 2) => json!(string(reader.bytes()?)?),
            (Kind::Bytes, 2) => json!(base64::engine::general_purpose::STANDARD.encode(reader.bytes()?)),
            (Kind::Int, 0) => json!(reader.varint()? as i64),
            (Kind::Bool, 0) => json!(reader.varint()? != 0),
            (Kind::Msg(inner), 2) => Value::Object(decode_message(reader.bytes()?, inner, &child_path)?),
            (Kind::MapStr | Kind::MapBytes | Kind::MapQuantity, 2) => {
                let (k, v) = map_entry(reader.bytes()?, field.kind)?;
                let map = out.entry(field.name).or_insert_with(|| json!({}));
                if let Some(m) = map.as_object_mut() {
                    m.insert(k, v);
                }
                continue;
            }
            (Kind::IntOrString, 2) => {
                let m = decode_message(reader.bytes()?, INT_OR_STRING, &child_path)?;
                if m.get("type").and_then(Value::as_i64) == Some(1) {
                    m.get("strVal").cloned().unwrap_or(json!(""))
                } else {
                    m.get("intVal").cloned().unwrap_or(json!(0))
                }
            }
            (Kind::Time, 2) => {
                let m = decode_message(reader.bytes()?, TIME, &child_path)?;
                match m
                    .get("seconds")
                    .and_then(Value::as_i64)
                    .and_then(|s| jiff::Timestamp::from_second(s).ok())
                {
                    Some(t) if t.as_second() != 0 => json!(super::clock::rfc3339(t)),
                    _ => Value::Null,
                }
            }
            _ => return Err(malformed()),
        };
        let empty = match &value {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Number(n) => n.as_i64() == Some(0),
            Value::Bool(b) => !b,
            Value::Object(m) => m.is_empty(),
            Value::Array(_) => false,
        };
        if field.repeated {
            if let Some(list) = out.entry(field.name).or_insert_with(|| json!([])).as_array_mut() {
                list.push(value);
            }
        } else if !empty || field.pointer {
            out.insert(field.name.to_string(), value);
        }
    }
    Ok(out)
}

/// Decode a `k8s\0`-framed protobuf body into the JSON object it stands for.
///
/// # Errors
/// 415 for a kind (or a non-zero field) the playground cannot read; 400 for a malformed body.
pub fn decode(body: &[u8]) -> Result<Value, ApiError> {
    let framed = body.strip_prefix(b"k8s\x00").ok_or_else(malformed)?;
    let envelope = decode_message(framed, UNKNOWN, "Unknown")?;
    let api_version =
        envelope.get("typeMeta").and_then(|t| t["apiVersion"].as_str()).unwrap_or("").to_string();
    let kind = envelope.get("typeMeta").and_then(|t| t["kind"].as_str()).unwrap_or("").to_string();
    let raw = envelope
        .get("raw")
        .and_then(Value::as_str)
        .and_then(|r| base64::engine::general_purpose::STANDARD.decode(r).ok())
        .unwrap_or_default();
    let (_, _, fields) = KINDS.iter().find(|(v, k, _)| *v == api_version && *k == kind).ok_or_else(|| {
        ApiError::unsupported_body(&format!(
            "application/vnd.kubernetes.protobuf ({api_version} {kind} is not readable by the playground; send JSON or YAML, e.g. kubectl create -f)"
        ))
    })?;
    let mut object = decode_message(&raw, fields, &kind)?;
    object.insert("apiVersion".into(), json!(api_version));
    object.insert("kind".into(), json!(kind));
    object.remove("status");
    Ok(Value::Object(object))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(num: u64, wire: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![(num << 3 | wire) as u8];
        if wire == 2 {
            out.push(payload.len() as u8);
        }
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn decodes_a_namespace_and_refuses_unknown_kinds() {
        let meta = [field(1, 2, b"ml"), field(2, 2, b""), field(8, 2, b"")].concat();
        let raw = [field(1, 2, &meta), field(2, 2, b""), field(3, 2, b"")].concat();
        let type_meta = [field(1, 2, b"v1"), field(2, 2, b"Namespace")].concat();
        let body = [b"k8s\x00".to_vec(), field(1, 2, &type_meta), field(2, 2, &raw)].concat();
        let object = decode(&body).unwrap();
        assert_eq!(object, json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ml"}}));
        let type_meta = [field(1, 2, b"v1"), field(2, 2, b"Secret")].concat();
        let body = [b"k8s\x00".to_vec(), field(1, 2, &type_meta), field(2, 2, &raw)].concat();
        assert_eq!(decode(&body).unwrap_err().code, 415);
    }
}
