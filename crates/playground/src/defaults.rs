//! Defaulting of built-in types as kube-apiserver does it on every create and update (the
//! `SetDefaults_*` functions and the admission plugins a default cluster runs), so that kubectl
//! and `rollout status` find the fields they rely on.

use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{json, Map, Value};

use super::resources::ResourceType;

/// Fill in the defaults of `object`, a `ty` about to be stored.
pub fn apply(ty: &ResourceType, object: &mut Value) {
    match (ty.group.as_str(), ty.plural.as_str()) {
        ("apps", "deployments") => deployment(object),
        ("apps", "replicasets") => replica_set(object),
        ("", "pods") => pod(object),
        ("", "services") => service(object),
        ("", "namespaces") => namespace(object),
        ("apiextensions.k8s.io", "customresourcedefinitions") => crd(object),
        _ => {
            if let Some(schemas) = &ty.schemas {
                let version = object["apiVersion"].as_str().and_then(|v| v.rsplit('/').next()).unwrap_or("");
                if let Some(schema) = schemas.get(version) {
                    super::schema::apply_defaults(schema, object);
                }
            }
        }
    }
}

fn map<'a>(value: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    let map = value.as_object_mut()?;
    let entry = map.entry(key.to_string()).or_insert_with(|| json!({}));
    if entry.is_null() {
        *entry = json!({});
    }
    entry.as_object_mut()
}

fn set_default(map: &mut Map<String, Value>, key: &str, value: Value) {
    if map.get(key).is_none_or(Value::is_null) {
        map.insert(key.to_string(), value);
    }
}

fn deployment(object: &mut Value) {
    let Some(spec) = map(object, "spec") else { return };
    set_default(spec, "replicas", json!(1));
    set_default(spec, "revisionHistoryLimit", json!(10));
    set_default(spec, "progressDeadlineSeconds", json!(600));
    let strategy = spec.entry("strategy").or_insert_with(|| json!({}));
    if let Some(strategy) = strategy.as_object_mut() {
        set_default(strategy, "type", json!("RollingUpdate"));
        if strategy["type"] == "RollingUpdate" {
            let rolling = strategy.entry("rollingUpdate").or_insert_with(|| json!({}));
            if let Some(rolling) = rolling.as_object_mut() {
                set_default(rolling, "maxUnavailable", json!("25%"));
                set_default(rolling, "maxSurge", json!("25%"));
            }
        }
    }
    if let Some(template) = spec.get_mut("template") {
        pod_template(template);
    }
}

fn replica_set(object: &mut Value) {
    let Some(spec) = map(object, "spec") else { return };
    set_default(spec, "replicas", json!(1));
    if let Some(template) = spec.get_mut("template") {
        pod_template(template);
    }
}

fn pod_template(template: &mut Value) {
    if let Some(spec) = template.get_mut("spec") {
        pod_spec(spec);
    }
}

/// Defaults of a PodSpec, in pods and in templates.
fn pod_spec(spec: &mut Value) {
    let Some(spec) = spec.as_object_mut() else { return };
    set_default(spec, "restartPolicy", json!("Always"));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "securityContext", json!({}));
    set_default(spec, "schedulerName", json!("default-scheduler"));
    for list in ["containers", "initContainers"] {
        if let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) {
            for c in containers {
                container(c);
            }
        }
    }
}

fn container(c: &mut Value) {
    let image = c["image"].as_str().unwrap_or("").to_string();
    let Some(c) = c.as_object_mut() else { return };
    set_default(c, "imagePullPolicy", json!(image_pull_policy(&image)));
    set_default(c, "terminationMessagePath", json!("/dev/termination-log"));
    set_default(c, "terminationMessagePolicy", json!("File"));
    set_default(c, "resources", json!({}));
    if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            set_default(p, "protocol", json!("TCP"));
        }
    }
    if let Some(env) = c.get_mut("env").and_then(Value::as_array_mut) {
        for e in env {
            if let Some(field_ref) = e.pointer_mut("/valueFrom/fieldRef").and_then(Value::as_object_mut) {
                set_default(field_ref, "apiVersion", json!("v1"));
            }
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get_mut(probe).and_then(Value::as_object_mut) {
            set_default(p, "timeoutSeconds", json!(1));
            set_default(p, "periodSeconds", json!(10));
            set_default(p, "successThreshold", json!(1));
            set_default(p, "failureThreshold", json!(3));
            if let Some(http) = p.get_mut("httpGet").and_then(Value::as_object_mut) {
                set_default(http, "path", json!("/"));
                set_default(http, "scheme", json!("HTTP"));
            }
        }
    }
}

/// `Always` for `:latest` or untagged images, else `IfNotPresent`.
pub fn image_pull_policy(image: &str) -> &'static str {
    if image.contains('@') {
        return "IfNotPresent";
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        None => "Always",
        Some((_, "latest")) => "Always",
        Some(_) => "IfNotPresent",
    }
}

/// Pods get the PodSpec defaults plus what admission adds (priority, tolerations, service
/// account, requests from limits) and an initial status.
fn pod(object: &mut Value) {
    if let Some(spec) = object.get_mut("spec") {
        pod_spec(spec);
        if let Some(spec) = spec.as_object_mut() {
            set_default(spec, "priority", json!(0));
            set_default(spec, "enableServiceLinks", json!(true));
            set_default(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
            set_default(spec, "serviceAccountName", json!("default"));
            set_default(spec, "serviceAccount", spec["serviceAccountName"].clone());
            let tolerations = spec.entry("tolerations").or_insert_with(|| json!([]));
            if let Some(list) = tolerations.as_array_mut() {
                for key in ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"] {
                    let has = list
                        .iter()
                        .any(|t| t["key"] == key || (t["operator"] == "Exists" && t["key"].is_null()));
                    if !has {
                        list.push(json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}));
                    }
                }
            }
            if let Some(containers) = spec.get_mut("containers").and_then(Value::as_array_mut) {
                for c in containers {
                    if let Some(limits) = c.pointer("/resources/limits").cloned() {
                        if let (Some(limits), Some(resources)) =
                            (limits.as_object(), c["resources"].as_object_mut())
                        {
                            let requests = resources.entry("requests").or_insert_with(|| json!({}));
                            if let Some(requests) = requests.as_object_mut() {
                                for (k, v) in limits {
                                    requests.entry(k.clone()).or_insert_with(|| v.clone());
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    if object["status"].is_null() || object["status"]["phase"].is_null() {
        let qos = qos_class(&object["spec"]);
        if let Some(status) = map(object, "status") {
            set_default(status, "phase", json!("Pending"));
            set_default(status, "qosClass", json!(qos));
        }
    }
}

/// The pod's QoS class from its containers' requests and limits.
pub fn qos_class(spec: &Value) -> &'static str {
    let containers = spec["containers"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let mut any = false;
    let mut guaranteed = !containers.is_empty();
    for c in containers {
        let requests = c["resources"]["requests"].as_object();
        let limits = c["resources"]["limits"].as_object();
        if requests.is_some_and(|r| !r.is_empty()) || limits.is_some_and(|l| !l.is_empty()) {
            any = true;
        }
        for resource in ["cpu", "memory"] {
            let limit = limits.and_then(|l| l.get(resource));
            let request = requests.and_then(|r| r.get(resource)).or(limit);
            if limit.is_none() || request != limit {
                guaranteed = false;
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

static NEXT_CLUSTER_IP: AtomicU32 = AtomicU32::new(10);
static NEXT_NODE_PORT: AtomicU32 = AtomicU32::new(30000);

fn service(object: &mut Value) {
    let Some(spec) = map(object, "spec") else { return };
    set_default(spec, "type", json!("ClusterIP"));
    set_default(spec, "sessionAffinity", json!("None"));
    set_default(spec, "internalTrafficPolicy", json!("Cluster"));
    let kind = spec["type"].as_str().unwrap_or("ClusterIP").to_string();
    if kind != "ExternalName" {
        if spec.get("clusterIP").is_none_or(|ip| ip.is_null() || ip == "") {
            let n = NEXT_CLUSTER_IP.fetch_add(1, Ordering::Relaxed);
            spec.insert("clusterIP".into(), json!(format!("10.96.{}.{}", (n >> 8) & 0xff, n & 0xff)));
        }
        let ip = spec["clusterIP"].clone();
        set_default(spec, "clusterIPs", json!([ip]));
        set_default(spec, "ipFamilies", json!(["IPv4"]));
        set_default(spec, "ipFamilyPolicy", json!("SingleStack"));
    }
    if kind == "NodePort" || kind == "LoadBalancer" {
        set_default(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            set_default(p, "protocol", json!("TCP"));
            let port = p.get("port").cloned().unwrap_or(Value::Null);
            set_default(p, "targetPort", port);
            if (kind == "NodePort" || kind == "LoadBalancer") && p.get("nodePort").is_none_or(Value::is_null)
            {
                p.insert("nodePort".into(), json!(NEXT_NODE_PORT.fetch_add(1, Ordering::Relaxed)));
            }
        }
    }
    if object["status"].is_null() {
        object["status"] = json!({"loadBalancer": {}});
    }
}

fn namespace(object: &mut Value) {
    let name = object["metadata"]["name"].clone();
    if let Some(meta) = map(object, "metadata") {
        let labels = meta.entry("labels").or_insert_with(|| json!({}));
        if labels.is_null() {
            *labels = json!({});
        }
        if let Some(labels) = labels.as_object_mut() {
            labels.insert("kubernetes.io/metadata.name".into(), name);
        }
    }
    if let Some(spec) = map(object, "spec") {
        set_default(spec, "finalizers", json!(["kubernetes"]));
    }
    if let Some(status) = map(object, "status") {
        set_default(status, "phase", json!("Active"));
    }
}

fn crd(object: &mut Value) {
    if let Some(spec) = map(object, "spec") {
        set_default(spec, "conversion", json!({"strategy": "None"}));
        if let Some(names) = spec.get_mut("names").and_then(Value::as_object_mut) {
            let kind = names.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
            set_default(names, "singular", json!(kind.to_ascii_lowercase()));
            set_default(names, "listKind", json!(format!("{kind}List")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policy_follows_the_tag() {
        assert_eq!(image_pull_policy("nginx"), "Always");
        assert_eq!(image_pull_policy("nginx:latest"), "Always");
        assert_eq!(image_pull_policy("registry:5000/nginx"), "Always");
        assert_eq!(image_pull_policy("registry:5000/nginx:1.2"), "IfNotPresent");
        assert_eq!(image_pull_policy("nginx@sha256:abc"), "IfNotPresent");
    }

    #[test]
    fn qos_classes() {
        assert_eq!(qos_class(&json!({"containers": [{"name": "a"}]})), "BestEffort");
        let g = json!({"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]});
        assert_eq!(qos_class(&g), "Guaranteed");
        let b = json!({"containers": [{"resources": {"requests": {"cpu": "1"}}}]});
        assert_eq!(qos_class(&b), "Burstable");
    }
}
