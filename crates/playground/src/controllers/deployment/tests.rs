use super::*;
use k8s_openapi::api::apps::v1::{
    DeploymentSpec, DeploymentStrategy, ReplicaSetStatus, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{Container, PodSpec};

fn t(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + seconds).unwrap()
}

fn template(image: &str) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some([("app".to_string(), "web".to_string())].into()),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "model".into(),
                image: Some(image.into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
    }
}

fn deployment(replicas: i32, surge: IntOrString, unavailable: IntOrString, image: &str) -> Deployment {
    Deployment {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("default".into()),
            uid: Some("d-uid".into()),
            generation: Some(1),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some([("app".to_string(), "web".to_string())].into()),
                ..Default::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(surge),
                    max_unavailable: Some(unavailable),
                }),
            }),
            template: template(image),
            progress_deadline_seconds: Some(600),
            revision_history_limit: Some(10),
            ..Default::default()
        }),
        status: None,
    }
}

fn int(n: i32) -> IntOrString {
    IntOrString::Int(n)
}

fn pct(p: &str) -> IntOrString {
    IntOrString::String(p.into())
}

/// A tiny cluster: applies a sync's writes the way the API server would.
struct Cluster {
    d: Deployment,
    rss: Vec<ReplicaSet>,
    events: Vec<String>,
    clock: i64,
    created: usize,
}

impl Cluster {
    fn new(d: Deployment) -> Self {
        Cluster { d, rss: Vec::new(), events: Vec::new(), clock: 0, created: 0 }
    }

    fn sync(&mut self) -> DeploymentSync {
        let result = sync_deployment(&self.d, self.rss.clone(), &PodCounts::default(), t(self.clock));
        self.apply(&result);
        result
    }

    fn apply(&mut self, result: &DeploymentSync) {
        for rs in &result.create_replica_sets {
            let mut rs = rs.clone();
            self.created += 1;
            rs.metadata.uid = Some(format!("rs-uid-{}", self.created));
            rs.metadata.generation = Some(1);
            rs.metadata.creation_timestamp = Some(Time(t(self.clock)));
            self.rss.push(rs);
        }
        for rs in &result.update_replica_sets {
            let slot = self.rss.iter_mut().find(|r| r.metadata.name == rs.metadata.name).unwrap();
            let spec_changed = slot.spec != rs.spec;
            *slot = rs.clone();
            if spec_changed {
                slot.metadata.generation = Some(slot.metadata.generation.unwrap_or(0) + 1);
            }
        }
        self.rss.retain(|rs| !result.delete_replica_sets.contains(rs.metadata.name.as_ref().unwrap()));
        if let Some(d) = &result.update_deployment {
            self.d = d.clone();
        }
        self.events.extend(result.events.iter().map(|e| e.message.clone()));
    }

    /// The ReplicaSet controller and kubelet catch up: every ReplicaSet has its pods, and they are
    /// available when `available` says so (new pods of `unavailable_rs` never are).
    fn settle(&mut self, unavailable_rs: Option<&str>) {
        for rs in &mut self.rss {
            let replicas = rs_replicas(rs);
            let available =
                if Some(rs.metadata.name.as_deref().unwrap()) == unavailable_rs { 0 } else { replicas };
            rs.status = Some(ReplicaSetStatus {
                replicas,
                ready_replicas: Some(available),
                available_replicas: Some(available),
                observed_generation: rs.metadata.generation,
                ..Default::default()
            });
        }
    }

    fn new_template(&mut self, image: &str) {
        self.d.spec.as_mut().unwrap().template = template(image);
        self.d.metadata.generation = Some(self.d.metadata.generation.unwrap() + 1);
    }

    fn rs(&self, image: &str) -> &ReplicaSet {
        self.rss
            .iter()
            .find(|rs| {
                rs.spec.as_ref().unwrap().template.as_ref().unwrap().spec.as_ref().unwrap().containers[0]
                    .image
                    .as_deref()
                    == Some(image)
            })
            .unwrap()
    }

    fn replicas_of(&self, image: &str) -> i32 {
        rs_replicas(self.rs(image))
    }

    fn condition(&self, type_: &str) -> DeploymentCondition {
        get_condition(self.d.status.as_ref(), type_)
            .cloned()
            .unwrap_or_else(|| panic!("no {type_} condition"))
    }

    /// Sync and settle until nothing changes.
    fn converge(&mut self, unavailable_rs: Option<&str>) {
        for _ in 0..50 {
            let before = (self.d.clone(), self.rss.clone());
            self.sync();
            self.settle(unavailable_rs);
            if before == (self.d.clone(), self.rss.clone()) {
                return;
            }
        }
        panic!("did not converge");
    }
}

#[test]
fn fenceposts_round_surge_up_and_unavailable_down() {
    assert_eq!(resolve_fenceposts(Some(&pct("25%")), Some(&pct("25%")), 10), (3, 2));
    assert_eq!(resolve_fenceposts(Some(&pct("25%")), Some(&pct("25%")), 1), (1, 0));
    assert_eq!(
        resolve_fenceposts(Some(&int(0)), Some(&pct("10%")), 3),
        (0, 1),
        "both zero → one unavailable"
    );
    assert_eq!(resolve_fenceposts(Some(&int(1)), Some(&int(0)), 6), (1, 0));
    assert_eq!(resolve_fenceposts(Some(&pct("100%")), Some(&pct("0%")), 5), (5, 0));
    assert_eq!(resolve_fenceposts(None, None, 4), (0, 1));
    let err = scaled_value(&pct("abc"), 4, true).unwrap_err();
    assert_eq!(err, NotAPercent { text: "abc".into() });
    assert_eq!(err.to_string(), "invalid value for IntOrString: invalid value \"abc\"");
    let recreate = {
        let mut d = deployment(4, int(1), int(1), "m:v1");
        d.spec.as_mut().unwrap().strategy =
            Some(DeploymentStrategy { type_: Some("Recreate".into()), rolling_update: None });
        d
    };
    assert_eq!((max_surge(&recreate), max_unavailable(&recreate)), (0, 0));
    assert_eq!(max_unavailable(&deployment(2, int(0), int(5), "m:v1")), 2, "never more than replicas");
}

#[test]
fn pod_template_hash_is_stable_safe_and_salted() {
    let a = pod_template_hash(&template("m:v1"), None);
    assert_eq!(a, pod_template_hash(&template("m:v1"), None));
    assert_ne!(a, pod_template_hash(&template("m:v2"), None));
    assert_ne!(a, pod_template_hash(&template("m:v1"), Some(1)));
    assert!(a.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)), "{a}");
    let mut labelled = template("m:v1");
    labelled
        .metadata
        .as_mut()
        .unwrap()
        .labels
        .as_mut()
        .unwrap()
        .insert(POD_TEMPLATE_HASH_LABEL.into(), a.clone());
    assert!(equal_ignore_hash(&labelled, &template("m:v1")));
    assert!(!equal_ignore_hash(&labelled, &template("m:v2")));
}

#[test]
fn a_new_deployment_gets_its_first_replica_set() {
    let mut c = Cluster::new(deployment(3, int(1), int(0), "m:v1"));
    let result = c.sync();
    assert_eq!(result.create_replica_sets.len(), 1);
    let rs = &c.rss[0];
    let hash = pod_template_hash(&template("m:v1"), None);
    assert_eq!(rs.metadata.name.as_deref(), Some(format!("web-{hash}").as_str()));
    assert_eq!(rs_replicas(rs), 3);
    let annotations = rs.metadata.annotations.as_ref().unwrap();
    assert_eq!(annotations[REVISION_ANNOTATION], "1");
    assert_eq!(annotations[DESIRED_REPLICAS_ANNOTATION], "3");
    assert_eq!(annotations[MAX_REPLICAS_ANNOTATION], "4");
    let spec = rs.spec.as_ref().unwrap();
    assert_eq!(spec.selector.match_labels.as_ref().unwrap()[POD_TEMPLATE_HASH_LABEL], hash);
    assert_eq!(
        spec.template.as_ref().unwrap().metadata.as_ref().unwrap().labels.as_ref().unwrap()
            [POD_TEMPLATE_HASH_LABEL],
        hash
    );
    let owner = &rs.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller, owner.block_owner_deletion),
        ("Deployment", "d-uid", Some(true), Some(true))
    );
    assert_eq!(c.events, vec![format!("Scaled up replica set web-{hash} from 0 to 3")]);
    assert_eq!(c.d.metadata.annotations.as_ref().unwrap()[REVISION_ANNOTATION], "1");
    let progressing = c.condition("Progressing");
    assert_eq!(progressing.reason.as_deref(), Some("NewReplicaSetCreated"));
    assert_eq!(progressing.message, Some(format!("Created new replica set \"web-{hash}\"")));
    let available = c.condition("Available");
    assert_eq!(
        (available.status.as_str(), available.reason.as_deref()),
        ("False", Some("MinimumReplicasUnavailable"))
    );
    assert_eq!(available.message.as_deref(), Some("Deployment does not have minimum availability."));
    assert_eq!(c.d.status.as_ref().unwrap().observed_generation, Some(1));

    c.converge(None);
    let status = c.d.status.clone().unwrap();
    assert_eq!(
        (status.replicas, status.updated_replicas, status.ready_replicas, status.available_replicas),
        (Some(3), Some(3), Some(3), Some(3))
    );
    assert_eq!(status.unavailable_replicas, None);
    let progressing = c.condition("Progressing");
    assert_eq!(progressing.reason.as_deref(), Some("NewReplicaSetAvailable"));
    assert_eq!(progressing.message, Some(format!("ReplicaSet \"web-{hash}\" has successfully progressed.")));
    assert_eq!(c.condition("Available").reason.as_deref(), Some("MinimumReplicasAvailable"));
}

#[test]
fn rolling_update_with_surge_one_and_no_unavailability_goes_one_pod_at_a_time() {
    let mut c = Cluster::new(deployment(3, int(1), int(0), "m:v1"));
    c.converge(None);
    c.events.clear();
    c.new_template("m:v2");
    c.d.metadata.generation = Some(2);

    // Surge one new pod; no old pod may go until it is available.
    c.sync();
    assert_eq!((c.replicas_of("m:v1"), c.replicas_of("m:v2")), (3, 1));
    c.sync();
    assert_eq!((c.replicas_of("m:v1"), c.replicas_of("m:v2")), (3, 1), "new pod not available yet");
    let mut steps = vec![(3, 1)];
    for _ in 0..10 {
        c.settle(None);
        c.sync();
        let step = (c.replicas_of("m:v1"), c.replicas_of("m:v2"));
        if steps.last() != Some(&step) {
            steps.push(step);
        }
        let total = step.0 + step.1;
        assert!(total <= 4, "never more than replicas + maxSurge");
    }
    assert_eq!(steps, vec![(3, 1), (2, 1), (2, 2), (1, 2), (1, 3), (0, 3)]);
    let new_name = c.rs("m:v2").metadata.name.clone().unwrap();
    let old_name = c.rs("m:v1").metadata.name.clone().unwrap();
    assert_eq!(c.events[0], format!("Scaled up replica set {new_name} from 0 to 1"));
    assert_eq!(c.events[1], format!("Scaled down replica set {old_name} from 3 to 2"));
    assert_eq!(c.d.metadata.annotations.as_ref().unwrap()[REVISION_ANNOTATION], "2");
    c.converge(None);
    assert_eq!(c.condition("Progressing").reason.as_deref(), Some("NewReplicaSetAvailable"));
}

#[test]
fn rolling_update_with_percentages_respects_both_fenceposts() {
    // 10 replicas, 25%/25%: at most 13 pods, at least 8 available.
    let mut c = Cluster::new(deployment(10, pct("25%"), pct("25%"), "m:v1"));
    c.converge(None);
    c.new_template("m:v2");
    c.sync();
    assert_eq!((c.replicas_of("m:v1"), c.replicas_of("m:v2")), (8, 3), "surge 3 first; then 2 old may go");
    c.sync();
    assert_eq!((c.replicas_of("m:v1"), c.replicas_of("m:v2")), (8, 5));
}

#[test]
fn unhealthy_old_replicas_are_cleaned_up_first() {
    let mut c = Cluster::new(deployment(4, int(0), int(1), "m:v1"));
    c.converge(None);
    let old = c.rs("m:v1").metadata.name.clone().unwrap();
    // Two old pods are broken.
    for rs in &mut c.rss {
        rs.status.as_mut().unwrap().available_replicas = Some(2);
    }
    c.new_template("m:v2");
    c.sync();
    // maxSurge 0: the new RS may not grow; scale-down limited by maxScaledDown = 4 - 3 - 0 = 1,
    // spent on an unhealthy replica first.
    assert_eq!(c.replicas_of("m:v2"), 0);
    assert_eq!(c.replicas_of("m:v1"), 3);
    assert!(c.events.iter().any(|e| e == &format!("Scaled down replica set {old} from 4 to 3")));
}

#[test]
fn rollback_by_template_reuses_the_replica_set_and_bumps_its_revision() {
    let mut c = Cluster::new(deployment(2, int(1), int(0), "m:v1"));
    c.converge(None);
    c.new_template("m:v2");
    c.converge(None);
    assert_eq!(c.rss.len(), 2);
    c.new_template("m:v1");
    c.converge(None);
    assert_eq!(c.rss.len(), 2, "no new ReplicaSet for a template seen before");
    let v1 = c.rs("m:v1").metadata.annotations.clone().unwrap();
    assert_eq!(v1[REVISION_ANNOTATION], "3");
    assert_eq!(v1[REVISION_HISTORY_ANNOTATION], "1");
    assert_eq!(c.d.metadata.annotations.as_ref().unwrap()[REVISION_ANNOTATION], "3");
    assert_eq!((c.replicas_of("m:v1"), c.replicas_of("m:v2")), (2, 0));
    c.new_template("m:v2");
    c.converge(None);
    let v2 = c.rs("m:v2").metadata.annotations.clone().unwrap();
    assert_eq!((v2[REVISION_ANNOTATION].as_str(), v2[REVISION_HISTORY_ANNOTATION].as_str()), ("4", "2"));
}

#[test]
fn change_cause_is_copied_to_the_new_replica_set() {
    let mut d = deployment(1, int(1), int(0), "m:v1");
    d.metadata.annotations = Some(
        [
            ("kubernetes.io/change-cause".to_string(), "first".to_string()),
            ("kubectl.kubernetes.io/last-applied-configuration".to_string(), "{}".to_string()),
        ]
        .into(),
    );
    let mut c = Cluster::new(d);
    c.converge(None);
    let annotations = c.rss[0].metadata.annotations.clone().unwrap();
    assert_eq!(annotations["kubernetes.io/change-cause"], "first");
    assert!(!annotations.contains_key("kubectl.kubernetes.io/last-applied-configuration"));
}

#[test]
fn revision_history_limit_deletes_the_oldest_scaled_down_replica_sets() {
    let mut d = deployment(1, int(1), int(0), "m:v1");
    d.spec.as_mut().unwrap().revision_history_limit = Some(1);
    let mut c = Cluster::new(d);
    c.converge(None);
    for image in ["m:v2", "m:v3", "m:v4"] {
        c.new_template(image);
        c.converge(None);
    }
    let mut revisions: Vec<i64> = c.rss.iter().map(revision).collect();
    revisions.sort();
    assert_eq!(revisions, vec![3, 4], "one old ReplicaSet kept besides the current one");
}

#[test]
fn a_rollout_that_makes_no_progress_exceeds_its_deadline() {
    let mut d = deployment(2, int(1), int(0), "m:v1");
    d.spec.as_mut().unwrap().progress_deadline_seconds = Some(10);
    let mut c = Cluster::new(d);
    c.converge(None);
    c.new_template("m:crashloop");
    c.sync();
    let new_name = c.rs("m:crashloop").metadata.name.clone().unwrap();
    c.converge(Some(&new_name));
    let progressing = c.condition("Progressing");
    assert_eq!(progressing.reason.as_deref(), Some("ReplicaSetUpdated"));
    assert_eq!(progressing.message, Some(format!("ReplicaSet \"{new_name}\" is progressing.")));
    // Nothing happens until the deadline; the controller asks to look again just after it.
    let result = c.sync();
    let requeue = result.requeue_after.expect("requeue for the deadline");
    assert_eq!(requeue, Duration::from_secs(11));
    c.clock = 10;
    c.sync();
    assert_eq!(
        c.condition("Progressing").reason.as_deref(),
        Some("ReplicaSetUpdated"),
        "not before the deadline"
    );
    c.clock = 11;
    c.sync();
    let progressing = c.condition("Progressing");
    assert_eq!(progressing.status, "False");
    assert_eq!(progressing.reason.as_deref(), Some("ProgressDeadlineExceeded"));
    assert_eq!(progressing.message, Some(format!("ReplicaSet \"{new_name}\" has timed out progressing.")));
    assert_eq!(c.sync().requeue_after, None);
    // The old pods are all still there: maxUnavailable 0.
    assert_eq!(c.replicas_of("m:v1"), 2);
}

#[test]
fn a_paused_deployment_does_not_roll_out_but_scales() {
    let mut c = Cluster::new(deployment(2, int(1), int(0), "m:v1"));
    c.converge(None);
    c.d.spec.as_mut().unwrap().paused = Some(true);
    c.new_template("m:v2");
    c.converge(None);
    assert_eq!(c.rss.len(), 1);
    let progressing = c.condition("Progressing");
    assert_eq!(
        (progressing.status.as_str(), progressing.reason.as_deref()),
        ("Unknown", Some("DeploymentPaused"))
    );
    assert_eq!(progressing.message.as_deref(), Some("Deployment is paused"));
    c.d.spec.as_mut().unwrap().replicas = Some(4);
    c.converge(None);
    assert_eq!(c.replicas_of("m:v1"), 4);
    c.d.spec.as_mut().unwrap().paused = Some(false);
    c.sync();
    assert_eq!(c.rss.len(), 2);
    c.converge(None);
    assert_eq!((c.replicas_of("m:v1"), c.replicas_of("m:v2")), (0, 4));
}

#[test]
fn recreate_scales_everything_down_before_creating_the_new_replica_set() {
    let mut d = deployment(3, int(1), int(0), "m:v1");
    d.spec.as_mut().unwrap().strategy =
        Some(DeploymentStrategy { type_: Some("Recreate".into()), rolling_update: None });
    let mut c = Cluster::new(d);
    c.converge(None);
    c.new_template("m:v2");
    c.sync();
    assert_eq!(c.rss.len(), 1, "no new ReplicaSet while old pods exist");
    assert_eq!(c.replicas_of("m:v1"), 0);
    // Old ReplicaSet status still says 3 pods: wait.
    c.sync();
    assert_eq!(c.rss.len(), 1);
    // Pods of the old ReplicaSet still running (not yet in its status) also hold it back.
    c.settle(None);
    let uid = c.rs("m:v1").metadata.uid.clone().unwrap();
    let pods = PodCounts { non_terminal_by_replica_set: [(uid, 1)].into() };
    let result = sync_deployment(&c.d, c.rss.clone(), &pods, t(0));
    assert!(result.create_replica_sets.is_empty());
    c.sync();
    assert_eq!(c.replicas_of("m:v2"), 3, "all at once");
}

#[test]
fn scaling_mid_rollout_is_proportional() {
    // The documented example: 10 replicas, maxSurge 3, maxUnavailable 2, stuck rollout with 8 old
    // and 5 new; scaling to 15 adds 3 to the old and 2 to the new ReplicaSet.
    let mut c = Cluster::new(deployment(10, int(3), int(2), "m:v1"));
    c.converge(None);
    c.new_template("m:bad");
    c.sync();
    let bad = c.rs("m:bad").metadata.name.clone().unwrap();
    c.converge(Some(&bad));
    assert_eq!((c.replicas_of("m:v1"), c.replicas_of("m:bad")), (8, 5));
    c.d.spec.as_mut().unwrap().replicas = Some(15);
    c.d.metadata.generation = Some(c.d.metadata.generation.unwrap() + 1);
    c.sync();
    assert_eq!((c.replicas_of("m:v1"), c.replicas_of("m:bad")), (11, 7));
}

#[test]
fn scaling_a_settled_deployment_scales_its_replica_set() {
    let mut c = Cluster::new(deployment(3, pct("25%"), pct("25%"), "m:v1"));
    c.converge(None);
    c.d.spec.as_mut().unwrap().replicas = Some(5);
    c.sync();
    assert_eq!(c.replicas_of("m:v1"), 5);
    assert!(c.events.last().unwrap().starts_with("Scaled up replica set web-"));
    assert!(c.events.last().unwrap().ends_with(" from 3 to 5"));
    c.d.spec.as_mut().unwrap().replicas = Some(0);
    c.converge(None);
    assert_eq!(c.replicas_of("m:v1"), 0);
    assert_eq!(c.condition("Available").status, "True", "0 of 0 is minimum availability");
}
