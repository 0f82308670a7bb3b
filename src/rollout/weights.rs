//! Traffic weight math of a canary: parsing weights and steps, splitting 100 between stable and
//! canary, and how many pods each track needs for its share.

/// A traffic split between the stable and the canary track; the two always add up to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    pub stable: u32,
    pub canary: u32,
}

impl Split {
    /// The split that gives `canary_weight` (clamped to 0–100) to the canary.
    pub fn with_canary(canary_weight: u32) -> Self {
        let canary = canary_weight.min(100);
        Self { stable: 100 - canary, canary }
    }
}

/// A weight that is not a whole number from 0 to 100; `text` as given, trimmed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid weight {text:?}: a weight is a whole number from 0 to 100")]
pub struct WeightError {
    pub text: String,
}

/// What is wrong with `--steps`; `steps` is the flag's value as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepsError {
    #[error("invalid --steps {steps:?}: {source}")]
    Weight { steps: String, source: WeightError },
    #[error("invalid --steps {steps:?}: steps must increase ({weight} comes after {last})")]
    NotIncreasing { steps: String, weight: u32, last: u32 },
}

/// Parse a traffic weight: an integer from 0 to 100.
///
/// # Errors
/// [`WeightError`], naming `text`.
pub fn parse_weight(text: &str) -> Result<u32, WeightError> {
    let trimmed = text.trim();
    match trimmed.parse::<i64>() {
        Ok(w) if (0..=100).contains(&w) => Ok(w as u32),
        _ => Err(WeightError { text: trimmed.to_string() }),
    }
}

/// Parse `--steps W1,W2,…`: weights from 1 to 100, strictly increasing.
///
/// # Errors
/// A [`StepsError`] naming the bad step.
pub fn parse_steps(text: &str) -> Result<Vec<u32>, StepsError> {
    let mut steps = Vec::new();
    for part in text.split(',') {
        let weight =
            parse_weight(part).map_err(|source| StepsError::Weight { steps: text.to_string(), source })?;
        if let Some(&last) = steps.last() {
            if weight <= last {
                return Err(StepsError::NotIncreasing { steps: text.to_string(), weight, last });
            }
        }
        steps.push(weight);
    }
    // Never empty: splitting gives at least one part, and an empty part is no weight.
    Ok(steps)
}

/// Replicas router: how `total` pods are split so that the canary's share of pods is its weight.
/// canary = round(total × weight / 100), stable = total − canary, and while 0 < weight < 100 each
/// track keeps at least one pod (which may take one pod more than `total` when `total` is 1).
pub fn replica_split(total: i32, weight: u32) -> (i32, i32) {
    let total = total.max(0);
    let weight = weight.min(100) as i64;
    let mut canary = ((total as i64 * weight + 50) / 100) as i32;
    let mut stable = total - canary;
    if weight > 0 && weight < 100 {
        if canary == 0 {
            canary = 1;
            stable = (total - 1).max(1);
        }
        if stable == 0 {
            stable = 1;
            canary = (total - 1).max(1);
        }
    }
    (stable, canary)
}

/// Mesh and gateway routers: pods the canary needs to carry `weight`% of what `stable_replicas`
/// pods carry today; at least one, so that a canary at weight 0 can be seen ready first.
pub fn canary_capacity(stable_replicas: i32, weight: u32) -> i32 {
    let stable = stable_replicas.max(1) as i64;
    let needed = (stable * weight.min(100) as i64 + 99) / 100;
    needed.max(1) as i32
}

/// The weight the canary actually gets when traffic follows ready pods (replicas router).
pub fn effective_weight(stable_ready: i32, canary_ready: i32) -> u32 {
    let total = stable_ready.max(0) + canary_ready.max(0);
    if total == 0 {
        return 0;
    }
    ((canary_ready.max(0) as i64 * 100 + total as i64 / 2) / total as i64) as u32
}

/// What the replicas router makes of a weight: the canary's pods out of all, and the share of
/// traffic that is (traffic follows pods behind the model's Service).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicaShare {
    pub canary_pods: i32,
    pub total_pods: i32,
    /// The canary's share of the pods, rounded as [`effective_weight`] rounds it.
    pub effective: u32,
}

impl ReplicaShare {
    /// The share of `stable_replicas` pods split for `weight` by [`replica_split`].
    pub fn of(stable_replicas: i32, weight: u32) -> Self {
        let (stable, canary) = replica_split(stable_replicas, weight);
        Self { canary_pods: canary, total_pods: stable + canary, effective: effective_weight(stable, canary) }
    }

    /// `1 of 3 pods = 33%`.
    pub fn pods_text(&self) -> String {
        format!("{} of {} pods = {}%", self.canary_pods, self.total_pods, self.effective)
    }
}

/// The fewest replicas, at least `stable_replicas`, that the replicas router splits into
/// exactly `weight`%: a multiple of 100 / gcd(weight, 100) (10% needs 10 pods, 25% needs 4).
pub fn replicas_for_exact_weight(stable_replicas: i32, weight: u32) -> i32 {
    fn gcd(a: u32, b: u32) -> u32 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    let step = (100 / gcd(weight.min(100), 100)) as i32;
    let at_least = stable_replicas.max(1);
    (at_least + step - 1) / step * step
}

/// When the replicas router cannot give `weight` exactly with `stable_replicas` pods: what it
/// gives instead and what would reach the weight asked, e.g. "with 3 replicas the replicas router
/// gives 1 of 3 pods = 33%; 10 replicas would give exactly 10% (1 of 10), or a mesh router …".
/// `None` when the pods carry the weight exactly. A replica count far above today's (33% needs
/// 100) is not offered: only the mesh router is.
pub fn replica_share_note(stable_replicas: i32, weight: u32) -> Option<String> {
    let share = ReplicaShare::of(stable_replicas, weight);
    if share.effective == weight {
        return None;
    }
    let mesh = "a mesh router (`canary --router istio` or `--router gateway-api`) splits traffic by weight";
    let exact = replicas_for_exact_weight(stable_replicas, weight);
    let offer = if exact <= (2 * stable_replicas).max(20) {
        let canary = ReplicaShare::of(exact, weight).canary_pods;
        format!("{exact} replicas would give exactly {weight}% ({canary} of {exact}), or {mesh}")
    } else {
        mesh.to_string()
    };
    Some(format!(
        "with {stable_replicas} {} the replicas router gives {}; {offer}",
        if stable_replicas == 1 { "replica" } else { "replicas" },
        share.pods_text()
    ))
}

/// Split a route's weight `route_weight` (the share the model's backend had) between stable and
/// canary: the canary gets its part, rounded, and stable the rest, so nothing is lost.
pub fn split_route_weight(route_weight: u32, split: Split) -> (u32, u32) {
    let canary = ((route_weight as u64 * split.canary as u64 + 50) / 100) as u32;
    (route_weight - canary, canary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_whole_numbers_from_0_to_100() {
        assert_eq!(parse_weight("0"), Ok(0));
        assert_eq!(parse_weight("100"), Ok(100));
        assert_eq!(parse_weight(" 25 "), Ok(25));
        for bad in ["-1", "101", "abc", "", "2.5", "10%"] {
            assert_eq!(parse_weight(bad), Err(WeightError { text: bad.into() }), "{bad}");
        }
        assert_eq!(parse_weight(" 101 "), Err(WeightError { text: "101".into() }));
        assert_eq!(
            parse_weight("101").unwrap_err().to_string(),
            "invalid weight \"101\": a weight is a whole number from 0 to 100"
        );
    }

    #[test]
    fn steps_must_increase() {
        assert_eq!(parse_steps("10,25,50,100"), Ok(vec![10, 25, 50, 100]));
        assert_eq!(parse_steps("50"), Ok(vec![50]));
        let steps = |s: &str| s.to_string();
        assert_eq!(
            parse_steps("10,10"),
            Err(StepsError::NotIncreasing { steps: steps("10,10"), weight: 10, last: 10 })
        );
        assert_eq!(
            parse_steps("50,25").unwrap_err().to_string(),
            "invalid --steps \"50,25\": steps must increase (25 comes after 50)"
        );
        let weight = |text: &str| WeightError { text: text.into() };
        assert_eq!(
            parse_steps("10,abc"),
            Err(StepsError::Weight { steps: steps("10,abc"), source: weight("abc") })
        );
        assert_eq!(
            parse_steps("10,101").unwrap_err().to_string(),
            "invalid --steps \"10,101\": invalid weight \"101\": a weight is a whole number from 0 to 100"
        );
        // An empty flag is one empty weight.
        assert_eq!(parse_steps(""), Err(StepsError::Weight { steps: steps(""), source: weight("") }));
    }

    #[test]
    fn replica_split_rounds_and_keeps_one_of_each() {
        assert_eq!(replica_split(4, 0), (4, 0));
        assert_eq!(replica_split(4, 25), (3, 1));
        assert_eq!(replica_split(4, 50), (2, 2));
        assert_eq!(replica_split(4, 100), (0, 4));
        // 25% of 7 is 1.75 → 2.
        assert_eq!(replica_split(7, 25), (5, 2));
        // 10% of 4 rounds to 0, but a canary with weight has a pod.
        assert_eq!(replica_split(4, 10), (3, 1));
        // 95% of 4 rounds to 4, but stable keeps one pod while the canary is below 100.
        assert_eq!(replica_split(4, 95), (1, 3));
        assert_eq!(replica_split(1, 50), (1, 1));
        assert_eq!(replica_split(2, 1), (1, 1));
        for n in 0..20 {
            for w in 0..=100 {
                let (s, c) = replica_split(n, w);
                assert!(s >= 0 && c >= 0);
                if w > 0 && w < 100 {
                    assert!(s >= 1 && c >= 1, "n={n} w={w}");
                } else {
                    assert_eq!(s + c, n);
                }
            }
        }
    }

    #[test]
    fn canary_capacity_covers_its_share() {
        assert_eq!(canary_capacity(4, 0), 1);
        assert_eq!(canary_capacity(4, 10), 1);
        assert_eq!(canary_capacity(4, 30), 2);
        assert_eq!(canary_capacity(4, 100), 4);
        assert_eq!(canary_capacity(0, 50), 1);
    }

    #[test]
    fn effective_weight_follows_ready_pods() {
        assert_eq!(effective_weight(3, 1), 25);
        assert_eq!(effective_weight(0, 0), 0);
        assert_eq!(effective_weight(0, 2), 100);
        assert_eq!(effective_weight(2, 1), 33);
    }

    #[test]
    fn the_replicas_router_says_what_it_gives_and_what_would_give_the_weight_asked() {
        assert_eq!(
            replica_share_note(3, 10).as_deref(),
            Some(
                "with 3 replicas the replicas router gives 1 of 3 pods = 33%; 10 replicas would give exactly 10% \
                 (1 of 10), or a mesh router (`canary --router istio` or `--router gateway-api`) splits traffic by weight"
            )
        );
        assert!(replica_share_note(1, 10)
            .unwrap()
            .starts_with("with 1 replica the replicas router gives 1 of 2 pods = 50%"));
        // Exact already: nothing to say.
        for (n, w) in [(4, 25), (4, 50), (10, 10), (3, 0), (3, 100), (1, 50)] {
            assert_eq!(replica_share_note(n, w), None, "{n} replicas at {w}%");
        }
        // 33% needs 100 pods (7 give 2 of 7 = 29%): only the mesh router is offered.
        let note = replica_share_note(7, 33).unwrap();
        assert!(note.contains("; a mesh router"), "{note}");
        // Whatever is offered reaches the weight asked.
        for n in 1..30 {
            for w in 1..100 {
                let exact = replicas_for_exact_weight(n, w);
                assert!(exact >= n);
                assert_eq!(ReplicaShare::of(exact, w).effective, w, "{exact} replicas at {w}%");
            }
        }
    }

    #[test]
    fn splits_add_up_to_100() {
        for w in 0..=100 {
            let s = Split::with_canary(w);
            assert_eq!(s.stable + s.canary, 100);
            let (a, b) = split_route_weight(100, s);
            assert_eq!((a, b), (s.stable, s.canary));
            let (a, b) = split_route_weight(40, s);
            assert_eq!(a + b, 40);
        }
        assert_eq!(Split::with_canary(250).canary, 100);
    }
}
