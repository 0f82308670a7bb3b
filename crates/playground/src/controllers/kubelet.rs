//! The simulated kubelet's view of a pod: its status at any instant, as a pure function of when
//! the kubelet admitted it. Pods go ContainerCreating → Running → Ready after `ready-after`; an
//! image tag containing `crashloop` restarts forever (CrashLoopBackOff); one containing
//! `errimagepull` alternates ErrImagePull / ImagePullBackOff and never runs.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus,
    HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::{ControllerEvent, EventType};

/// Annotation that overrides `--ready-after` for one pod (a Go duration such as `1.5s`).
pub const READY_AFTER_ANNOTATION: &str = "playground.modelroll.io/ready-after";

/// How long each simulated step takes.
#[derive(Debug, Clone)]
pub struct KubeletTiming {
    /// From a container's start to the pod being Ready (`--ready-after`).
    pub ready_after: Duration,
    /// From admission (sandbox, image, create) to the containers running.
    pub start_delay: Duration,
    /// How long a `crashloop` container runs before it exits.
    pub crash_run: Duration,
    /// Back-off between a `crashloop` container's exit and its restart.
    pub crash_backoff: Duration,
    /// How long an `errimagepull` container shows each of ErrImagePull and ImagePullBackOff.
    pub pull_retry: Duration,
    /// From a pod's deletion to its containers having stopped.
    pub termination: Duration,
}

impl KubeletTiming {
    /// Timing for a given `--ready-after`, with steps short enough for tests.
    pub fn new(ready_after: Duration) -> Self {
        KubeletTiming {
            ready_after,
            start_delay: Duration::from_millis(100),
            crash_run: Duration::from_millis(500),
            crash_backoff: Duration::from_millis(1000),
            pull_retry: Duration::from_millis(1000),
            termination: Duration::from_millis(200),
        }
    }
}

/// A text that is no Go duration, in Go's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("time: invalid duration {text:?}")]
pub struct InvalidDuration {
    pub text: String,
}

/// Parse a Go `time.Duration` string (`300ms`, `1.5s`, `1m30s`, `2h`) with the one duration
/// parser of the crate, in the API server's words.
///
/// # Errors
/// [`InvalidDuration`], naming the text.
pub fn parse_go_duration(text: &str) -> Result<Duration, InvalidDuration> {
    kube_units::duration::parse(text).map_err(|_| InvalidDuration { text: text.to_string() })
}

/// What an image's tag makes its container do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageBehaviour {
    Healthy,
    CrashLoop,
    ErrImagePull,
}

/// The tag of an image reference (`repo/model:v2` → `v2`), if it has one.
pub fn image_tag(image: &str) -> Option<&str> {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last_segment = without_digest.rsplit('/').next().unwrap_or(without_digest);
    last_segment.split_once(':').map(|(_, tag)| tag)
}

/// What a container with this image does.
pub fn image_behaviour(image: &str) -> ImageBehaviour {
    match image_tag(image) {
        Some(tag) if tag.contains("errimagepull") => ImageBehaviour::ErrImagePull,
        Some(tag) if tag.contains("crashloop") => ImageBehaviour::CrashLoop,
        _ => ImageBehaviour::Healthy,
    }
}

/// What the kubelet decided for a pod when it admitted it.
#[derive(Debug, Clone)]
pub struct PodRun {
    /// When the kubelet admitted the pod (start of the timeline).
    pub admitted: Timestamp,
    /// When it was bound (PodScheduled's transition time).
    pub scheduled: Timestamp,
    pub pod_ip: String,
    pub host_ip: String,
    /// This pod's ready-after (annotation, else `--ready-after`).
    pub ready_after: Duration,
}

/// A pod's status at an instant, and when it next changes on its own.
#[derive(Debug, Clone)]
pub struct KubeletView {
    pub status: PodStatus,
    pub next_change: Option<Timestamp>,
}

fn at(t: Timestamp, d: Duration) -> Timestamp {
    t + SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX)
}

fn time(t: Timestamp) -> Option<Time> {
    Some(Time(t))
}

fn hex_id(seed: &str, salt: u64) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{seed}/{salt}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// One container's state at an instant.
struct ContainerView {
    status: ContainerStatus,
    /// Has started at least once.
    started_once: bool,
    next_change: Option<Timestamp>,
}

/// `pod_label` is how the kubelet names the pod in messages: `NAME_NAMESPACE(UID)`.
fn container_view(
    pod_uid: &str,
    pod_label: &str,
    name: &str,
    image: &str,
    run: &PodRun,
    timing: &KubeletTiming,
    now: Timestamp,
) -> ContainerView {
    let start = at(run.admitted, timing.start_delay);
    let mut status = ContainerStatus {
        name: name.to_string(),
        image: image.to_string(),
        image_id: String::new(),
        ready: false,
        restart_count: 0,
        started: Some(false),
        state: Some(ContainerState {
            waiting: Some(ContainerStateWaiting { reason: Some("ContainerCreating".into()), message: None }),
            ..Default::default()
        }),
        last_state: Some(ContainerState::default()),
        ..Default::default()
    };
    if now < start {
        return ContainerView { status, started_once: false, next_change: Some(start) };
    }
    let image_id = format!(
        "{}@sha256:{}",
        image.split('@').next().unwrap_or(image).rsplit_once(':').map_or(image, |(repo, _)| repo),
        hex_id(image, 0)
    );
    let since_start = now.duration_since(start).unsigned_abs();
    match image_behaviour(image) {
        ImageBehaviour::Healthy => {
            let ready_at = at(start, run.ready_after);
            status.image_id = image_id;
            status.container_id = Some(format!("containerd://{}", hex_id(pod_uid, 1)));
            status.started = Some(true);
            status.state = Some(ContainerState {
                running: Some(ContainerStateRunning { started_at: time(start) }),
                ..Default::default()
            });
            status.ready = now >= ready_at;
            ContainerView { status, started_once: true, next_change: (now < ready_at).then_some(ready_at) }
        }
        ImageBehaviour::CrashLoop => {
            let period = timing.crash_run + timing.crash_backoff;
            let cycle = (since_start.as_nanos() / period.as_nanos().max(1)) as u32;
            let cycle_start = at(start, period * cycle);
            let exited = at(cycle_start, timing.crash_run);
            status.image_id = image_id;
            status.restart_count = cycle as i32;
            if now < exited {
                status.container_id = Some(format!("containerd://{}", hex_id(pod_uid, u64::from(cycle) + 1)));
                status.started = Some(true);
                status.state = Some(ContainerState {
                    running: Some(ContainerStateRunning { started_at: time(cycle_start) }),
                    ..Default::default()
                });
                if cycle > 0 {
                    let previous_start = at(start, period * (cycle - 1));
                    status.last_state = Some(terminated(
                        pod_uid,
                        cycle,
                        previous_start,
                        at(previous_start, timing.crash_run),
                    ));
                }
                ContainerView { status, started_once: true, next_change: Some(exited) }
            } else {
                let back_off = timing.crash_backoff.as_secs_f64();
                status.state = Some(ContainerState {
                    waiting: Some(ContainerStateWaiting {
                        reason: Some("CrashLoopBackOff".into()),
                        message: Some(format!(
                            "back-off {back_off}s restarting failed container={name} pod={pod_label}"
                        )),
                    }),
                    ..Default::default()
                });
                status.last_state = Some(terminated(pod_uid, cycle + 1, cycle_start, exited));
                ContainerView { status, started_once: true, next_change: Some(at(cycle_start, period)) }
            }
        }
        ImageBehaviour::ErrImagePull => {
            let cycle = (since_start.as_nanos() / timing.pull_retry.as_nanos().max(1)) as u32;
            let (reason, message) = if cycle.is_multiple_of(2) {
                ("ErrImagePull", format!("failed to pull and unpack image {image:?}: failed to resolve reference {image:?}: {image}: not found"))
            } else {
                ("ImagePullBackOff", format!("Back-off pulling image {image:?}"))
            };
            status.state = Some(ContainerState {
                waiting: Some(ContainerStateWaiting { reason: Some(reason.into()), message: Some(message) }),
                ..Default::default()
            });
            ContainerView {
                status,
                started_once: false,
                next_change: Some(at(start, timing.pull_retry * (cycle + 1))),
            }
        }
    }
}

fn terminated(pod_uid: &str, container_seq: u32, started: Timestamp, finished: Timestamp) -> ContainerState {
    ContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code: 1,
            reason: Some("Error".into()),
            started_at: time(started),
            finished_at: time(finished),
            container_id: Some(format!("containerd://{}", hex_id(pod_uid, u64::from(container_seq)))),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn condition(
    type_: &str,
    status: bool,
    since: Timestamp,
    reason: Option<String>,
    message: Option<String>,
) -> PodCondition {
    PodCondition {
        type_: type_.to_string(),
        status: if status { "True" } else { "False" }.to_string(),
        last_transition_time: time(since),
        last_probe_time: None,
        reason,
        message,
        ..Default::default()
    }
}

/// The status the kubelet reports for a bound pod at `now`, and when it next changes.
pub fn status_at(pod: &Pod, run: &PodRun, timing: &KubeletTiming, now: Timestamp) -> KubeletView {
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let pod_label = format!("{name}_{namespace}({uid})");
    let views: Vec<ContainerView> = pod
        .spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .map(|c| {
            container_view(&uid, &pod_label, &c.name, c.image.as_deref().unwrap_or(""), run, timing, now)
        })
        .collect();
    let sandbox_ready = now >= at(run.admitted, timing.start_delay);
    let all_started = !views.is_empty() && views.iter().all(|v| v.started_once);
    let unready: Vec<&str> =
        views.iter().filter(|v| !v.status.ready).map(|v| v.status.name.as_str()).collect();
    let ready = unready.is_empty() && !views.is_empty();
    // Ready turns True once, ready-after past the containers' start; until then it is False since admission.
    let ready_since =
        if ready { at(at(run.admitted, timing.start_delay), run.ready_after) } else { run.admitted };
    let not_ready_reason = (!ready).then(|| "ContainersNotReady".to_string());
    let not_ready_message =
        (!ready).then(|| format!("containers with unready status: [{}]", unready.join(" ")));
    let conditions = vec![
        condition(
            "PodReadyToStartContainers",
            sandbox_ready,
            if sandbox_ready { at(run.admitted, timing.start_delay) } else { run.admitted },
            None,
            None,
        ),
        condition("Initialized", true, run.admitted, None, None),
        condition("Ready", ready, ready_since, not_ready_reason.clone(), not_ready_message.clone()),
        condition("ContainersReady", ready, ready_since, not_ready_reason, not_ready_message),
        condition("PodScheduled", true, run.scheduled, None, None),
    ];
    let status = PodStatus {
        phase: Some(if all_started { "Running" } else { "Pending" }.to_string()),
        conditions: Some(conditions),
        host_ip: Some(run.host_ip.clone()),
        host_ips: Some(vec![HostIP { ip: run.host_ip.clone() }]),
        pod_ip: sandbox_ready.then(|| run.pod_ip.clone()),
        pod_ips: sandbox_ready.then(|| vec![PodIP { ip: run.pod_ip.clone() }]),
        start_time: time(run.admitted),
        container_statuses: Some(views.iter().map(|v| v.status.clone()).collect()),
        qos_class: pod.status.as_ref().and_then(|s| s.qos_class.clone()),
        ..Default::default()
    };
    let next_change = views.iter().filter_map(|v| v.next_change).min();
    KubeletView { status, next_change }
}

/// The status of a pod whose containers have been stopped after its deletion.
pub fn terminated_status(pod: &Pod, now: Timestamp) -> PodStatus {
    let mut status = pod.status.clone().unwrap_or_default();
    for container in status.container_statuses.iter_mut().flatten() {
        let started =
            container.state.as_ref().and_then(|s| s.running.as_ref()).and_then(|r| r.started_at.clone());
        let was_running = started.is_some();
        container.ready = false;
        container.started = Some(false);
        if was_running {
            container.state = Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: 0,
                    reason: Some("Completed".into()),
                    started_at: started,
                    finished_at: time(now),
                    container_id: container.container_id.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
    }
    for condition in status.conditions.iter_mut().flatten() {
        if (condition.type_ == "Ready" || condition.type_ == "ContainersReady") && condition.status == "True"
        {
            condition.status = "False".into();
            condition.reason = Some("PodCompleted".into());
            condition.message = None;
            condition.last_transition_time = time(now);
        }
    }
    status
}

/// An event the kubelet records about one container of a pod (its `involvedObject.fieldPath`
/// names the container; the message need not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerEvent {
    pub container: String,
    pub event: ControllerEvent,
}

/// Events the kubelet records between two instants of a pod's timeline (`from` excluded).
pub fn events_between(
    pod: &Pod,
    run: &PodRun,
    timing: &KubeletTiming,
    from: Option<Timestamp>,
    to: Timestamp,
) -> Vec<ContainerEvent> {
    let mut events = Vec::new();
    let start = at(run.admitted, timing.start_delay);
    let crossed = |t: Timestamp| from.is_none_or(|f| t > f) && t <= to;
    let name = pod.metadata.name.clone().unwrap_or_default();
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    for container in pod.spec.iter().flat_map(|s| s.containers.iter()) {
        let image = container.image.as_deref().unwrap_or("");
        let c = &container.name;
        let event = |type_: EventType, reason: &str, message: String| ContainerEvent {
            container: c.clone(),
            event: ControllerEvent { type_, reason: reason.into(), message },
        };
        let normal = |reason: &str, message: String| event(EventType::Normal, reason, message);
        let warning = |reason: &str, message: String| event(EventType::Warning, reason, message);
        // Only Started per container start (no Pulled/Created): at thousands of pods, events
        // are a large share of all writes, and Started says what matters.
        match image_behaviour(image) {
            ImageBehaviour::Healthy => {
                if crossed(start) {
                    events.push(normal("Started", format!("Started container {c}")));
                }
            }
            ImageBehaviour::CrashLoop => {
                let period = timing.crash_run + timing.crash_backoff;
                // Each (re)start, and each back-off; at most the latest few between two looks.
                let mut emitted_backoff = false;
                for cycle in 0u32..10_000 {
                    let cycle_start = at(start, period * cycle);
                    if cycle_start > to {
                        break;
                    }
                    if crossed(cycle_start) {
                        events.push(normal("Started", format!("Started container {c}")));
                    }
                    let exited = at(cycle_start, timing.crash_run);
                    if crossed(exited) && !emitted_backoff {
                        events.push(warning(
                            "BackOff",
                            format!(
                                "Back-off restarting failed container {c} in pod {name}_{namespace}({uid})"
                            ),
                        ));
                        emitted_backoff = true;
                    }
                }
            }
            ImageBehaviour::ErrImagePull => {
                for cycle in 0u32..10_000 {
                    let t = at(start, timing.pull_retry * cycle);
                    if t > to {
                        break;
                    }
                    if !crossed(t) {
                        continue;
                    }
                    if cycle % 2 == 0 {
                        events.push(normal("Pulling", format!("Pulling image {image:?}")));
                        events.push(warning("Failed", format!("Failed to pull image {image:?}: rpc error: code = NotFound desc = failed to pull and unpack image {image:?}: not found")));
                        events.push(warning("Failed", "Error: ErrImagePull".to_string()));
                    } else {
                        events.push(normal("BackOff", format!("Back-off pulling image {image:?}")));
                        events.push(warning("Failed", "Error: ImagePullBackOff".to_string()));
                    }
                }
            }
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn t0() -> Timestamp {
        Timestamp::from_second(1_700_000_000).unwrap()
    }

    fn ms(n: u64) -> Timestamp {
        at(t0(), Duration::from_millis(n))
    }

    fn pod(image: &str) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("web-1".into()),
                namespace: Some("ns".into()),
                uid: Some("u1".into()),
                ..Default::default()
            },
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "model".into(),
                    image: Some(image.into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            status: None,
        }
    }

    fn run() -> PodRun {
        PodRun {
            admitted: t0(),
            scheduled: t0(),
            pod_ip: "10.244.1.5".into(),
            host_ip: "172.18.0.2".into(),
            ready_after: Duration::from_millis(1000),
        }
    }

    fn cond<'a>(s: &'a PodStatus, type_: &str) -> &'a PodCondition {
        s.conditions.as_ref().unwrap().iter().find(|c| c.type_ == type_).unwrap()
    }

    fn waiting_reason(s: &PodStatus) -> Option<String> {
        s.container_statuses.as_ref().unwrap()[0]
            .state
            .as_ref()
            .unwrap()
            .waiting
            .as_ref()
            .and_then(|w| w.reason.clone())
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_go_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
        assert!(parse_go_duration("5").is_err());
        assert_eq!(parse_go_duration("fast"), Err(InvalidDuration { text: "fast".into() }));
        assert_eq!(parse_go_duration("fast").unwrap_err().to_string(), "time: invalid duration \"fast\"");
        assert!(parse_go_duration("-1s").is_err());
    }

    #[test]
    fn tags_decide_behaviour() {
        assert_eq!(image_tag("registry:5000/team/model:v2-crashloop"), Some("v2-crashloop"));
        assert_eq!(image_tag("registry:5000/team/model"), None);
        assert_eq!(image_behaviour("model:v2-crashloop"), ImageBehaviour::CrashLoop);
        assert_eq!(image_behaviour("model:errimagepull"), ImageBehaviour::ErrImagePull);
        assert_eq!(image_behaviour("crashloop/model:v1"), ImageBehaviour::Healthy, "only the tag counts");
    }

    #[test]
    fn healthy_pod_goes_creating_running_ready_and_never_early() {
        let timing = KubeletTiming::new(Duration::from_millis(1000));
        let p = pod("model:v1");
        let v = status_at(&p, &run(), &timing, ms(0));
        assert_eq!(v.status.phase.as_deref(), Some("Pending"));
        assert_eq!(waiting_reason(&v.status).as_deref(), Some("ContainerCreating"));
        assert_eq!(v.status.pod_ip, None);
        assert_eq!(v.next_change, Some(ms(100)));
        assert_eq!(
            cond(&v.status, "Ready").message.as_deref(),
            Some("containers with unready status: [model]")
        );

        let v = status_at(&p, &run(), &timing, ms(100));
        assert_eq!(v.status.phase.as_deref(), Some("Running"));
        assert_eq!(v.status.pod_ip.as_deref(), Some("10.244.1.5"));
        assert_eq!(cond(&v.status, "Ready").status, "False");
        assert_eq!(v.next_change, Some(ms(1100)));

        let v = status_at(&p, &run(), &timing, ms(1099));
        assert_eq!(cond(&v.status, "Ready").status, "False", "not before ready-after");
        let v = status_at(&p, &run(), &timing, ms(1100));
        assert_eq!(cond(&v.status, "Ready").status, "True");
        assert_eq!(cond(&v.status, "ContainersReady").status, "True");
        assert_eq!(v.next_change, None);
        let events = events_between(&p, &run(), &timing, None, ms(1100));
        let reasons: Vec<&str> = events.iter().map(|e| e.event.reason.as_str()).collect();
        assert_eq!(reasons, vec!["Started"]);
        assert!(events_between(&p, &run(), &timing, Some(ms(200)), ms(5000)).is_empty());
    }

    #[test]
    fn crashloop_restarts_with_rising_count_and_is_never_ready() {
        let timing = KubeletTiming::new(Duration::from_millis(0));
        let p = pod("model:v2-crashloop");
        let v = status_at(&p, &run(), &timing, ms(200));
        assert_eq!(v.status.phase.as_deref(), Some("Running"));
        assert_eq!(v.status.container_statuses.as_ref().unwrap()[0].restart_count, 0);
        assert_eq!(cond(&v.status, "Ready").status, "False");
        let v = status_at(&p, &run(), &timing, ms(700));
        assert_eq!(waiting_reason(&v.status).as_deref(), Some("CrashLoopBackOff"));
        let message = v.status.container_statuses.as_ref().unwrap()[0]
            .state
            .as_ref()
            .unwrap()
            .waiting
            .as_ref()
            .unwrap()
            .message
            .clone()
            .unwrap();
        assert_eq!(message, "back-off 1s restarting failed container=model pod=web-1_ns(u1)");
        let v = status_at(&p, &run(), &timing, ms(4700));
        let container = &v.status.container_statuses.as_ref().unwrap()[0];
        assert_eq!(container.restart_count, 3);
        assert!(container.last_state.as_ref().unwrap().terminated.is_some());
        assert_eq!(cond(&v.status, "Ready").status, "False");
        let events = events_between(&p, &run(), &timing, Some(ms(550)), ms(700));
        assert_eq!(events[0].event.reason, "BackOff");
    }

    #[test]
    fn errimagepull_never_runs() {
        let timing = KubeletTiming::new(Duration::from_millis(0));
        let p = pod("model:errimagepull");
        let first = status_at(&p, &run(), &timing, ms(150));
        assert_eq!(waiting_reason(&first.status).as_deref(), Some("ErrImagePull"));
        let later = status_at(&p, &run(), &timing, ms(1150));
        assert_eq!(waiting_reason(&later.status).as_deref(), Some("ImagePullBackOff"));
        assert_eq!(later.status.phase.as_deref(), Some("Pending"));
        assert_eq!(
            waiting_reason(&status_at(&p, &run(), &timing, ms(60_150)).status).as_deref(),
            Some("ErrImagePull")
        );
    }

    #[test]
    fn each_event_names_its_container_whatever_its_message_says() {
        let timing = KubeletTiming::new(Duration::from_millis(0));
        let mut p = pod("model:v1");
        let spec = p.spec.as_mut().unwrap();
        spec.containers.push(Container {
            name: "proxy".into(),
            image: Some("envoy:errimagepull".into()),
            ..Default::default()
        });
        let events = events_between(&p, &run(), &timing, None, ms(150));
        let seen: Vec<(&str, &str, &str)> = events
            .iter()
            .map(|e| (e.container.as_str(), e.event.reason.as_str(), e.event.message.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                ("model", "Started", "Started container model"),
                ("proxy", "Pulling", "Pulling image \"envoy:errimagepull\""),
                ("proxy", "Failed", "Failed to pull image \"envoy:errimagepull\": rpc error: code = NotFound desc = failed to pull and unpack image \"envoy:errimagepull\": not found"),
                ("proxy", "Failed", "Error: ErrImagePull"),
            ]
        );
    }

    #[test]
    fn termination_stops_containers_and_unreadies() {
        let timing = KubeletTiming::new(Duration::from_millis(0));
        let mut p = pod("model:v1");
        p.status = Some(status_at(&p, &run(), &timing, ms(500)).status);
        let status = terminated_status(&p, ms(600));
        assert_eq!(cond(&status, "Ready").status, "False");
        assert!(status.container_statuses.unwrap()[0].state.as_ref().unwrap().terminated.is_some());
    }
}
