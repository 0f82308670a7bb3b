//! The state of a canary in progress, kept as JSON in the `modelroll.io/rollout` annotation of
//! the stable Deployment or ksvc: everything a later `shift`, `promote`, `abort` or `status` needs,
//! including the shape the routes had before the canary so that they can be restored exactly.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::check::Analysis;

/// The annotation that carries [`RolloutState`], and the other names of CLI.md.
pub use super::keys::{
    CANARY_OF_ANNOTATION, FIELD_MANAGER, MODEL_VERSION_LABEL, ROLLOUT_ANNOTATION, TRACK_LABEL,
};

/// How a router carries the canary's weight, which decides what its replicas must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    /// The replicas router: the weight is the canary's share of the pods behind one Service.
    PodRatio,
    /// Mesh and gateway routers: the weight is on a route; stable keeps its pods.
    Route,
}

/// Where a canary is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// The canary is being brought up; it has no weight yet.
    Starting,
    /// The canary is up and carries `weight`.
    Canary,
    /// The stable track is taking the canary's version.
    Promoting,
    /// Traffic is going back to stable and the canary is being removed.
    Aborting,
}

/// The router that carries the weight, and what it must remember to restore the routes. Each
/// router keeps its own part (a router never sees another's data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "router", rename_all = "kebab-case")]
pub enum Routing {
    /// Weight is the ratio of ready pods behind the model's Service.
    Replicas(ReplicasRouting),
    /// VirtualService route weights to DestinationRule subsets.
    Istio(IstioRouting),
    /// HTTPRoute backendRef weights to Services `NAME-stable` and `NAME-canary`.
    GatewayApi(GatewayApiRouting),
    /// `spec.traffic` of the ksvc: stable revision by name, canary revision tagged `canary`.
    Knative(KnativeRouting),
}

/// What the replicas router remembers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicasRouting {
    /// The model's Service (for display).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

/// What the istio router remembers to restore the routes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IstioRouting {
    pub virtual_service: String,
    /// The model's Service.
    pub service: String,
    /// `spec.http` of the VirtualService before the canary.
    pub original_http: serde_json::Value,
    pub destination_rule: String,
    /// True when modelroll created the DestinationRule (it is deleted at the end).
    pub destination_rule_created: bool,
    /// `spec.subsets` of an existing DestinationRule before the canary (null when absent).
    #[serde(default)]
    pub original_subsets: serde_json::Value,
}

/// What the gateway-api router remembers to restore the route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayApiRouting {
    pub http_route: String,
    /// The model's Service, the backend the route had.
    pub service: String,
    /// `spec.rules` of the HTTPRoute before the canary.
    pub original_rules: serde_json::Value,
}

/// What the knative router remembers to restore the ksvc.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KnativeRouting {
    pub stable_revision: String,
    /// `spec.traffic` before the canary (null when absent).
    #[serde(default)]
    pub original_traffic: serde_json::Value,
    /// `spec.template` before the canary.
    pub original_template: serde_json::Value,
}

impl Routing {
    /// The router's name as `--router` spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Replicas(_) => "replicas",
            Self::Istio(_) => "istio",
            Self::GatewayApi(_) => "gateway-api",
            Self::Knative(_) => "knative",
        }
    }

    /// How the router carries the weight: by the share of pods or on a route.
    pub fn carrier(&self) -> Carrier {
        match self {
            Self::Replicas(_) => Carrier::PodRatio,
            _ => Carrier::Route,
        }
    }

    /// The route objects the router manages, as `kind/name`.
    pub fn objects(&self, model: &str) -> Vec<String> {
        match self {
            Self::Replicas(ReplicasRouting { service }) => {
                service.iter().map(|s| format!("service/{s}")).collect()
            }
            Self::Istio(IstioRouting { virtual_service, destination_rule, .. }) => vec![
                format!("virtualservice/{virtual_service}"),
                format!("destinationrule/{destination_rule}"),
            ],
            Self::GatewayApi(GatewayApiRouting { http_route, .. }) => vec![
                format!("httproute/{http_route}"),
                format!("service/{model}-stable"),
                format!("service/{model}-canary"),
            ],
            Self::Knative(_) => vec![format!("ksvc/{model}")],
        }
    }
}

/// JSON state of a canary in progress (annotation `modelroll.io/rollout`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutState {
    #[serde(flatten)]
    pub routing: Routing,
    /// The canary object: Deployment `NAME-canary`, or the canary Revision of a ksvc.
    pub canary: String,
    /// The canary's weight, as last set on the routes (0–100).
    pub weight: u32,
    /// Container → image of the canary.
    pub images: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    /// RFC 3339 time the canary was started.
    pub start_time: String,
    pub phase: Phase,
    /// The model's pods as last known: the replicas router's total of both tracks (what abort
    /// and promote give the stable back), else the stable's count. The live counts win over it
    /// (see [`super::live::plan`]): a person or an autoscaler may have changed them since.
    #[serde(default)]
    pub stable_replicas: i32,
    /// The last evaluations of the metric checks (`--check`), when there are checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<Analysis>,
    /// The uid of the canary Deployment this record is about, once it exists: a copy of the
    /// record that a rollback brings back from a ReplicaSet names a canary that is gone (see
    /// [`RolloutState::is_stale`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_uid: Option<String>,
}

/// A `modelroll.io/rollout` annotation that is not valid state (edited by hand, or written by a
/// newer version).
#[derive(Debug, thiserror::Error)]
#[error("the {annotation} annotation is not valid modelroll state ({source}); fix or remove it", annotation = ROLLOUT_ANNOTATION)]
pub struct InvalidState {
    #[source]
    pub source: serde_json::Error,
}

impl RolloutState {
    /// The annotation value: compact JSON. This is the one place the annotation is encoded.
    pub fn to_annotation(&self) -> String {
        serde_json::to_string(self).expect("rollout state serializes")
    }

    /// Read the state from an object's annotations; `Ok(None)` when there is no canary.
    ///
    /// # Errors
    /// [`InvalidState`] when the annotation is present but not valid state.
    pub fn from_annotations(
        annotations: Option<&BTreeMap<String, String>>,
    ) -> Result<Option<Self>, InvalidState> {
        let Some(text) = annotations.and_then(|a| a.get(ROLLOUT_ANNOTATION)) else {
            return Ok(None);
        };
        if analysis_record(text).is_some() {
            return Ok(None);
        }
        serde_json::from_str(text).map(Some).map_err(|source| InvalidState { source })
    }

    /// Whether this record is a stale copy: it names its canary's uid, and the canary that
    /// exists now (`live_canary_uid`, `None` when there is none) is not that one. The deployment
    /// controller copies a Deployment's annotations onto its ReplicaSets and a rollback copies
    /// them back, so a record of a finished canary can come back; such a record means nothing.
    /// A record without a uid (before its canary is created) is taken as it is.
    pub fn is_stale(&self, live_canary_uid: Option<&str>) -> bool {
        self.canary_uid.as_deref().is_some_and(|recorded| live_canary_uid != Some(recorded))
    }

    /// What `status` and `list` call the phase: `Starting`, `Canary (25%)`, `Promoting`, `Aborting`.
    pub fn phase_text(&self) -> String {
        match self.phase {
            Phase::Starting => "Starting canary".to_string(),
            Phase::Canary => format!("Canary ({}%)", self.weight),
            Phase::Promoting => "Promoting".to_string(),
            Phase::Aborting => "Aborting".to_string(),
        }
    }

    /// `container=image, …` of the canary, for messages.
    pub fn images_text(&self) -> String {
        self.images.iter().map(|(c, i)| format!("{c}={i}")).collect::<Vec<_>>().join(", ")
    }
}

/// Once a canary is gone (aborted by a failed check) or for `set-image`, the annotation keeps
/// only the metric checks' record, `{"analysis": …}`, so that `status` still shows why the change
/// stopped. Such a record is no canary: [`RolloutState::from_annotations`] reads `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisRecord {
    pub analysis: Analysis,
}

impl AnalysisRecord {
    /// The annotation value of a record.
    pub fn to_annotation(&self) -> String {
        serde_json::to_string(self).expect("analysis serializes")
    }
}

fn analysis_record(text: &str) -> Option<AnalysisRecord> {
    serde_json::from_str(text).ok()
}

/// The metric checks' record in the annotation, of a canary in progress or of one that is gone.
pub fn analysis_from_annotations(annotations: Option<&BTreeMap<String, String>>) -> Option<Analysis> {
    let text = annotations?.get(ROLLOUT_ANNOTATION)?;
    if let Some(record) = analysis_record(text) {
        return Some(record.analysis);
    }
    serde_json::from_str::<RolloutState>(text).ok()?.analysis
}

/// A short, stable hash of the canary images, used to name a Knative revision when no model
/// version is given.
pub fn images_hash(images: &BTreeMap<String, String>) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for (c, i) in images {
        hasher.update(c.as_bytes());
        hasher.update(b"=");
        hasher.update(i.as_bytes());
        hasher.update(b"\n");
    }
    let digest = hasher.finalize();
    digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

/// The name of the canary Revision of ksvc `service`: `SERVICE-<model version>` (made a valid
/// DNS label) or `SERVICE-<hash of the images>`.
pub fn canary_revision_name(
    service: &str,
    model_version: Option<&str>,
    images: &BTreeMap<String, String>,
) -> String {
    let suffix = model_version
        .map(|v| {
            v.to_ascii_lowercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect::<String>()
                .trim_matches('-')
                .to_string()
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| images_hash(images));
    let mut name = format!("{service}-{suffix}");
    name.truncate(63);
    name.trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RolloutState {
        RolloutState {
            routing: Routing::Istio(IstioRouting {
                virtual_service: "fraud".into(),
                service: "fraud".into(),
                original_http: serde_json::json!([{"route": [{"destination": {"host": "fraud"}}]}]),
                destination_rule: "fraud".into(),
                destination_rule_created: true,
                original_subsets: serde_json::Value::Null,
            }),
            canary: "fraud-canary".into(),
            weight: 25,
            images: BTreeMap::from([("model".into(), "registry.example/fraud:v2".into())]),
            model_version: Some("v2".into()),
            start_time: "2026-01-01T00:00:00Z".into(),
            phase: Phase::Canary,
            stable_replicas: 4,
            analysis: None,
            canary_uid: None,
        }
    }

    #[test]
    fn a_record_of_a_canary_that_is_gone_is_stale() {
        let mut state = sample();
        // Before its canary exists, a record names no uid and is taken as it is.
        assert!(!state.is_stale(None));
        assert!(!state.is_stale(Some("uid-1")));
        state.canary_uid = Some("uid-1".into());
        assert!(!state.is_stale(Some("uid-1")), "the canary it names");
        assert!(state.is_stale(None), "its canary was removed (promote, abort)");
        assert!(state.is_stale(Some("uid-2")), "another canary of the same name");
        let text = state.to_annotation();
        assert!(text.contains(r#""canaryUid":"uid-1""#), "{text}");
        let annotations = BTreeMap::from([(ROLLOUT_ANNOTATION.to_string(), text)]);
        assert_eq!(RolloutState::from_annotations(Some(&annotations)).unwrap(), Some(state));
    }

    #[test]
    fn state_round_trips_through_the_annotation() {
        let state = sample();
        let text = state.to_annotation();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["router"], "istio");
        assert_eq!(value["canary"], "fraud-canary");
        assert_eq!(value["weight"], 25);
        assert_eq!(value["phase"], "Canary");
        assert_eq!(value["startTime"], "2026-01-01T00:00:00Z");
        assert_eq!(value["stableReplicas"], 4);
        assert_eq!(value["images"]["model"], "registry.example/fraud:v2");
        let annotations = BTreeMap::from([(ROLLOUT_ANNOTATION.to_string(), text)]);
        assert_eq!(RolloutState::from_annotations(Some(&annotations)).unwrap(), Some(state));
        assert_eq!(RolloutState::from_annotations(None).unwrap(), None);
    }

    #[test]
    fn an_analysis_record_is_no_canary() {
        let mut analysis = Analysis::new(0);
        analysis.verdict = Some("Failed: aborted".into());
        let record = AnalysisRecord { analysis: analysis.clone() }.to_annotation();
        let annotations = BTreeMap::from([(ROLLOUT_ANNOTATION.to_string(), record)]);
        assert_eq!(RolloutState::from_annotations(Some(&annotations)).unwrap(), None);
        assert_eq!(analysis_from_annotations(Some(&annotations)), Some(analysis.clone()));
        let mut state = sample();
        state.analysis = Some(analysis.clone());
        let annotations = BTreeMap::from([(ROLLOUT_ANNOTATION.to_string(), state.to_annotation())]);
        assert_eq!(RolloutState::from_annotations(Some(&annotations)).unwrap(), Some(state));
        assert_eq!(analysis_from_annotations(Some(&annotations)), Some(analysis));
    }

    #[test]
    fn broken_annotation_is_reported() {
        let annotations = BTreeMap::from([(ROLLOUT_ANNOTATION.to_string(), "{".to_string())]);
        let err = RolloutState::from_annotations(Some(&annotations)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the modelroll.io/rollout annotation is not valid modelroll state (EOF while parsing an object at line 1 column 1); fix or remove it"
        );
    }

    #[test]
    fn every_router_round_trips() {
        for routing in [
            Routing::Replicas(ReplicasRouting { service: Some("m".into()) }),
            Routing::GatewayApi(GatewayApiRouting {
                http_route: "r".into(),
                service: "m".into(),
                original_rules: serde_json::json!([]),
            }),
            Routing::Knative(KnativeRouting {
                stable_revision: "m-00001".into(),
                original_traffic: serde_json::Value::Null,
                original_template: serde_json::json!({"spec": {}}),
            }),
        ] {
            let mut state = sample();
            state.routing = routing;
            let text = state.to_annotation();
            let back: RolloutState = serde_json::from_str(&text).unwrap();
            assert_eq!(back, state);
        }
    }

    #[test]
    fn phases_read_as_status_shows_them() {
        let mut state = sample();
        assert_eq!(state.phase_text(), "Canary (25%)");
        state.phase = Phase::Promoting;
        assert_eq!(state.phase_text(), "Promoting");
    }

    #[test]
    fn revision_names_are_dns_labels() {
        let images = BTreeMap::from([("model".to_string(), "r/m:v2".to_string())]);
        assert_eq!(canary_revision_name("fraud", Some("V2.1"), &images), "fraud-v2-1");
        let hashed = canary_revision_name("fraud", None, &images);
        assert!(hashed.starts_with("fraud-") && hashed.len() == "fraud-".len() + 8, "{hashed}");
        assert_eq!(hashed, canary_revision_name("fraud", None, &images));
    }
}
