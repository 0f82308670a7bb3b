//! Simulated traffic, exported as Prometheus metrics with the labels Istio and Knative use, so a
//! real Prometheus scraping the playground sees what it would see in a cluster.
//!
//! Each entry point gets a steady [`REQUESTS_PER_SECOND`]: every VirtualService http route, every
//! HTTPRoute rule and every ksvc, split by their live weights (VirtualService weights to
//! DestinationRule subsets, HTTPRoute weights to Services, the ksvc's `status.traffic` to
//! revisions); a Service that no route reaches gets it evenly over the ready pods it selects.
//! Each destination's share is spread evenly over its ready pods; a destination with no ready
//! pod answers 503 (Envoy's "no healthy upstream", `response_flags="UH"`).
//!
//! A pod's behaviour comes from its image tag: `-errNN` answers NN% of requests with 500, and
//! `-slowNN` adds NN ms to the base latency of [`BASE_LATENCY_MS`]. Counters are integrated over
//! time (requests = rate × elapsed × share), deterministic and monotonically increasing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::controllers::kubelet::image_tag;
use super::model_server::pod_is_ready;
use super::resources::ResourceRef;
use super::selectors::LabelSelector;
use super::Store;

/// Requests per second each entry point (route, ksvc or unrouted Service) receives.
pub const REQUESTS_PER_SECOND: f64 = 10.0;
/// The latency of a request to a pod without `-slowNN` in its image tag.
pub const BASE_LATENCY_MS: f64 = 25.0;
/// Istio's default buckets of `istio_request_duration_milliseconds`.
const ISTIO_BUCKETS: [f64; 19] = [
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0, 60000.0,
    300000.0, 600000.0, 1800000.0, 3600000.0,
];
/// Knative's queue-proxy buckets of `revision_app_request_latencies` (milliseconds).
const KNATIVE_BUCKETS: [f64; 17] = [
    5.0, 10.0, 20.0, 40.0, 60.0, 80.0, 100.0, 150.0, 200.0, 250.0, 300.0, 350.0, 400.0, 450.0, 500.0, 1000.0,
    5000.0,
];

/// What a pod's image tag says about the requests it serves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Behaviour {
    /// Share of requests answered 500 (0–1).
    pub error_ratio: f64,
    /// Latency of every request, in milliseconds.
    pub latency_ms: f64,
}

/// The number after `-NAME` in `tag` (`v2-err30` → 30 for `err`), if any.
fn tag_number(tag: &str, name: &str) -> Option<f64> {
    tag.split(['-', '_', '.']).find_map(|part| part.strip_prefix(name)?.parse::<u32>().ok()).map(f64::from)
}

/// A pod's behaviour from the tags of its containers' images (`-errNN`, `-slowNN`).
pub fn behaviour(pod: &Value) -> Behaviour {
    let mut b = Behaviour { error_ratio: 0.0, latency_ms: BASE_LATENCY_MS };
    for container in pod.pointer("/spec/containers").and_then(Value::as_array).into_iter().flatten() {
        let Some(tag) = container["image"].as_str().and_then(image_tag) else { continue };
        if let Some(percent) = tag_number(tag, "err") {
            b.error_ratio = b.error_ratio.max((percent / 100.0).min(1.0));
        }
        if let Some(ms) = tag_number(tag, "slow") {
            b.latency_ms = b.latency_ms.max(BASE_LATENCY_MS + ms);
        }
    }
    b
}

/// Where a share of an entry point's traffic goes.
#[derive(Debug, Clone)]
struct Destination {
    namespace: String,
    /// The Service the request is addressed to (Istio's `destination_service_name`).
    service: String,
    /// Ready pods that serve it.
    pods: Vec<Arc<Value>>,
    /// Share of [`REQUESTS_PER_SECOND`] (0–1).
    share: f64,
    /// Knative revision traffic: reported by the queue-proxy, not by a sidecar.
    knative: Option<KnativeNames>,
}

#[derive(Debug, Clone)]
struct KnativeNames {
    service: String,
    configuration: String,
    revision: String,
}

/// The objects traffic is computed from, read once per tick.
struct Snapshot {
    pods: Vec<Arc<Value>>,
    services: Vec<Arc<Value>>,
    replica_sets: Vec<Arc<Value>>,
    virtual_services: Vec<Arc<Value>>,
    destination_rules: Vec<Arc<Value>>,
    http_routes: Vec<Arc<Value>>,
    ksvcs: Vec<Arc<Value>>,
}

fn list(store: &Store, group: &str, plural: &str) -> Vec<Arc<Value>> {
    let Some(ty) = store.types().into_iter().find(|t| t.group == group && t.plural == plural) else {
        return Vec::new();
    };
    store.list(&ty.preferred(), "").map(|l| l.items).unwrap_or_default()
}

fn namespace(object: &Value) -> &str {
    object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default()
}

fn name(object: &Value) -> &str {
    object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default()
}

fn label<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object.pointer("/metadata/labels")?.get(key)?.as_str()
}

impl Snapshot {
    fn read(store: &Store) -> Self {
        let core = |plural: &'static str| {
            store.list(&ResourceRef::of("", "v1", plural), "").map(|l| l.items).unwrap_or_default()
        };
        Self {
            pods: core("pods")
                .into_iter()
                .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none() && pod_is_ready(p))
                .collect(),
            services: core("services"),
            replica_sets: list(store, "apps", "replicasets"),
            virtual_services: list(store, "networking.istio.io", "virtualservices"),
            destination_rules: list(store, "networking.istio.io", "destinationrules"),
            http_routes: list(store, "gateway.networking.k8s.io", "httproutes"),
            ksvcs: list(store, "serving.knative.dev", "services"),
        }
    }

    fn service(&self, ns: &str, host: &str) -> Option<&Arc<Value>> {
        // `NAME`, `NAME.NS`, `NAME.NS.svc.cluster.local`.
        let mut parts = host.split('.');
        let svc = parts.next()?;
        let svc_ns = parts.next().unwrap_or(ns);
        self.services.iter().find(|s| namespace(s) == svc_ns && name(s) == svc)
    }

    /// Ready pods a Service selects, narrowed by `extra` labels (a DestinationRule subset).
    fn pods_of(&self, service: &Value, extra: Option<&Value>) -> Vec<Arc<Value>> {
        let selector = &service["spec"]["selector"];
        if selector.as_object().is_none_or(|s| s.is_empty()) {
            return Vec::new();
        }
        let mut wanted = selector.as_object().cloned().unwrap_or_default();
        if let Some(extra) = extra.and_then(Value::as_object) {
            wanted.extend(extra.clone());
        }
        let Ok(selector) = LabelSelector::from_object(&serde_json::json!({"matchLabels": wanted})) else {
            return Vec::new();
        };
        self.pods
            .iter()
            .filter(|p| namespace(p) == namespace(service) && selector.matches(&p["metadata"]["labels"]))
            .cloned()
            .collect()
    }

    /// The Deployment a pod belongs to (through its ReplicaSet), else its ReplicaSet, else the pod.
    fn workload(&self, pod: &Value) -> String {
        let owner = pod.pointer("/metadata/ownerReferences/0");
        let Some(rs_name) = owner.filter(|o| o["kind"] == "ReplicaSet").and_then(|o| o["name"].as_str())
        else {
            return name(pod).to_string();
        };
        self.replica_sets
            .iter()
            .find(|rs| namespace(rs) == namespace(pod) && name(rs) == rs_name)
            .and_then(|rs| rs.pointer("/metadata/ownerReferences/0/name").and_then(Value::as_str))
            .unwrap_or(rs_name)
            .to_string()
    }

    fn destinations(&self) -> Vec<Destination> {
        let mut out = Vec::new();
        // Services whose pods a route reaches: they get no traffic of their own.
        let mut routed: BTreeSet<(String, String)> = BTreeSet::new();
        self.virtual_service_destinations(&mut out, &mut routed);
        self.http_route_destinations(&mut out, &mut routed);
        self.knative_destinations(&mut out);
        self.plain_service_destinations(&routed, &mut out);
        out
    }

    /// Each VirtualService route's destination (a subset through its DestinationRule), at its
    /// share of the route's weights.
    fn virtual_service_destinations(
        &self,
        out: &mut Vec<Destination>,
        routed: &mut BTreeSet<(String, String)>,
    ) {
        for vs in &self.virtual_services {
            let ns = namespace(vs);
            for http in vs.pointer("/spec/http").and_then(Value::as_array).into_iter().flatten() {
                let routes = http["route"].as_array().cloned().unwrap_or_default();
                let resolved: Vec<(&Value, Arc<Value>)> = routes
                    .iter()
                    .filter_map(|r| Some((r, self.service(ns, r["destination"]["host"].as_str()?)?.clone())))
                    .collect();
                if resolved.is_empty() {
                    continue;
                }
                let weights: Vec<f64> = resolved
                    .iter()
                    .map(|(r, _)| {
                        r["weight"].as_f64().unwrap_or(if resolved.len() == 1 { 100.0 } else { 0.0 })
                    })
                    .collect();
                let total: f64 = weights.iter().sum();
                for ((route, service), weight) in resolved.iter().zip(weights) {
                    routed.insert((namespace(service).to_string(), name(service).to_string()));
                    let subset = route["destination"]["subset"].as_str();
                    let labels = subset.and_then(|subset| {
                        self.destination_rules
                            .iter()
                            .filter(|dr| namespace(dr) == ns)
                            .filter(|dr| {
                                dr["spec"]["host"]
                                    .as_str()
                                    .and_then(|h| self.service(ns, h))
                                    .is_some_and(|s| Arc::ptr_eq(s, service))
                            })
                            .flat_map(|dr| dr["spec"]["subsets"].as_array().cloned().unwrap_or_default())
                            .find(|s| s["name"].as_str() == Some(subset))
                            .map(|s| s["labels"].clone())
                    });
                    // A subset no DestinationRule defines has no endpoints: Envoy answers 503.
                    let pods = match (subset, &labels) {
                        (Some(_), None) => Vec::new(),
                        _ => self.pods_of(service, labels.as_ref()),
                    };
                    out.push(Destination {
                        namespace: namespace(service).to_string(),
                        service: name(service).to_string(),
                        pods,
                        share: if total > 0.0 { weight / total } else { 0.0 },
                        knative: None,
                    });
                }
            }
        }
    }

    /// Each HTTPRoute rule's Service backends, at their share of the rule's weights.
    fn http_route_destinations(&self, out: &mut Vec<Destination>, routed: &mut BTreeSet<(String, String)>) {
        for route in &self.http_routes {
            let ns = namespace(route);
            for rule in route.pointer("/spec/rules").and_then(Value::as_array).into_iter().flatten() {
                let refs = rule["backendRefs"].as_array().cloned().unwrap_or_default();
                let resolved: Vec<(f64, Arc<Value>)> = refs
                    .iter()
                    .filter(|b| {
                        b["kind"].as_str().unwrap_or("Service") == "Service"
                            && b["group"].as_str().unwrap_or("").is_empty()
                    })
                    .filter_map(|b| {
                        let backend_ns = b["namespace"].as_str().unwrap_or(ns);
                        let svc = self.service(backend_ns, b["name"].as_str()?)?;
                        Some((b["weight"].as_f64().unwrap_or(1.0), svc.clone()))
                    })
                    .collect();
                let total: f64 = resolved.iter().map(|(w, _)| w).sum();
                for (weight, service) in resolved {
                    routed.insert((namespace(&service).to_string(), name(&service).to_string()));
                    out.push(Destination {
                        namespace: namespace(&service).to_string(),
                        service: name(&service).to_string(),
                        pods: self.pods_of(&service, None),
                        share: if total > 0.0 { weight / total } else { 0.0 },
                        knative: None,
                    });
                }
            }
        }
    }

    /// Each Knative Service's traffic targets, at their percent.
    fn knative_destinations(&self, out: &mut Vec<Destination>) {
        for ksvc in &self.ksvcs {
            let ns = namespace(ksvc);
            let status = ksvc.pointer("/status/traffic").and_then(Value::as_array).filter(|t| !t.is_empty());
            let latest = ksvc.pointer("/status/latestReadyRevisionName").and_then(Value::as_str);
            for target in status.into_iter().flatten() {
                let percent = target["percent"].as_f64().unwrap_or(0.0);
                let revision = target["revisionName"].as_str().or(latest).unwrap_or_default();
                let pods: Vec<Arc<Value>> = self
                    .pods
                    .iter()
                    .filter(|p| {
                        namespace(p) == ns && label(p, "serving.knative.dev/revision") == Some(revision)
                    })
                    .cloned()
                    .collect();
                let configuration = pods
                    .first()
                    .and_then(|p| label(p, "serving.knative.dev/configuration"))
                    .unwrap_or(name(ksvc))
                    .to_string();
                out.push(Destination {
                    namespace: ns.to_string(),
                    service: name(ksvc).to_string(),
                    pods,
                    share: percent / 100.0,
                    knative: Some(KnativeNames {
                        service: name(ksvc).to_string(),
                        configuration,
                        revision: revision.to_string(),
                    }),
                });
            }
        }
    }

    /// Services no route reaches, over pods no route reaches either: entry points of their own.
    fn plain_service_destinations(&self, routed: &BTreeSet<(String, String)>, out: &mut Vec<Destination>) {
        // Pods a route reaches through one of its Services.
        let routed_pods: BTreeSet<String> = self
            .services
            .iter()
            .filter(|s| routed.contains(&(namespace(s).to_string(), name(s).to_string())))
            .flat_map(|s| self.pods_of(s, None))
            .map(|p| format!("{}/{}", namespace(&p), name(&p)))
            .collect();
        for service in &self.services {
            let key = (namespace(service).to_string(), name(service).to_string());
            let knative = label(service, "serving.knative.dev/service").is_some()
                || label(service, "serving.knative.dev/revision").is_some();
            if routed.contains(&key) || knative {
                continue;
            }
            let pods = self.pods_of(service, None);
            // A Service over pods a route already reaches (the model's Service of a gateway-api
            // canary, behind `NAME-stable` and `NAME-canary`) is not another entry point.
            if pods.is_empty()
                || pods.iter().any(|p| routed_pods.contains(&format!("{}/{}", namespace(p), name(p))))
            {
                continue;
            }
            out.push(Destination { namespace: key.0, service: key.1, pods, share: 1.0, knative: None });
        }
    }
}

/// Counters of all series so far, keyed by their text (`name{labels}`).
#[derive(Debug, Default)]
struct Counters {
    values: BTreeMap<String, f64>,
}

impl Counters {
    fn add(&mut self, series: String, amount: f64) {
        *self.values.entry(series).or_insert(0.0) += amount;
    }

    fn histogram(&mut self, metric: &str, labels: &str, buckets: &[f64], latency: f64, count: f64) {
        for le in buckets {
            let inside = if latency <= *le { count } else { 0.0 };
            self.add(format!("{metric}_bucket{{{labels},le=\"{le}\"}}"), inside);
        }
        self.add(format!("{metric}_bucket{{{labels},le=\"+Inf\"}}"), count);
        self.add(format!("{metric}_sum{{{labels}}}"), latency * count);
        self.add(format!("{metric}_count{{{labels}}}"), count);
    }
}

/// What Istio's labels say of a request.
struct IstioRequest<'a> {
    /// `destination` (the server's sidecar) or `source` (the caller's, when nothing answered).
    reporter: &'a str,
    namespace: &'a str,
    service: &'a str,
    workload: &'a str,
    app: &'a str,
    version: &'a str,
    code: u16,
    /// Envoy's response flags: `-`, or `UH` for no healthy upstream.
    flags: &'a str,
}

impl IstioRequest<'_> {
    fn labels(&self) -> String {
        let Self { reporter, namespace: ns, service, workload, app, version, code, flags } = self;
        format!(
            "reporter=\"{reporter}\",source_workload=\"istio-ingressgateway\",source_workload_namespace=\"istio-system\",destination_workload=\"{workload}\",destination_workload_namespace=\"{ns}\",destination_service=\"{service}.{ns}.svc.cluster.local\",destination_service_name=\"{service}\",destination_service_namespace=\"{ns}\",destination_app=\"{app}\",destination_version=\"{version}\",destination_canonical_service=\"{app}\",request_protocol=\"http\",response_code=\"{code}\",response_flags=\"{flags}\",connection_security_policy=\"mutual_tls\""
        )
    }
}

/// The simulated traffic of one playground: counters advanced on every tick and scrape.
#[derive(Debug)]
pub struct Traffic {
    state: Mutex<(Instant, Counters)>,
}

impl Default for Traffic {
    fn default() -> Self {
        Self { state: Mutex::new((Instant::now(), Counters::default())) }
    }
}

impl Traffic {
    /// Count the requests served since the last call, as the routes and pods are now.
    pub fn advance(&self, store: &Store) {
        let snapshot = Snapshot::read(store);
        let destinations = snapshot.destinations();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let elapsed = now.duration_since(state.0).as_secs_f64();
        state.0 = now;
        let counters = &mut state.1;
        for d in destinations {
            let requests = REQUESTS_PER_SECOND * elapsed * d.share;
            if requests <= 0.0 {
                continue;
            }
            if d.pods.is_empty() {
                if d.knative.is_none() {
                    // No endpoint: the caller's sidecar reports Envoy's 503 "no healthy upstream".
                    let labels = IstioRequest {
                        reporter: "source",
                        namespace: &d.namespace,
                        service: &d.service,
                        workload: "unknown",
                        app: "unknown",
                        version: "unknown",
                        code: 503,
                        flags: "UH",
                    }
                    .labels();
                    counters.add(format!("istio_requests_total{{{labels}}}"), requests);
                    counters.histogram(
                        "istio_request_duration_milliseconds",
                        &labels,
                        &ISTIO_BUCKETS,
                        0.0,
                        requests,
                    );
                }
                continue;
            }
            let per_pod = requests / d.pods.len() as f64;
            for pod in &d.pods {
                let b = behaviour(pod);
                for (code, count) in
                    [(200u16, per_pod * (1.0 - b.error_ratio)), (500u16, per_pod * b.error_ratio)]
                {
                    if count <= 0.0 {
                        continue;
                    }
                    match &d.knative {
                        Some(k) => {
                            let labels = format!(
                                "namespace_name=\"{}\",service_name=\"{}\",configuration_name=\"{}\",revision_name=\"{}\",container_name=\"queue-proxy\",response_code=\"{code}\",response_code_class=\"{}xx\"",
                                d.namespace, k.service, k.configuration, k.revision, code / 100
                            );
                            counters.add(format!("revision_app_request_count{{{labels}}}"), count);
                            counters.histogram(
                                "revision_app_request_latencies",
                                &labels,
                                &KNATIVE_BUCKETS,
                                b.latency_ms,
                                count,
                            );
                        }
                        None => {
                            let workload = snapshot.workload(pod);
                            let app = label(pod, "app").unwrap_or(&workload).to_string();
                            let version = label(pod, "version").unwrap_or("unknown");
                            let labels = IstioRequest {
                                reporter: "destination",
                                namespace: &d.namespace,
                                service: &d.service,
                                workload: &workload,
                                app: &app,
                                version,
                                code,
                                flags: "-",
                            }
                            .labels();
                            counters.add(format!("istio_requests_total{{{labels}}}"), count);
                            counters.histogram(
                                "istio_request_duration_milliseconds",
                                &labels,
                                &ISTIO_BUCKETS,
                                b.latency_ms,
                                count,
                            );
                        }
                    }
                }
            }
        }
    }

    /// Prometheus's text exposition format of every series so far.
    pub fn render(&self) -> String {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = String::new();
        let mut last_family = String::new();
        for (series, value) in &state.1.values {
            let metric = series.split('{').next().unwrap_or_default();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| {
                    metric
                        .strip_suffix(suffix)
                        .filter(|f| f.ends_with("milliseconds") || f.ends_with("latencies"))
                })
                .unwrap_or(metric);
            if family != last_family {
                let kind = if family == metric { "counter" } else { "histogram" };
                let _ = writeln!(out, "# TYPE {family} {kind}");
                last_family = family.to_string();
            }
            let _ = writeln!(out, "{series} {value}");
        }
        out
    }
}

/// Advance the counters every `tick`, so that a route change between two scrapes is counted
/// from when it happened.
pub async fn run(store: Store, traffic: Arc<Traffic>, tick: Duration) {
    let mut interval = tokio::time::interval(tick);
    loop {
        interval.tick().await;
        traffic.advance(&store);
    }
}

/// Serve `GET /metrics` on plain HTTP (Prometheus scrapes it without TLS configuration).
pub fn router(store: Store, traffic: Arc<Traffic>) -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let (store, traffic) = (store.clone(), traffic.clone());
            async move {
                traffic.advance(&store);
                ([("content-type", "text/plain; version=0.0.4")], traffic.render())
            }
        }),
    )
}

/// A Prometheus scrape config for a playground whose metrics are at `address` (`HOST:PORT`).
pub fn scrape_config(address: &str) -> String {
    format!(
        "scrape_configs:\n- job_name: modelroll-playground\n  scrape_interval: 1s\n  metrics_path: /metrics\n  static_configs:\n  - targets: ['{address}']\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(image: &str) -> Value {
        json!({"spec": {"containers": [{"name": "m", "image": image}]}})
    }

    #[test]
    fn image_tags_set_errors_and_latency() {
        assert_eq!(behaviour(&pod("r/m:v1")), Behaviour { error_ratio: 0.0, latency_ms: 25.0 });
        assert_eq!(behaviour(&pod("r/m:v2-err30")), Behaviour { error_ratio: 0.3, latency_ms: 25.0 });
        assert_eq!(behaviour(&pod("r/m:v2-slow200")), Behaviour { error_ratio: 0.0, latency_ms: 225.0 });
        assert_eq!(
            behaviour(&pod("r/m:v2-err5-slow100")),
            Behaviour { error_ratio: 0.05, latency_ms: 125.0 }
        );
        assert_eq!(behaviour(&pod("r/m:err150")).error_ratio, 1.0);
        // A registry port is no tag; "error" is no -errNN.
        assert_eq!(behaviour(&pod("registry:5000/m:v2-errors")).error_ratio, 0.0);
    }

    #[test]
    fn histograms_count_every_request_at_or_above_its_latency() {
        let mut c = Counters::default();
        c.histogram("h", "a=\"b\"", &[10.0, 100.0], 50.0, 4.0);
        assert_eq!(c.values["h_bucket{a=\"b\",le=\"10\"}"], 0.0);
        assert_eq!(c.values["h_bucket{a=\"b\",le=\"100\"}"], 4.0);
        assert_eq!(c.values["h_bucket{a=\"b\",le=\"+Inf\"}"], 4.0);
        assert_eq!(c.values["h_sum{a=\"b\"}"], 200.0);
        assert_eq!(c.values["h_count{a=\"b\"}"], 4.0);
    }
}
