//! The pods of a rollout, watched so that memory grows by one summary per pod and not by list
//! pages: the initial list is one request read item by item as it arrives
//! ([`crate::stream_list`]), each pod cut down to its summary ([`PodSummary`]) at once;
//! then a watch from the list's resourceVersion, with bookmarks. A watch that ends or is cut
//! resumes from the last resourceVersion seen; one the API server can no longer resume (410 Gone)
//! lists again the same way.
//!
//! kube's `watcher` lists in pages of up to 500 and parses each page whole, full pods, before
//! any of them reaches the caller: at a thousand replicas that page, not the summaries, was the
//! peak of a waiting `set-image`, and every 500 pods cost one more request.

use std::pin::Pin;
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use kube::runtime::watcher::{Error, Event};
use kube::Resource;

use crate::rollout::pod::PodSummary;
use crate::stream_list::{self, Listed};

/// How long one watch request lasts on the server (kube's and client-go's default), and how
/// long a watch may stay silent before it is taken for a dead connection and resumed: the server
/// closes it by then, and sends bookmarks meanwhile.
const WATCH_SECONDS: u32 = 290;
const SILENT_FOR: Duration = Duration::from_secs(WATCH_SECONDS as u64 + 5);

/// Summaries of the pods in `api` that `label_selector` selects, as watcher events: `Init`, an
/// `InitApply` per pod listed, `InitDone`, then `Apply`/`Delete` as they change; a re-list
/// starts again with `Init`. Errors are yielded as kube's watcher yields them and the stream
/// goes on (re-watching, or re-listing after 410 Gone) when polled again: pace it with
/// [`kube::runtime::WatchStreamExt::backoff`].
pub fn watch_summaries(
    client: kube::Client,
    namespace: &str,
    label_selector: Option<String>,
) -> impl Stream<Item = Result<Event<PodSummary>, Error>> + Send {
    let watch = PodWatch {
        api: Api::namespaced(client.clone(), namespace),
        client,
        namespace: namespace.to_string(),
        label_selector,
    };
    futures::stream::unfold((watch, State::Unlisted), |(watch, state)| async move {
        let (event, state) = watch.next(state).await;
        Some((event, (watch, state)))
    })
}

/// The summaries of the pods in `namespace` (`None`: in all namespaces) that `label_selector`
/// selects (`None`: all), listed in one request and each cut to its summary as it arrives: the
/// whole list is never held.
///
/// # Errors
/// The list is refused, or its body is not a list of pods or is cut short.
pub async fn list_summaries(
    client: &kube::Client,
    namespace: Option<&str>,
    label_selector: Option<&str>,
) -> kube::Result<Vec<PodSummary>> {
    let mut pods = Vec::new();
    stream_list::for_each_item(client, list_request(namespace, label_selector)?, |pod: Pod| {
        super::push_grown_by_a_quarter(&mut pods, PodSummary::from(pod));
    })
    .await?;
    Ok(pods)
}

/// A list of pods: one request, no pages (a page would be parsed whole), of the most recent state
/// (no resourceVersion), as kube's watcher asks for it by default.
fn list_request(
    namespace: Option<&str>,
    label_selector: Option<&str>,
) -> kube::Result<http::Request<Vec<u8>>> {
    let params = ListParams { label_selector: label_selector.map(str::to_string), ..ListParams::default() };
    kube::core::Request::new(Pod::url_path(&(), namespace)).list(&params).map_err(kube::Error::BuildRequest)
}

struct PodWatch {
    api: Api<Pod>,
    client: kube::Client,
    namespace: String,
    label_selector: Option<String>,
}

type Items = Pin<Box<dyn Stream<Item = kube::Result<Listed<Pod>>> + Send>>;
type Events = Pin<Box<dyn Stream<Item = kube::Result<WatchEvent<Pod>>> + Send>>;

/// Where the watch is.
enum State {
    /// Nothing listed yet, or what was listed can no longer be resumed: list.
    Unlisted,
    /// Reading the list's items as they arrive.
    Listing(Items),
    /// Up to date at `resource_version`, no watch open: watch from there.
    Listed { resource_version: String },
    /// A watch open, up to date at `resource_version`.
    Watching { resource_version: String, events: Events },
}

impl PodWatch {
    /// The next event, and the state after it (steps that yield nothing are taken in a loop).
    async fn next(&self, mut state: State) -> (Result<Event<PodSummary>, Error>, State) {
        loop {
            state = match state {
                State::Unlisted => match self.list().await {
                    Ok(items) => return (Ok(Event::Init), State::Listing(items)),
                    Err(e) => return (Err(Error::InitialListFailed(e)), State::Unlisted),
                },
                State::Listing(mut items) => match items.next().await {
                    Some(Ok(Listed::Item(pod))) => {
                        return (Ok(Event::InitApply(pod.into())), State::Listing(items));
                    }
                    Some(Ok(Listed::End(metadata))) => {
                        match metadata.resource_version.filter(|v| !v.is_empty()) {
                            Some(resource_version) => {
                                return (Ok(Event::InitDone), State::Listed { resource_version })
                            }
                            None => return (Err(Error::NoResourceVersion), State::Unlisted),
                        }
                    }
                    Some(Err(e)) => return (Err(Error::InitialListFailed(e)), State::Unlisted),
                    None => State::Unlisted,
                },
                State::Listed { resource_version } => {
                    match self.api.watch(&self.watch_params(), &resource_version).await {
                        Ok(events) => State::Watching { resource_version, events: events.boxed() },
                        Err(kube::Error::Api(status)) if status.code == 410 => {
                            return (Err(Error::WatchError(status)), State::Unlisted)
                        }
                        Err(e) => {
                            return (Err(Error::WatchStartFailed(e)), State::Listed { resource_version })
                        }
                    }
                }
                State::Watching { resource_version, mut events } => {
                    let event = match tokio::time::timeout(SILENT_FOR, events.next()).await {
                        Ok(event) => event,
                        Err(_silent) => {
                            tracing::debug!(
                                "the watch of pods was silent for {SILENT_FOR:?}; watching again"
                            );
                            None
                        }
                    };
                    match event {
                        Some(Ok(WatchEvent::Added(mut pod) | WatchEvent::Modified(mut pod))) => {
                            let Some(resource_version) = pod.meta_mut().resource_version.take() else {
                                return (Err(Error::NoResourceVersion), State::Unlisted);
                            };
                            return (
                                Ok(Event::Apply(pod.into())),
                                State::Watching { resource_version, events },
                            );
                        }
                        Some(Ok(WatchEvent::Deleted(mut pod))) => {
                            let Some(resource_version) = pod.meta_mut().resource_version.take() else {
                                return (Err(Error::NoResourceVersion), State::Unlisted);
                            };
                            return (
                                Ok(Event::Delete(pod.into())),
                                State::Watching { resource_version, events },
                            );
                        }
                        Some(Ok(WatchEvent::Bookmark(bookmark))) => {
                            State::Watching { resource_version: bookmark.metadata.resource_version, events }
                        }
                        // Too old to resume from: the API server has compacted past it.
                        Some(Ok(WatchEvent::Error(status))) if status.code == 410 => {
                            return (Err(Error::WatchError(status)), State::Unlisted)
                        }
                        Some(Ok(WatchEvent::Error(status))) => {
                            return (
                                Err(Error::WatchError(status)),
                                State::Watching { resource_version, events },
                            )
                        }
                        Some(Err(e)) => {
                            return (Err(Error::WatchFailed(e)), State::Watching { resource_version, events })
                        }
                        None => State::Listed { resource_version },
                    }
                }
            };
        }
    }

    /// Start the list (see [`list_request`]).
    async fn list(&self) -> kube::Result<Items> {
        let request = list_request(Some(&self.namespace), self.label_selector.as_deref())?;
        Ok(stream_list::items(&self.client, request).await?.boxed())
    }

    fn watch_params(&self) -> WatchParams {
        let mut params = WatchParams::default().timeout(WATCH_SECONDS);
        params.bookmarks = true;
        params.label_selector = self.label_selector.clone();
        params
    }
}

#[cfg(test)]
mod tests {
    //! Request-level: exactly what the pod watch sends, and what it makes of the answers
    //! (tower-test mock API server, as in `crate::write`'s tests).
    use super::*;
    use http::{Request, Response};
    use kube::client::Body;
    use serde_json::{json, Value};

    type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;
    type Summaries = Pin<Box<dyn Stream<Item = Result<Event<PodSummary>, Error>> + Send>>;

    const PODS: &str = "/api/v1/namespaces/ml/pods";

    fn pod(name: &str, version: &str) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "ml", "uid": name, "resourceVersion": version,
                         "labels": {"app": "fraud"}, "annotations": {"big": "x".repeat(1000)}},
            "spec": {"nodeName": "gpu-1", "containers": [{"name": "model", "image": "fraud:v2"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
        })
    }

    fn list(version: &str, pods: &[Value]) -> Vec<u8> {
        serde_json::to_vec(&json!({"kind": "PodList", "apiVersion": "v1",
                                   "metadata": {"resourceVersion": version}, "items": pods}))
        .unwrap()
    }

    fn lines(events: &[Value]) -> Vec<u8> {
        events.iter().flat_map(|e| format!("{e}\n").into_bytes()).collect()
    }

    /// The query of the next request, after checking its path; answered with `code` and `body`.
    async fn answer(handle: &mut Handle, code: u16, body: Vec<u8>) -> String {
        let (request, send) = handle.next_request().await.expect("a request");
        assert_eq!(request.uri().path(), PODS);
        send.send_response(Response::builder().status(code).body(Body::from(body)).unwrap());
        // kube starts a query with `&`.
        request.uri().query().unwrap_or_default().trim_start_matches('&').to_string()
    }

    fn watch() -> (Summaries, Handle) {
        let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let client = kube::Client::new(service, "ml");
        (watch_summaries(client, "ml", Some("app=fraud".into())).boxed(), handle)
    }

    /// The names of what a stream yields, e.g. `init a b done`.
    fn named(event: &Result<Event<PodSummary>, Error>) -> String {
        let name = PodSummary::name;
        match event {
            Ok(Event::Init) => "init".into(),
            Ok(Event::InitApply(p)) => format!("listed {}", name(p)),
            Ok(Event::InitDone) => "done".into(),
            Ok(Event::Apply(p)) => format!("apply {}", name(p)),
            Ok(Event::Delete(p)) => format!("delete {}", name(p)),
            Err(Error::WatchError(status)) => format!("error {}", status.code),
            Err(e) => format!("error {e}"),
        }
    }

    async fn take(events: &mut Summaries, n: usize) -> Vec<String> {
        let mut names = Vec::new();
        for _ in 0..n {
            names.push(named(&events.next().await.expect("an event")));
        }
        names
    }

    #[tokio::test]
    async fn lists_in_one_request_then_watches_from_its_version_and_lists_again_after_410() {
        let (mut events, mut handle) = watch();
        let server = tokio::spawn(async move {
            let mut queries = Vec::new();
            queries.push(answer(&mut handle, 200, list("10", &[pod("a", "8"), pod("b", "9")])).await);
            let changes = lines(&[
                json!({"type": "MODIFIED", "object": pod("a", "11")}),
                json!({"type": "BOOKMARK", "object": {"kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": "15"}}}),
            ]);
            queries.push(answer(&mut handle, 200, changes).await);
            // The watch ended (its timeout); resumed from the bookmark, the server has compacted.
            let gone = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Expired",
                              "message": "too old resource version: 15 (20)", "code": 410});
            queries.push(answer(&mut handle, 200, lines(&[json!({"type": "ERROR", "object": gone})])).await);
            queries.push(answer(&mut handle, 200, list("20", &[pod("b", "19")])).await);
            let deleted = lines(&[json!({"type": "DELETED", "object": pod("b", "21")})]);
            queries.push(answer(&mut handle, 200, deleted).await);
            queries
        });
        let mut seen = take(&mut events, 4).await;
        // Each pod is a summary from the moment it is listed.
        let Some(Ok(Event::Apply(a))) = events.next().await else { panic!("the change of a") };
        assert!(a.metadata.annotations.is_none());
        assert_eq!(a.node_name.as_deref(), Some("gpu-1"));
        seen.push("apply a".into());
        seen.extend(take(&mut events, 5).await);
        assert_eq!(
            seen,
            [
                "init",
                "listed a",
                "listed b",
                "done",
                "apply a",
                "error 410",
                "init",
                "listed b",
                "done",
                "delete b"
            ]
        );
        let queries = server.await.unwrap();
        // One request per list, whatever its length: no `limit`, no pages.
        let list_query = "labelSelector=app%3Dfraud";
        assert_eq!(queries[0], list_query);
        assert_eq!(queries[3], list_query);
        for (query, version) in [(&queries[1], "10"), (&queries[2], "15"), (&queries[4], "20")] {
            assert!(query.contains("watch=true"), "{query}");
            assert!(query.contains("allowWatchBookmarks=true"), "{query}");
            assert!(query.contains("labelSelector=app%3Dfraud"), "{query}");
            assert!(query.ends_with(&format!("resourceVersion={version}")), "{query}");
        }
    }

    #[tokio::test]
    async fn a_list_cut_short_is_an_error_and_is_listed_again_whole() {
        let (mut events, mut handle) = watch();
        let server = tokio::spawn(async move {
            let whole = list("10", &[pod("a", "8"), pod("b", "9")]);
            // Cut inside pod b: a reads whole, b never does.
            let b = String::from_utf8_lossy(&whole).find(r#""name":"b""#).unwrap();
            let cut = whole[..b].to_vec();
            let first = answer(&mut handle, 200, cut).await;
            let second = answer(&mut handle, 200, whole).await;
            // A watch that cannot even start from the version (410 on the request) lists again.
            let third = answer(
                &mut handle,
                410,
                serde_json::to_vec(&json!({"kind": "Status", "code": 410, "reason": "Expired"})).unwrap(),
            )
            .await;
            let fourth = answer(&mut handle, 200, list("12", &[])).await;
            (first, second, third, fourth)
        });
        let seen = take(&mut events, 10).await;
        assert_eq!(&seen[..2], ["init", "listed a"]);
        assert!(seen[2].starts_with("error") && seen[2].contains("list"), "{}", seen[2]);
        assert_eq!(&seen[3..], ["init", "listed a", "listed b", "done", "error 410", "init", "done"]);
        let (first, second, third, fourth) = server.await.unwrap();
        assert!(!first.contains("watch") && !second.contains("watch") && !fourth.contains("watch"));
        assert!(third.contains("watch=true") && third.ends_with("resourceVersion=10"), "{third}");
    }
}
