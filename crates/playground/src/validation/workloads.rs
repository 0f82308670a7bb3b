//! Deployment and ReplicaSet rules (selector against template, strategy, immutable selector)
//! and the HorizontalPodAutoscaler spec that scales them.

use serde_json::Value;

use super::go_string_map;
use super::meta::labels;
use super::pods::pod_spec;
use crate::errors::InvalidField;
use crate::selectors;

fn int_or_percent(value: &Value, replicas_hint: i64) -> Option<(i64, bool)> {
    match value {
        Value::Number(n) => n.as_i64().map(|v| (v, false)),
        Value::String(s) => s
            .strip_suffix('%')
            .and_then(|p| p.parse::<i64>().ok())
            .map(|p| (p * replicas_hint.max(1) / 100, true)),
        _ => None,
    }
}

/// Deployment and ReplicaSet rules.
pub(super) fn workload(
    object: &Value,
    old: Option<&Value>,
    deployment: bool,
    causes: &mut Vec<InvalidField>,
) {
    let spec = &object["spec"];
    let kind = if deployment { "deployment" } else { "replicaset" };
    selector_rules(spec, kind, causes);
    labels("spec.template.metadata.labels", &spec["template"]["metadata"]["labels"], causes);
    if let Some(r) = spec["replicas"].as_i64() {
        if r < 0 {
            causes.push(InvalidField::invalid("spec.replicas", r, "must be greater than or equal to 0"));
        }
    }
    if let Some(r) = spec["minReadySeconds"].as_i64() {
        if r < 0 {
            causes.push(InvalidField::invalid(
                "spec.minReadySeconds",
                r,
                "must be greater than or equal to 0",
            ));
        }
    }
    let template_spec = &spec["template"]["spec"];
    if spec["template"].is_null() {
        causes.push(InvalidField::required("spec.template", ""));
    } else {
        pod_spec("spec.template.spec", template_spec, causes);
        let restart = template_spec["restartPolicy"].as_str().unwrap_or("Always");
        if restart != "Always" {
            causes.push(InvalidField::not_supported(
                "spec.template.spec.restartPolicy",
                format!("{restart:?}"),
                &["\"Always\"".to_string()],
            ));
        }
    }
    if deployment {
        deployment_rules(spec, causes);
    }
    if let Some(old) = old {
        if old["spec"]["selector"] != spec["selector"] {
            causes.push(InvalidField::invalid(
                "spec.selector",
                format!(
                    "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}}",
                    go_string_map(&spec["selector"]["matchLabels"])
                ),
                "field is immutable",
            ));
        }
    }
}

/// kube-apiserver's `ValidateHorizontalPodAutoscalerSpec` (autoscaling/v2, without the
/// HPAScaleToZero feature gate): the scale target named, the replica bounds ordered, each metric
/// of a known type with its source filled in and a valid target.
pub(super) fn horizontal_pod_autoscaler(spec: &Value, causes: &mut Vec<InvalidField>) {
    let target = &spec["scaleTargetRef"];
    for field in ["kind", "name"] {
        match target[field].as_str() {
            None | Some("") => {
                causes.push(InvalidField::required(format!("spec.scaleTargetRef.{field}"), ""))
            }
            Some(value) if value.contains('/') || value.contains('%') || value == "." || value == ".." => {
                causes.push(InvalidField::invalid(
                    format!("spec.scaleTargetRef.{field}"),
                    format!("{value:?}"),
                    "may not contain '/' or '%', and may not be '.' or '..'",
                ));
            }
            Some(_) => {}
        }
    }
    let min = spec["minReplicas"].as_i64();
    let max = spec["maxReplicas"].as_i64().unwrap_or(0);
    if let Some(min) = min.filter(|&m| m < 1) {
        causes.push(InvalidField::invalid("spec.minReplicas", min, "must be greater than or equal to 1"));
    }
    if max < 1 {
        causes.push(InvalidField::invalid("spec.maxReplicas", max, "must be greater than 0"));
    }
    if min.is_some_and(|min| max < min) {
        causes.push(InvalidField::invalid(
            "spec.maxReplicas",
            max,
            "must be greater than or equal to `minReplicas`",
        ));
    }
    const SOURCES: [(&str, &str); 5] = [
        ("ContainerResource", "containerResource"),
        ("External", "external"),
        ("Object", "object"),
        ("Pods", "pods"),
        ("Resource", "resource"),
    ];
    for (i, metric) in spec["metrics"].as_array().into_iter().flatten().enumerate() {
        let field = format!("spec.metrics[{i}]");
        let type_ = metric["type"].as_str().unwrap_or_default();
        let Some((_, source)) = SOURCES.iter().find(|(t, _)| *t == type_) else {
            let allowed: Vec<String> = SOURCES.iter().map(|(t, _)| format!("{t:?}")).collect();
            causes.push(InvalidField::not_supported(format!("{field}.type"), format!("{type_:?}"), &allowed));
            continue;
        };
        let populated: Vec<&str> =
            SOURCES.iter().map(|(_, s)| *s).filter(|s| !metric[*s].is_null()).collect();
        if metric[*source].is_null() {
            causes.push(InvalidField::required(
                format!("{field}.{source}"),
                "must populate information for the given metric source",
            ));
            continue;
        }
        if populated.len() > 1 {
            causes.push(InvalidField::forbidden(
                format!("{field}.{}", populated.iter().find(|s| *s != source).copied().unwrap_or_default()),
                "must populate the given metric source only",
            ));
        }
        let metric_target = &metric[*source]["target"];
        match metric_target["type"].as_str() {
            Some("Utilization") => match metric_target["averageUtilization"].as_i64() {
                None => causes.push(InvalidField::required(
                    format!("{field}.{source}.target.averageUtilization"),
                    "must set either a target raw value or a target utilization",
                )),
                Some(u) if u < 1 => causes.push(InvalidField::invalid(
                    format!("{field}.{source}.target.averageUtilization"),
                    u,
                    "must be greater than 0",
                )),
                Some(_) => {}
            },
            Some("Value" | "AverageValue") => {}
            Some(other) => causes.push(InvalidField::not_supported(
                format!("{field}.{source}.target.type"),
                format!("{other:?}"),
                &["\"AverageValue\"".into(), "\"Utilization\"".into(), "\"Value\"".into()],
            )),
            None => causes.push(InvalidField::required(
                format!("{field}.{source}.target.type"),
                "must specify a metric target type",
            )),
        }
    }
}

/// The selector: present, not empty, its labels valid, and matching the template's labels.
fn selector_rules(spec: &Value, kind: &str, causes: &mut Vec<InvalidField>) {
    let selector = &spec["selector"];
    let empty = selector["matchLabels"].as_object().is_none_or(|m| m.is_empty())
        && selector["matchExpressions"].as_array().is_none_or(|e| e.is_empty());
    if selector.is_null() {
        causes.push(InvalidField::required("spec.selector", ""));
    } else if empty {
        causes.push(InvalidField::invalid(
            "spec.selector",
            "v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}",
            &format!("empty selector is invalid for {kind}"),
        ));
    } else {
        labels("spec.selector.matchLabels", &selector["matchLabels"], causes);
        let template_labels = &spec["template"]["metadata"]["labels"];
        match selectors::LabelSelector::from_object(selector) {
            Ok(sel) => {
                if !sel.matches(template_labels) {
                    causes.push(InvalidField::invalid(
                        "spec.template.metadata.labels",
                        go_string_map(template_labels),
                        "`selector` does not match template `labels`",
                    ));
                }
            }
            Err(e) => causes.push(InvalidField::invalid("spec.selector", "", &e.to_string())),
        }
    }
}

/// Deployment only: the strategy, progressDeadlineSeconds against minReadySeconds, and
/// revisionHistoryLimit.
fn deployment_rules(spec: &Value, causes: &mut Vec<InvalidField>) {
    let strategy = &spec["strategy"];
    strategy_rules(strategy, causes);
    if let (Some(deadline), min_ready) =
        (spec["progressDeadlineSeconds"].as_i64(), spec["minReadySeconds"].as_i64().unwrap_or(0))
    {
        if deadline <= min_ready {
            causes.push(InvalidField::invalid(
                "spec.progressDeadlineSeconds",
                deadline,
                "must be greater than minReadySeconds",
            ));
        }
    }
    if let Some(limit) = spec["revisionHistoryLimit"].as_i64() {
        if limit < 0 {
            causes.push(InvalidField::invalid(
                "spec.revisionHistoryLimit",
                limit,
                "must be greater than or equal to 0",
            ));
        }
    }
}

/// `Recreate` without rollingUpdate; `RollingUpdate` with valid maxSurge and maxUnavailable
/// that are not both 0.
fn strategy_rules(strategy: &Value, causes: &mut Vec<InvalidField>) {
    match strategy["type"].as_str() {
        Some("Recreate") => {
            if !strategy["rollingUpdate"].is_null() {
                causes.push(InvalidField::forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        Some("RollingUpdate") | None => {
            let rolling = &strategy["rollingUpdate"];
            let surge = int_or_percent(&rolling["maxSurge"], 100);
            let unavailable = int_or_percent(&rolling["maxUnavailable"], 100);
            for (field, v, raw) in [
                ("spec.strategy.rollingUpdate.maxSurge", surge, &rolling["maxSurge"]),
                ("spec.strategy.rollingUpdate.maxUnavailable", unavailable, &rolling["maxUnavailable"]),
            ] {
                match (raw, v) {
                    (Value::Null, _) => {}
                    (_, None) => causes.push(InvalidField::invalid(field, raw, "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")),
                    (_, Some((n, _))) if n < 0 => {
                        causes.push(InvalidField::invalid(field, raw, "must be greater than or equal to 0"))
                    }
                    (_, Some((n, true))) if n > 100 && field.ends_with("maxUnavailable") => {
                        causes.push(InvalidField::invalid(field, raw, "must not be greater than 100%"))
                    }
                    _ => {}
                }
            }
            if let (Some((0, _)), Some((0, _))) = (surge, unavailable) {
                causes.push(InvalidField::invalid(
                    "spec.strategy.rollingUpdate.maxUnavailable",
                    format!(
                        "intstr.IntOrString{{Type:{}, IntVal:0, StrVal:{:?}}}",
                        if rolling["maxUnavailable"].is_string() { 1 } else { 0 },
                        rolling["maxUnavailable"].as_str().unwrap_or("")
                    ),
                    "may not be 0 when `maxSurge` is 0",
                ));
            }
        }
        Some(other) => causes.push(InvalidField::not_supported(
            "spec.strategy.type",
            format!("{other:?}"),
            &["\"Recreate\"".to_string(), "\"RollingUpdate\"".to_string()],
        )),
    }
}
