//! Server-side printing: the `meta.k8s.io/v1 Table` kube-apiserver returns when kubectl asks for
//! `as=Table`, with the columns kubectl shows for each built-in kind (and `-o wide`'s extra
//! columns at priority 1), and a CRD's additionalPrinterColumns.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};

use super::resources::ResourceType;

/// Go's `duration.HumanDuration`, as `AGE` columns show it.
pub fn human_duration(seconds: i64) -> String {
    if seconds < 0 {
        return "<invalid>".into();
    }
    let (s, m, h, d) = (seconds, seconds / 60, seconds / 3600, seconds / 86400);
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        if s % 60 == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{}s", s % 60)
        }
    } else if h < 3 {
        format!("{m}m")
    } else if h < 8 {
        if m % 60 == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{}m", m % 60)
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 192 {
        if h % 24 == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{}h", h % 24)
        }
    } else if d < 365 * 2 {
        format!("{d}d")
    } else if d < 365 * 8 {
        let y = d / 365;
        if d % 365 == 0 {
            format!("{y}y")
        } else {
            format!("{y}y{}d", d % 365)
        }
    } else {
        format!("{}y", d / 365)
    }
}

fn age(timestamp: &Value) -> String {
    let Some(t) = timestamp.as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok()) else {
        return "<unknown>".into();
    };
    human_duration(jiff::Timestamp::now().as_second() - t.as_second())
}

fn col(name: &str, ty: &str, priority: u8) -> Value {
    let format = if name == "Name" { "name" } else { "" };
    json!({"name": name, "type": ty, "format": format, "description": "", "priority": priority})
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn or_none(text: String) -> String {
    if text.is_empty() {
        "<none>".into()
    } else {
        text
    }
}

fn containers_and_images(template_spec: &Value) -> (String, String) {
    let cs = template_spec["containers"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let names: Vec<String> = cs.iter().map(|c| s(&c["name"])).collect();
    let images: Vec<String> = cs.iter().map(|c| s(&c["image"])).collect();
    (names.join(","), images.join(","))
}

fn pod_status(pod: &Value) -> (String, i64, i64, i64) {
    let statuses = pod["status"]["containerStatuses"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let total = pod["spec"]["containers"].as_array().map_or(0, Vec::len) as i64;
    let ready = statuses.iter().filter(|c| c["ready"] == true).count() as i64;
    let restarts: i64 = statuses.iter().map(|c| int(&c["restartCount"])).sum();
    let mut reason = pod["status"]["reason"].as_str().unwrap_or("").to_string();
    if reason.is_empty() {
        reason = pod["status"]["phase"].as_str().unwrap_or("").to_string();
    }
    for c in statuses.iter().rev() {
        if let Some(r) = c["state"]["waiting"]["reason"].as_str().filter(|r| !r.is_empty()) {
            reason = r.to_string();
        } else if let Some(r) = c["state"]["terminated"]["reason"].as_str().filter(|r| !r.is_empty()) {
            reason = r.to_string();
        }
    }
    if !pod["metadata"]["deletionTimestamp"].is_null() {
        reason = "Terminating".into();
    }
    (reason, ready, total, restarts)
}

fn service_ports(spec: &Value) -> String {
    let ports: Vec<String> = spec["ports"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    let node = p["nodePort"].as_i64().map(|n| format!(":{n}")).unwrap_or_default();
                    format!("{}{node}/{}", int(&p["port"]), p["protocol"].as_str().unwrap_or("TCP"))
                })
                .collect()
        })
        .unwrap_or_default();
    or_none(ports.join(","))
}

fn selector_text(selector: &Value) -> String {
    or_none(super::selectors::selector_string(selector))
}

fn map_selector(selector: &Value) -> String {
    let parts: Vec<String> = selector
        .as_object()
        .map(|m| m.iter().map(|(k, v)| format!("{k}={}", s(v))).collect())
        .unwrap_or_default();
    or_none(parts.join(","))
}

/// The values a printer column's JSONPath selects (`.spec.replicas`, `.spec.hosts[*]`,
/// `.metadata.labels['a\\.b/c']`, `.status.conditions[?(@.type=="Ready")].status`).
fn json_path(object: &Value, path: &str) -> Vec<Value> {
    let mut values = vec![object.clone()];
    let path = path.trim().trim_start_matches('{').trim_end_matches('}').trim_start_matches('.');
    for part in split_path(path) {
        let mut next = Vec::new();
        for v in &values {
            if let Some(filter) = part.strip_prefix("[?(@.").and_then(|p| p.strip_suffix(")]")) {
                let (field, want) = filter.split_once("==").unwrap_or((filter, ""));
                let want = want.trim().trim_matches(|c| c == '"' || c == '\'');
                let field = field.trim();
                if let Some(items) = v.as_array() {
                    next.extend(items.iter().filter(|i| i[field].as_str() == Some(want)).cloned());
                }
            } else if part == "[*]" {
                match v {
                    Value::Array(items) => next.extend(items.iter().cloned()),
                    Value::Object(map) => next.extend(map.values().cloned()),
                    _ => {}
                }
            } else if let Some(inner) = part.strip_prefix('[').and_then(|p| p.strip_suffix(']')) {
                let quoted = inner.strip_prefix('\'').and_then(|k| k.strip_suffix('\''));
                let quoted = quoted.or_else(|| inner.strip_prefix('"').and_then(|k| k.strip_suffix('"')));
                if let Some(key) = quoted {
                    if let Some(found) = v.get(key.replace("\\.", ".")) {
                        next.push(found.clone());
                    }
                } else if let Some(found) = inner.parse::<usize>().ok().and_then(|i| v.get(i)) {
                    next.push(found.clone());
                }
            } else if let Some(found) = v.get(part) {
                next.push(found.clone());
            }
        }
        values = next;
    }
    values
}

/// A printer column's cell from its JSONPath results, as kube-apiserver prints them.
fn column_cell(values: Vec<Value>) -> Value {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match values.as_slice() {
        [] => Value::Null,
        [one @ (Value::String(_) | Value::Number(_) | Value::Bool(_))] => one.clone(),
        [one] => Value::String(one.to_string()),
        many => Value::String(many.iter().map(text).collect::<Vec<_>>().join(" ")),
    }
}

fn split_path(path: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'.' => {
                if i > start {
                    parts.push(&path[start..i]);
                }
                start = i + 1;
            }
            b'[' => {
                if i > start {
                    parts.push(&path[start..i]);
                }
                // The closing bracket of this segment, skipping brackets inside quotes.
                let mut end = i + 1;
                let mut quote = None;
                while end < bytes.len() {
                    match (bytes[end], quote) {
                        (b'\'' | b'"', None) => quote = Some(bytes[end]),
                        (c, Some(q)) if c == q => quote = None,
                        (b']', None) => break,
                        _ => {}
                    }
                    end += 1;
                }
                let end = (end + 1).min(path.len());
                parts.push(&path[i..end]);
                i = end;
                start = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    if start < path.len() {
        parts.push(&path[start..]);
    }
    parts
}

/// Column definitions and cells for one kind.
fn columns(ty: &ResourceType) -> Vec<Value> {
    let cols: &[(&str, &str, u8)] = match (ty.group.as_str(), ty.plural.as_str()) {
        ("", "pods") => &[
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Status", "string", 0),
            ("Restarts", "string", 0),
            ("Age", "string", 0),
            ("IP", "string", 1),
            ("Node", "string", 1),
            ("Nominated Node", "string", 1),
            ("Readiness Gates", "string", 1),
        ],
        ("apps", "deployments") => &[
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Up-to-date", "integer", 0),
            ("Available", "integer", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        ("apps", "replicasets") => &[
            ("Name", "string", 0),
            ("Desired", "integer", 0),
            ("Current", "integer", 0),
            ("Ready", "integer", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        ("", "services") => &[
            ("Name", "string", 0),
            ("Type", "string", 0),
            ("Cluster-IP", "string", 0),
            ("External-IP", "string", 0),
            ("Port(s)", "string", 0),
            ("Age", "string", 0),
            ("Selector", "string", 1),
        ],
        ("", "namespaces") => &[("Name", "string", 0), ("Status", "string", 0), ("Age", "string", 0)],
        ("", "nodes") => &[
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Roles", "string", 0),
            ("Age", "string", 0),
            ("Version", "string", 0),
            ("Internal-IP", "string", 1),
            ("External-IP", "string", 1),
            ("OS-Image", "string", 1),
            ("Kernel-Version", "string", 1),
            ("Container-Runtime", "string", 1),
        ],
        ("", "configmaps") => &[("Name", "string", 0), ("Data", "string", 0), ("Age", "string", 0)],
        ("", "events") => &[
            ("Last Seen", "string", 0),
            ("Type", "string", 0),
            ("Reason", "string", 0),
            ("Object", "string", 0),
            ("Message", "string", 0),
            ("Source", "string", 1),
            ("First Seen", "string", 1),
            ("Count", "string", 1),
            ("Name", "string", 1),
        ],
        ("discovery.k8s.io", "endpointslices") => &[
            ("Name", "string", 0),
            ("AddressType", "string", 0),
            ("Ports", "string", 0),
            ("Endpoints", "string", 0),
            ("Age", "string", 0),
        ],
        ("apiextensions.k8s.io", _) => &[("Name", "string", 0), ("Created At", "date", 0)],
        ("coordination.k8s.io", "leases") => {
            &[("Name", "string", 0), ("Holder", "string", 0), ("Age", "string", 0)]
        }
        _ => &[],
    };
    if !cols.is_empty() {
        return cols.iter().map(|(n, t, p)| col(n, t, *p)).collect();
    }
    let mut out = vec![col("Name", "string", 0)];
    let printer = printer_columns(ty);
    if printer.is_empty() {
        out.push(col("Age", "date", 0));
    }
    for c in printer {
        out.push(json!({"name": c["name"], "type": c["type"].as_str().unwrap_or("string"), "format": c["format"].as_str().unwrap_or(""), "description": c["description"].as_str().unwrap_or(""), "priority": c["priority"].as_i64().unwrap_or(0)}));
    }
    out
}

fn printer_columns(ty: &ResourceType) -> Vec<Value> {
    ty.printer_columns.clone()
}

fn cells(ty: &ResourceType, o: &Value) -> Vec<Value> {
    let name = json!(o["metadata"]["name"]);
    let created = age(&o["metadata"]["creationTimestamp"]);
    let spec = &o["spec"];
    let status = &o["status"];
    match (ty.group.as_str(), ty.plural.as_str()) {
        ("", "pods") => {
            let (reason, ready, total, restarts) = pod_status(o);
            let gates = spec["readinessGates"].as_array().map_or(0, Vec::len);
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(reason),
                json!(restarts.to_string()),
                json!(created),
                json!(or_none(s(&status["podIP"]))),
                json!(or_none(s(&spec["nodeName"]))),
                json!(or_none(s(&status["nominatedNodeName"]))),
                json!(if gates == 0 { "<none>".to_string() } else { format!("0/{gates}") }),
            ]
        }
        ("apps", "deployments") => {
            let (containers, images) = containers_and_images(&spec["template"]["spec"]);
            vec![
                name,
                json!(format!("{}/{}", int(&status["readyReplicas"]), int(&spec["replicas"]))),
                json!(int(&status["updatedReplicas"])),
                json!(int(&status["availableReplicas"])),
                json!(created),
                json!(containers),
                json!(images),
                json!(selector_text(&spec["selector"])),
            ]
        }
        ("apps", "replicasets") => {
            let (containers, images) = containers_and_images(&spec["template"]["spec"]);
            vec![
                name,
                json!(int(&spec["replicas"])),
                json!(int(&status["replicas"])),
                json!(int(&status["readyReplicas"])),
                json!(created),
                json!(containers),
                json!(images),
                json!(selector_text(&spec["selector"])),
            ]
        }
        ("", "services") => {
            let external = service_external_ip(spec, status);
            vec![
                name,
                json!(s(&spec["type"])),
                json!(or_none(s(&spec["clusterIP"]))),
                json!(external),
                json!(service_ports(spec)),
                json!(created),
                json!(map_selector(&spec["selector"])),
            ]
        }
        ("", "namespaces") => vec![name, json!(s(&status["phase"])), json!(created)],
        ("", "nodes") => node_cells(name, o, created),
        ("coordination.k8s.io", "leases") => vec![name, json!(s(&spec["holderIdentity"])), json!(created)],
        ("", "configmaps") => {
            let n = o["data"].as_object().map_or(0, |m| m.len())
                + o["binaryData"].as_object().map_or(0, |m| m.len());
            vec![name, json!(n), json!(created)]
        }
        ("", "events") => {
            let last = if o["lastTimestamp"].is_null() { &o["eventTime"] } else { &o["lastTimestamp"] };
            let obj = &o["involvedObject"];
            vec![
                json!(age(last)),
                json!(s(&o["type"])),
                json!(s(&o["reason"])),
                json!(format!("{}/{}", s(&obj["kind"]).to_ascii_lowercase(), s(&obj["name"]))),
                json!(s(&o["message"])),
                json!(s(&o["source"]["component"])),
                json!(age(&o["firstTimestamp"])),
                json!(int(&o["count"]).to_string()),
                name,
            ]
        }
        ("discovery.k8s.io", "endpointslices") => endpoint_slice_cells(name, o, created),
        ("apiextensions.k8s.io", _) => vec![name, json!(s(&o["metadata"]["creationTimestamp"]))],
        _ => custom_resource_cells(ty, name, o, created),
    }
}

/// A node's row: readiness, roles from `node-role.kubernetes.io/*` labels, addresses and
/// versions, as `kubectl get nodes -o wide`.
fn node_cells(name: Value, o: &Value, created: String) -> Vec<Value> {
    let status = &o["status"];
    let ready = status["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .map_or("Unknown", |c| if c["status"] == "True" { "Ready" } else { "NotReady" });
    let mut roles: Vec<String> = o["metadata"]["labels"]
        .as_object()
        .map(|l| {
            l.keys().filter_map(|k| k.strip_prefix("node-role.kubernetes.io/").map(str::to_string)).collect()
        })
        .unwrap_or_default();
    roles.sort();
    let ip = |kind: &str| {
        status["addresses"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["type"] == kind))
            .map(|x| s(&x["address"]))
            .unwrap_or_else(|| "<none>".into())
    };
    let info = &status["nodeInfo"];
    vec![
        name,
        json!(ready),
        json!(or_none(roles.join(","))),
        json!(created),
        json!(s(&info["kubeletVersion"])),
        json!(ip("InternalIP")),
        json!(ip("ExternalIP")),
        json!(s(&info["osImage"])),
        json!(s(&info["kernelVersion"])),
        json!(s(&info["containerRuntimeVersion"])),
    ]
}

/// An EndpointSlice's row: ports, and the first three addresses (`+ N more...`).
fn endpoint_slice_cells(name: Value, o: &Value, created: String) -> Vec<Value> {
    let ports: Vec<String> = o["ports"]
        .as_array()
        .map(|a| a.iter().map(|p| int(&p["port"]).to_string()).collect())
        .unwrap_or_default();
    let addrs: Vec<String> = o["endpoints"]
        .as_array()
        .map(|a| {
            a.iter()
                .flat_map(|e| e["addresses"].as_array().cloned().unwrap_or_default())
                .map(|x| s(&x))
                .collect()
        })
        .unwrap_or_default();
    let shown = if addrs.len() > 3 {
        format!("{} + {} more...", addrs[..3].join(","), addrs.len() - 3)
    } else {
        or_none(addrs.join(","))
    };
    vec![name, json!(s(&o["addressType"])), json!(or_none(ports.join(","))), json!(shown), json!(created)]
}

/// A custom resource's row: its CRD's printer columns (AGE when it declares none).
fn custom_resource_cells(ty: &ResourceType, name: Value, o: &Value, created: String) -> Vec<Value> {
    let mut out = vec![name];
    let printer = printer_columns(ty);
    if printer.is_empty() {
        out.push(json!(created));
    }
    for c in printer {
        let v = column_cell(json_path(o, c["jsonPath"].as_str().unwrap_or("")));
        if c["type"] == "date" {
            out.push(json!(age(&v)));
        } else {
            out.push(v);
        }
    }
    out
}

/// A Service's EXTERNAL-IP column.
fn service_external_ip(spec: &Value, status: &Value) -> String {
    match spec["type"].as_str() {
        Some("LoadBalancer") => {
            let ips: Vec<String> = status["loadBalancer"]["ingress"]
                .as_array()
                .map(|a| a.iter().map(|i| s(&i["ip"])).collect())
                .unwrap_or_default();
            if ips.is_empty() {
                "<pending>".to_string()
            } else {
                ips.join(",")
            }
        }
        Some("ExternalName") => s(&spec["externalName"]),
        _ => "<none>".to_string(),
    }
}

/// The Table for `items` (one row each). `list_metadata` is the list's metadata; the
/// `includeObject` query parameter says what each row's `object` carries.
pub fn table(
    ty: &ResourceType,
    items: &[Arc<Value>],
    list_metadata: Option<Value>,
    query: &BTreeMap<String, String>,
) -> Value {
    let include = query.get("includeObject").map(String::as_str).unwrap_or("Metadata");
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            let object = match include {
                "None" => Value::Null,
                "Object" => (**o).clone(),
                _ => json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}),
            };
            let mut row = json!({"cells": cells(ty, o)});
            if !object.is_null() {
                row["object"] = object;
            }
            row
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_metadata.unwrap_or_else(|| json!({"resourceVersion": items.first().map(|o| o["metadata"]["resourceVersion"].clone()).unwrap_or(Value::Null)})),
        "columnDefinitions": columns(ty),
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_kubectl() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(150), "2m30s");
        assert_eq!(human_duration(3600), "60m");
        assert_eq!(human_duration(4 * 3600 + 60), "4h1m");
        assert_eq!(human_duration(3 * 86400), "3d");
    }

    #[test]
    fn json_paths() {
        let o = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}, "spec": {"hosts": ["a", "b"]},
                       "metadata": {"labels": {"serving.knative.dev/configuration": "fraud"}}});
        let cell = |p: &str| column_cell(json_path(&o, p));
        assert_eq!(cell(".status.conditions[?(@.type==\"Ready\")].status"), "True");
        assert_eq!(cell(".status.conditions[?(@.type=='Ready')].status"), "True");
        assert_eq!(cell(".spec.hosts[1]"), "b");
        assert_eq!(cell(".spec.hosts"), "[\"a\",\"b\"]");
        assert_eq!(cell(".spec.hosts[*]"), "a b");
        assert_eq!(cell(".metadata.labels['serving\\.knative\\.dev/configuration']"), "fraud");
        assert_eq!(cell(".spec.missing"), Value::Null);
    }
}
