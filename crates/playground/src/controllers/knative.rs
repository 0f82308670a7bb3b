//! Knative Serving's decisions for a `serving.knative.dev/v1` Service: the webhook's validation
//! (traffic summing to 100, tags, revision names), revision naming, and the resolved traffic and
//! conditions the Service, Configuration and Route controllers report.

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// The Knative Serving API group.
pub const GROUP: &str = "serving.knative.dev";
/// Label on Revisions and their Deployments naming the ksvc.
pub const SERVICE_LABEL: &str = "serving.knative.dev/service";
/// Label naming the Configuration.
pub const CONFIGURATION_LABEL: &str = "serving.knative.dev/configuration";
/// Label with the Configuration generation a Revision was stamped from.
pub const CONFIGURATION_GENERATION_LABEL: &str = "serving.knative.dev/configurationGeneration";
/// Label naming the Revision (on its Deployment and pods).
pub const REVISION_LABEL: &str = "serving.knative.dev/revision";
/// Label with the Revision's uid (the Deployment's selector).
pub const REVISION_UID_LABEL: &str = "serving.knative.dev/revisionUID";
/// Knative's default domain when none is configured.
pub const DOMAIN: &str = "example.com";
/// The webhook that validates Knative Serving objects.
pub const VALIDATING_WEBHOOK: &str = "validation.webhook.serving.knative.dev";

/// One error of a Knative `apis.FieldError`: a message, the field paths, optional details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub message: String,
    pub paths: Vec<String>,
    pub details: String,
}

/// `apis.FieldError.Error()`: errors with the same message merged, sorted, one per line.
pub fn format_field_errors(errors: &[FieldError]) -> String {
    let mut merged: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for e in errors {
        merged.entry((e.message.clone(), e.details.clone())).or_default().extend(e.paths.iter().cloned());
    }
    merged
        .into_iter()
        .map(|((message, details), mut paths)| {
            paths.sort();
            paths.dedup();
            if details.is_empty() {
                format!("{message}: {}", paths.join(", "))
            } else {
                format!("{message}: {}\n{details}", paths.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The Knative webhook's denial of a ksvc: every field error it found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("validation failed: {}", format_field_errors(.errors))]
pub struct ValidationFailed {
    pub errors: Vec<FieldError>,
}

fn error(message: impl Into<String>, path: impl Into<String>) -> FieldError {
    FieldError { message: message.into(), paths: vec![path.into()], details: String::new() }
}

/// The Knative webhook's validation of a ksvc's traffic and template name (create and update).
/// A denial reads `validation failed: …`, as the webhook words it.
///
/// # Errors
/// [`ValidationFailed`] with the field errors.
pub fn validate_service(service: &Value, old: Option<&Value>) -> Result<(), ValidationFailed> {
    let mut errors = Vec::new();
    let name = service.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    let template_name = service.pointer("/spec/template/metadata/name").and_then(Value::as_str).unwrap_or("");
    if !template_name.is_empty() && !name.is_empty() {
        let prefix = format!("{name}-");
        if !template_name.starts_with(&prefix) {
            errors.push(error(
                format!("invalid value: {template_name:?} must have prefix {prefix:?}"),
                "spec.template.metadata.name",
            ));
        }
    }
    if let Some(traffic) = service.pointer("/spec/traffic").and_then(Value::as_array) {
        let mut tags: BTreeMap<String, usize> = BTreeMap::new();
        let mut sum = 0i64;
        for (i, target) in traffic.iter().enumerate() {
            let at = |field: &str| format!("spec.traffic[{i}].{field}");
            let revision = target.get("revisionName").and_then(Value::as_str).unwrap_or("");
            let configuration = target.get("configurationName").and_then(Value::as_str).unwrap_or("");
            if let Some(latest) = target.get("latestRevision").and_then(Value::as_bool) {
                let pinned = !revision.is_empty();
                if pinned == latest {
                    errors.push(error(
                        format!("may not set revisionName {revision:?} when latestRevision is {latest}"),
                        at("latestRevision"),
                    ));
                }
            }
            if !configuration.is_empty() {
                errors.push(error("must not set the field(s)", at("configurationName")));
            } else if !revision.is_empty() && !is_qualified_name(revision) {
                errors.push(error(format!("invalid key name {revision:?}"), at("revisionName")));
            }
            let percent = target.get("percent").and_then(Value::as_i64);
            if let Some(p) = percent {
                if !(0..=100).contains(&p) {
                    errors.push(error(format!("expected 0 <= {p} <= 100"), at("percent")));
                }
                sum += p;
            }
            if target.get("url").and_then(Value::as_str).is_some_and(|u| !u.is_empty()) {
                errors.push(error("must not set the field(s)", at("url")));
            }
            let Some(tag) = target.get("tag").and_then(Value::as_str).filter(|t| !t.is_empty()) else {
                continue;
            };
            if !crate::names::is_dns1035_label(tag) {
                errors.push(error(
                    "invalid value: not a DNS 1035 label: [a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')]",
                    format!("spec.traffic.tag[{i}]"),
                ));
            }
            match tags.get(tag) {
                Some(first) => errors.push(FieldError {
                    message: format!("Multiple definitions for {tag:?}"),
                    paths: vec![format!("spec.traffic[{i}].tag"), format!("spec.traffic[{first}].tag")],
                    details: String::new(),
                }),
                None => {
                    tags.insert(tag.to_string(), i);
                }
            }
        }
        if sum != 100 {
            errors.push(error(format!("Traffic targets sum to {sum}, want 100"), "spec.traffic"));
        }
    }
    if let (Some(old), false) = (old, template_name.is_empty()) {
        let old_template = old.pointer("/spec/template").cloned().unwrap_or(Value::Null);
        let new_template = service.pointer("/spec/template").cloned().unwrap_or(Value::Null);
        let old_name = old_template.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
        if old_name == template_name && old_template != new_template {
            errors.push(FieldError {
                message: "Saw the following changes without a name change (-old +new)".into(),
                paths: vec!["spec.template.metadata.name".into()],
                details: format!("-: {old_template}\n+: {new_template}"),
            });
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ValidationFailed { errors })
    }
}

fn is_qualified_name(text: &str) -> bool {
    let name = text.rsplit('/').next().unwrap_or(text);
    !name.is_empty()
        && name.len() <= 63
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// The name of Knative's defaulting webhook.
pub const DEFAULTING_WEBHOOK: &str = "webhook.serving.knative.dev";

/// The defaulting webhook's work on a ksvc (Knative's `Service.SetDefaults`): all traffic to the
/// latest revision when none is given, `latestRevision` spelled out on every traffic target, and
/// the revision template's defaults (the serving container named `user-container`, a TCP
/// readiness probe, `timeoutSeconds: 300`, `containerConcurrency: 0`, no service links).
pub fn default_service(service: &mut Value) {
    let Some(spec) = service.get_mut("spec").and_then(Value::as_object_mut) else { return };
    let empty = spec.get("traffic").and_then(Value::as_array).is_none_or(|t| t.is_empty());
    if empty {
        spec.insert("traffic".into(), json!([{ "latestRevision": true, "percent": 100 }]));
    }
    if let Some(traffic) = spec.get_mut("traffic").and_then(Value::as_array_mut) {
        for target in traffic.iter_mut().filter_map(Value::as_object_mut) {
            if target.get("latestRevision").is_none_or(Value::is_null) {
                let named = target.get("revisionName").and_then(Value::as_str).is_some_and(|n| !n.is_empty());
                target.insert("latestRevision".into(), json!(!named));
            }
        }
    }
    let Some(template) =
        spec.get_mut("template").and_then(|t| t.get_mut("spec")).and_then(Value::as_object_mut)
    else {
        return;
    };
    let mut set = |key: &str, value: Value| {
        if template.get(key).is_none_or(Value::is_null) {
            template.insert(key.into(), value);
        }
    };
    set("timeoutSeconds", json!(300));
    set("containerConcurrency", json!(0));
    set("enableServiceLinks", json!(false));
    let Some(containers) = template.get_mut("containers").and_then(Value::as_array_mut) else { return };
    let single = containers.len() == 1;
    for (i, container) in containers.iter_mut().filter_map(Value::as_object_mut).enumerate() {
        if container.get("name").and_then(Value::as_str).is_none_or(str::is_empty) {
            let name = if single { "user-container".to_string() } else { format!("user-container-{i}") };
            container.insert("name".into(), json!(name));
        }
        container.entry("resources").or_insert_with(|| json!({}));
        // The serving container (the one with a port, or the only one) gets a readiness probe.
        let serving =
            single || container.get("ports").and_then(Value::as_array).is_some_and(|p| !p.is_empty());
        if serving {
            let probe = container.entry("readinessProbe").or_insert_with(|| json!({}));
            if let Some(probe) = probe.as_object_mut() {
                let has_handler =
                    ["tcpSocket", "httpGet", "exec", "grpc"].iter().any(|h| probe.contains_key(*h));
                if !has_handler {
                    probe.insert("tcpSocket".into(), json!({"port": 0}));
                }
                probe.entry("successThreshold").or_insert(json!(1));
            }
        }
    }
}

/// The name of the Revision stamped from a template: its own name, else `NAME-0000N` from the
/// Configuration's generation.
pub fn revision_name(service_name: &str, template: &Value, configuration_generation: i64) -> String {
    match template.pointer("/metadata/name").and_then(Value::as_str).filter(|n| !n.is_empty()) {
        Some(name) => name.to_string(),
        None => format!("{service_name}-{configuration_generation:05}"),
    }
}

/// What the Revision controller knows about one Revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionState {
    pub name: String,
    /// `Some(true)` ready, `Some(false)` failed, `None` still deploying.
    pub ready: Option<bool>,
    /// Why it failed, when it did.
    pub message: String,
}

/// A Knative condition (no lastUpdateTime; severity only when not Error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnativeCondition {
    pub type_: String,
    pub status: String,
    pub reason: String,
    pub message: String,
}

impl KnativeCondition {
    fn new(type_: &str, status: &str, reason: &str, message: String) -> Self {
        KnativeCondition { type_: type_.into(), status: status.into(), reason: reason.into(), message }
    }

    fn ready(type_: &str) -> Self {
        Self::new(type_, "True", "", String::new())
    }
}

/// The Route's resolution of a ksvc's traffic: status.traffic and RoutesReady.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedRoute {
    pub traffic: Vec<Value>,
    pub condition: KnativeCondition,
}

/// `http://NAME.NAMESPACE.example.com`, and for a tag `http://TAG-NAME.NAMESPACE.example.com`.
pub fn route_url(name: &str, namespace: &str, tag: Option<&str>) -> String {
    match tag {
        Some(tag) => format!("http://{tag}-{name}.{namespace}.{DOMAIN}"),
        None => format!("http://{name}.{namespace}.{DOMAIN}"),
    }
}

/// Resolve spec.traffic against the Revisions: latestRevision targets go to the latest ready
/// Revision; a named Revision must exist and be ready.
pub fn resolve_traffic(
    name: &str,
    namespace: &str,
    spec_traffic: &[Value],
    revisions: &[RevisionState],
    latest_ready: Option<&str>,
) -> ResolvedRoute {
    let mut traffic = Vec::new();
    let mut problem: Option<KnativeCondition> = None;
    let mut note = |condition: KnativeCondition| {
        // A failure outranks "not yet ready".
        if problem.as_ref().is_none_or(|p| p.status == "Unknown" && condition.status == "False") {
            problem = Some(condition);
        }
    };
    for target in spec_traffic {
        let latest = target.get("latestRevision").and_then(Value::as_bool).unwrap_or(false);
        let named = target.get("revisionName").and_then(Value::as_str).filter(|n| !n.is_empty());
        let revision = match (named, latest) {
            (Some(revision), _) => {
                match revisions.iter().find(|r| r.name == revision) {
                    None => note(KnativeCondition::new(
                        "RoutesReady",
                        "False",
                        "RevisionMissing",
                        format!("Revision {revision:?} referenced in traffic not found."),
                    )),
                    Some(r) if r.ready == Some(false) => note(KnativeCondition::new(
                        "RoutesReady",
                        "False",
                        "RevisionMissing",
                        format!("Revision {revision:?} failed to become ready."),
                    )),
                    Some(r) if r.ready.is_none() => note(KnativeCondition::new(
                        "RoutesReady",
                        "Unknown",
                        "RevisionMissing",
                        format!("Revision {revision:?} is not yet ready."),
                    )),
                    Some(_) => {}
                }
                revision.to_string()
            }
            (None, _) => match latest_ready {
                Some(ready) => ready.to_string(),
                None => {
                    note(KnativeCondition::new(
                        "RoutesReady",
                        "Unknown",
                        "RevisionMissing",
                        format!("Configuration {name:?} is waiting for a Revision to become ready."),
                    ));
                    String::new()
                }
            },
        };
        let mut resolved = serde_json::Map::new();
        if let Some(tag) = target.get("tag").and_then(Value::as_str).filter(|t| !t.is_empty()) {
            resolved.insert("tag".into(), json!(tag));
            resolved.insert("url".into(), json!(route_url(name, namespace, Some(tag))));
        }
        if !revision.is_empty() {
            resolved.insert("revisionName".into(), json!(revision));
        }
        resolved.insert("latestRevision".into(), json!(latest || named.is_none()));
        if let Some(percent) = target.get("percent").and_then(Value::as_i64) {
            resolved.insert("percent".into(), json!(percent));
        }
        traffic.push(Value::Object(resolved));
    }
    let condition = problem.unwrap_or_else(|| KnativeCondition::ready("RoutesReady"));
    if condition.status != "True" {
        // Until all traffic can be assigned, the Route keeps what it last programmed; we report none.
        traffic.clear();
    }
    ResolvedRoute { traffic, condition }
}

/// ConfigurationsReady from the latest created and latest ready Revisions.
pub fn configurations_ready(
    latest_created: Option<&RevisionState>,
    latest_ready: Option<&str>,
) -> KnativeCondition {
    match latest_created {
        None => KnativeCondition::new("ConfigurationsReady", "Unknown", "", String::new()),
        Some(created) if created.ready == Some(false) => KnativeCondition::new(
            "ConfigurationsReady",
            "False",
            "RevisionFailed",
            format!("Revision {:?} failed with message: {}.", created.name, created.message),
        ),
        Some(created) if latest_ready == Some(created.name.as_str()) => {
            KnativeCondition::ready("ConfigurationsReady")
        }
        Some(_) => KnativeCondition::new("ConfigurationsReady", "Unknown", "", String::new()),
    }
}

/// ConfigurationsReady when the template's own revision name is held by a revision with another
/// spec (Knative's `MarkRevisionCreationFailed`).
pub fn revision_name_taken(name: &str) -> KnativeCondition {
    KnativeCondition::new(
        "ConfigurationsReady",
        "False",
        "RevisionFailed",
        format!(
            "Revision creation failed with message: revisions.serving.knative.dev {name:?} already exists."
        ),
    )
}

/// Ready from the two dependent conditions: False if one is False, else Unknown if one is, else True.
pub fn service_ready(configurations: &KnativeCondition, routes: &KnativeCondition) -> KnativeCondition {
    let failed = [configurations, routes].into_iter().find(|c| c.status == "False");
    let unknown = [configurations, routes].into_iter().find(|c| c.status == "Unknown");
    match failed.or(unknown) {
        Some(c) => KnativeCondition::new("Ready", &c.status, &c.reason, c.message.clone()),
        None => KnativeCondition::ready("Ready"),
    }
}

/// Conditions as JSON, sorted by type as Knative's condition sets keep them; lastTransitionTime
/// carried over from `previous` when the status did not change.
pub fn conditions_json(conditions: &[KnativeCondition], previous: Option<&Value>, now: &str) -> Value {
    let mut sorted: Vec<&KnativeCondition> = conditions.iter().collect();
    sorted.sort_by(|a, b| a.type_.cmp(&b.type_));
    let previous: Vec<Value> = previous.and_then(Value::as_array).cloned().unwrap_or_default();
    Value::Array(
        sorted
            .into_iter()
            .map(|c| {
                let last = previous
                    .iter()
                    .find(|p| {
                        p.get("type").and_then(Value::as_str) == Some(&c.type_)
                            && p.get("status").and_then(Value::as_str) == Some(&c.status)
                    })
                    .and_then(|p| p.get("lastTransitionTime").cloned())
                    .unwrap_or_else(|| json!(now));
                let mut out = serde_json::Map::new();
                out.insert("type".into(), json!(c.type_));
                out.insert("status".into(), json!(c.status));
                out.insert("lastTransitionTime".into(), last);
                if !c.reason.is_empty() {
                    out.insert("reason".into(), json!(c.reason));
                }
                if !c.message.is_empty() {
                    out.insert("message".into(), json!(c.message));
                }
                Value::Object(out)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ksvc(traffic: Value) -> Value {
        json!({
            "apiVersion": "serving.knative.dev/v1", "kind": "Service",
            "metadata": {"name": "model", "namespace": "ns"},
            "spec": {"template": {"spec": {"containers": [{"image": "m:v1"}]}}, "traffic": traffic}
        })
    }

    #[test]
    fn traffic_must_sum_to_100() {
        assert_eq!(
            validate_service(&ksvc(json!([{"revisionName": "model-00001", "percent": 100}])), None),
            Ok(())
        );
        assert_eq!(
            validate_service(
                &ksvc(
                    json!([{"revisionName": "model-00001", "percent": 80}, {"latestRevision": true, "percent": 10}])
                ),
                None
            ),
            Err(ValidationFailed {
                errors: vec![error("Traffic targets sum to 90, want 100", "spec.traffic")]
            })
        );
    }

    #[test]
    fn tags_must_be_unique_and_latest_revision_must_make_sense() {
        let bad = ksvc(json!([
            {"revisionName": "model-00001", "percent": 50, "tag": "a"},
            {"revisionName": "model-00002", "percent": 50, "tag": "a", "latestRevision": true}
        ]));
        assert_eq!(
            validate_service(&bad, None).map_err(|e| e.to_string()),
            Err("validation failed: Multiple definitions for \"a\": spec.traffic[0].tag, spec.traffic[1].tag\n\
                 may not set revisionName \"model-00002\" when latestRevision is true: spec.traffic[1].latestRevision"
                .into())
        );
        let out_of_bounds = ksvc(json!([{"latestRevision": true, "percent": 120}]));
        let message = validate_service(&out_of_bounds, None).unwrap_err().to_string();
        assert!(message.contains("expected 0 <= 120 <= 100: spec.traffic[0].percent"), "{message}");
    }

    #[test]
    fn template_names_need_the_prefix_and_a_change() {
        let mut s = ksvc(json!([{"latestRevision": true, "percent": 100}]));
        s["spec"]["template"]["metadata"] = json!({"name": "other-v1"});
        assert_eq!(
            validate_service(&s, None).map_err(|e| e.to_string()),
            Err("validation failed: invalid value: \"other-v1\" must have prefix \"model-\": spec.template.metadata.name".into())
        );
        s["spec"]["template"]["metadata"] = json!({"name": "model-v1"});
        assert_eq!(validate_service(&s, None), Ok(()));
        let mut changed = s.clone();
        changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("m:v2");
        assert!(validate_service(&changed, Some(&s)).unwrap_err().to_string().starts_with("validation failed: Saw the following changes without a name change (-old +new): spec.template.metadata.name\n"));
    }

    #[test]
    fn revision_names() {
        assert_eq!(revision_name("model", &json!({}), 2), "model-00002");
        assert_eq!(revision_name("model", &json!({"metadata": {"name": "model-v3"}}), 3), "model-v3");
    }

    #[test]
    fn traffic_resolves_latest_to_the_latest_ready_revision() {
        let revisions = vec![
            RevisionState { name: "model-00001".into(), ready: Some(true), message: String::new() },
            RevisionState { name: "model-00002".into(), ready: Some(true), message: String::new() },
        ];
        let spec = vec![
            json!({"revisionName": "model-00001", "percent": 80}),
            json!({"latestRevision": true, "percent": 20, "tag": "canary"}),
        ];
        let route = resolve_traffic("model", "ns", &spec, &revisions, Some("model-00002"));
        assert_eq!(route.condition.status, "True");
        assert_eq!(
            route.traffic,
            vec![
                json!({"revisionName": "model-00001", "latestRevision": false, "percent": 80}),
                json!({"revisionName": "model-00002", "latestRevision": true, "percent": 20, "tag": "canary", "url": "http://canary-model.ns.example.com"}),
            ]
        );
        let missing = resolve_traffic(
            "model",
            "ns",
            &[json!({"revisionName": "model-00009", "percent": 100})],
            &revisions,
            Some("model-00002"),
        );
        assert_eq!(
            missing.condition,
            KnativeCondition::new(
                "RoutesReady",
                "False",
                "RevisionMissing",
                "Revision \"model-00009\" referenced in traffic not found.".into()
            )
        );
        let waiting =
            resolve_traffic("model", "ns", &[json!({"latestRevision": true, "percent": 100})], &[], None);
        assert_eq!(
            waiting.condition.message,
            "Configuration \"model\" is waiting for a Revision to become ready."
        );
        let ready =
            service_ready(&configurations_ready(revisions.last(), Some("model-00002")), &route.condition);
        assert_eq!(ready.status, "True");
        let conditions = conditions_json(
            &[ready, route.condition, configurations_ready(revisions.last(), Some("model-00002"))],
            None,
            "2026-01-01T00:00:00Z",
        );
        let types: Vec<&str> =
            conditions.as_array().unwrap().iter().map(|c| c["type"].as_str().unwrap()).collect();
        assert_eq!(types, vec!["ConfigurationsReady", "Ready", "RoutesReady"]);
    }
}
