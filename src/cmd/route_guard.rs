//! Never route to nothing: every destination of a route that gets weight selects ready pods,
//! before a weight changes ([`refuse_route_to_nothing`]) and all through a held step
//! ([`route_emptied`]). The destinations are read live each time (the Service's selector, the
//! DestinationRule's subset labels, the track Services), and so are their pods.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use kube::runtime::watcher::Event;
use kube::runtime::WatchStreamExt;

use crate::cluster::Target;
use crate::error::{Error, Result};
use crate::rollout::live::{common_labels, held_route_to_nothing, route_to_nothing, Destination};
use crate::router::{RouteDestination, Router};
use crate::write::Writer;

/// How often a held step reads the route's objects again even when no pod changed: an edit of a
/// selector or a subset's labels moves no pod.
const REREAD_ROUTES: Duration = Duration::from_secs(5);

fn selector_text(labels: &BTreeMap<String, String>) -> String {
    labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// The route's destinations as the live objects define them, each with its ready pods now.
///
/// # Errors
/// When the route's objects or the pods cannot be read.
pub async fn ready_destinations(w: &Writer, router: &dyn Router) -> Result<Vec<Destination>> {
    let mut destinations = Vec::new();
    for RouteDestination { track, what, selector } in router.destinations(w).await? {
        let text = selector_text(&selector);
        // An empty selector picks no pod behind a Service.
        let ready = if selector.is_empty() {
            0
        } else {
            crate::watch::list_summaries(&w.cluster.client, Some(w.namespace()), Some(&text))
                .await
                .map_err(|e| w.cluster.api_error(e, "list the pods of the route's destinations"))?
                .iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none() && p.ready())
                .count()
        };
        destinations.push(Destination { track, selects: format!("{what} ({text})"), ready });
    }
    Ok(destinations)
}

/// Before a weight change: each destination that would get weight must select ready pods.
/// Stops the command with the weights as they were (`recorded_weight` for the canary).
///
/// # Errors
/// Exit 1 naming the empty destination; when the objects cannot be read.
pub async fn refuse_route_to_nothing(
    w: &Writer,
    router: &dyn Router,
    target: &Target,
    recorded_weight: u32,
    weight: u32,
) -> Result<()> {
    match route_to_nothing(&ready_destinations(w, router).await?, weight) {
        None => Ok(()),
        Some(why) => Err(Error::failed(format!(
            "{why}: the weights of {target} stay at {recorded_weight}% for the canary. Give the pods back their labels (e.g. modelroll.io/track on the pod template) or run `kubectl modelroll abort {target}`"
        ))),
    }
}

/// Through a held step at `canary_weight`%: resolves only when a destination with weight no
/// longer selects a ready pod, with the reason (which destination, what it selects). Follows the
/// pods of every destination through one watch (on the labels they share) and reads the route's
/// objects again on each change and every few seconds; never resolves for a router without
/// destinations (the replicas router's Service selects both tracks; Knative routes revisions).
///
/// # Errors
/// When the route's objects or the pods cannot be read.
pub async fn route_emptied(w: &Writer, router: &dyn Router, canary_weight: u32) -> Result<String> {
    let first = router.destinations(w).await?;
    if first.is_empty() {
        return std::future::pending().await;
    }
    let selectors: Vec<_> = first.into_iter().map(|d| d.selector).collect();
    let common = selector_text(&common_labels(&selectors));
    let selector = (!common.is_empty()).then_some(common);
    let mut events = crate::watch::watch_summaries(w.cluster.client.clone(), w.namespace(), selector)
        .backoff(crate::watch::rewatch_backoff())
        .boxed();
    let mut reread = tokio::time::interval(REREAD_ROUTES);
    loop {
        tokio::select! {
            _ = reread.tick() => {}
            event = events.next() => match event {
                Some(Ok(Event::Apply(_) | Event::Delete(_) | Event::InitDone)) => {}
                Some(Ok(_)) => continue,
                Some(Err(e)) => {
                    crate::watch::check_watch_error(&w.cluster, e, "watch the pods of the route's destinations")?;
                    continue;
                }
                None => return Err(Error::failed("the watch of the route's pods ended")),
            },
        }
        // A rollout moves many pods at once: one look for all the changes already in.
        while let Some(Some(_)) = events.next().now_or_never() {}
        if let Some(why) = held_route_to_nothing(&ready_destinations(w, router).await?, canary_weight) {
            return Ok(why);
        }
    }
}
