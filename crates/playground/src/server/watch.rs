//! WATCH: the initial state (synthetic ADDED events or the log since a resourceVersion), then live
//! events filtered by selector as the watch cache translates them, bookmarks, timeouts, and
//! the cuts and closes of injected faults.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use serde_json::{json, Value};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::mpsc;

use super::{Call, RequestCounter};
use crate::errors::ApiError;
use crate::resources::{ResourceRef, ResourceType};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::{EventType, Store, WatchEvent};
use crate::tables;

impl Call<'_> {
    pub(super) fn watch(&self, resource: ResourceRef, ty: Arc<ResourceType>) -> Result<Response, ApiError> {
        let (labels, fields) = self.selectors(&ty)?;
        let store = self.server.store.clone();
        let timeout =
            self.param("timeoutSeconds").and_then(|t| t.parse::<u64>().ok()).map(Duration::from_secs);
        let faults = self.server.faults.borrow().clone();
        let limit = match (timeout, faults.watch_close) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let start: Option<u64> = match self.param("resourceVersion") {
            None | Some("0") | Some("") => None,
            Some(rv) => Some(
                rv.parse().map_err(|_| ApiError::bad_request(format!("invalid resource version {rv:?}")))?,
            ),
        };
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(256);
        // Subscribed before the initial state is read, so no event falls between the two.
        let live = store.subscribe();
        let kind = store.resource_type(&resource).map(|t| t.kind.clone()).unwrap_or_default();
        let events = WatchEvents {
            api_version: ResourceRef::api_version(&resource),
            kind,
            render: Render {
                table: self.wants_table().then(|| self.query.clone()),
                wanted_api_version: ty.api_version(&resource.version),
                ty,
            },
            filter: WatchFilter { resource, namespace: self.target.namespace.clone(), labels, fields },
            bookmarks: self.flag("allowWatchBookmarks"),
            send_initial: self.flag("sendInitialEvents"),
            store,
            live,
            tx,
        };
        tokio::spawn(events.run(start, limit));
        let stream = cut_short(rx, faults.watch_cut_after(), self.server.requests.clone());
        let mut response = Response::new(Body::from_stream(stream));
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, private"));
        Ok(response)
    }
}

/// How a watch writes an object: JSON of the requested version, or a Table.
struct Render {
    table: Option<BTreeMap<String, String>>,
    ty: Arc<ResourceType>,
    wanted_api_version: String,
}

impl Render {
    /// One line of the stream. Objects are serialized straight from the shared copy (and an
    /// event's cached JSON); only a version change or a Table copies them.
    fn line(&self, event_type: &str, object: &Arc<Value>, event: Option<&WatchEvent>) -> Bytes {
        if let Some(event) = event.filter(|_| self.table.is_none()) {
            if object["apiVersion"].as_str() == Some(self.wanted_api_version.as_str()) {
                return json_line(event_type, &event.object_json());
            }
        }
        let mut line = match &self.table {
            Some(query) => {
                let table = tables::table(&self.ty, std::slice::from_ref(object), None, query);
                serde_json::to_vec(&WatchLine { event_type, object: &table })
            }
            None if object["apiVersion"].as_str() == Some(self.wanted_api_version.as_str()) => {
                serde_json::to_vec(&WatchLine { event_type, object })
            }
            None => {
                let mut o = (**object).clone();
                o["apiVersion"] = json!(self.wanted_api_version);
                serde_json::to_vec(&WatchLine { event_type, object: &o })
            }
        }
        .unwrap_or_default();
        line.push(b'\n');
        Bytes::from(line)
    }
}

/// One line of the stream around an object's JSON, as serde_json would write it.
fn json_line(event_type: &str, json: &[u8]) -> Bytes {
    let mut line = Vec::with_capacity(json.len() + 40);
    line.extend_from_slice(b"{\"type\":\"");
    line.extend_from_slice(event_type.as_bytes());
    line.extend_from_slice(b"\",\"object\":");
    line.extend_from_slice(json);
    line.extend_from_slice(b"}\n");
    Bytes::from(line)
}

/// The task behind one watch: its initial state, then live events, until the client goes, the
/// deadline passes, or the store's log no longer reaches back far enough.
struct WatchEvents {
    store: Store,
    live: broadcast::Receiver<Arc<WatchEvent>>,
    tx: mpsc::Sender<Bytes>,
    filter: WatchFilter,
    render: Render,
    bookmarks: bool,
    send_initial: bool,
    kind: String,
    api_version: String,
}

/// What woke a watch up.
enum Wakeup {
    Done,
    Tick,
    Received(Result<Arc<WatchEvent>, RecvError>),
}

impl WatchEvents {
    async fn run(mut self, start: Option<u64>, limit: Option<Duration>) {
        let deadline = limit.map(|l| tokio::time::Instant::now() + l);
        let Some(mut last_rv) = self.initial_state(start).await else { return };
        let mut tick = tokio::time::interval(Duration::from_secs(if self.bookmarks { 2 } else { 3600 }));
        tick.tick().await;
        loop {
            let sleep_until = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending::<()>().await,
                }
            };
            let wakeup = tokio::select! {
                _ = sleep_until => Wakeup::Done,
                _ = self.tx.closed() => Wakeup::Done,
                _ = tick.tick() => Wakeup::Tick,
                received = self.live.recv() => Wakeup::Received(received),
            };
            let events: Vec<Arc<WatchEvent>> = match wakeup {
                Wakeup::Done => return,
                Wakeup::Tick => {
                    if self.bookmarks
                        && self.tx.send(line("BOOKMARK", &self.bookmark(last_rv))).await.is_err()
                    {
                        return;
                    }
                    continue;
                }
                Wakeup::Received(Ok(event)) => vec![event],
                Wakeup::Received(Err(RecvError::Lagged(_))) => match self.store.events_since(last_rv) {
                    Ok(events) => events,
                    Err(err) => {
                        let _ = self.tx.send(line("ERROR", &err.to_status())).await;
                        return;
                    }
                },
                Wakeup::Received(Err(RecvError::Closed)) => return,
            };
            for event in events {
                if event.resource_version <= last_rv {
                    continue;
                }
                last_rv = event.resource_version;
                if !self.send(&event).await {
                    return;
                }
            }
        }
    }

    /// Initial state: synthetic ADDED events (no resourceVersion given, or "0"), or the logged
    /// events after the given resourceVersion. The resourceVersion reached, or `None` when the
    /// watch is over.
    async fn initial_state(&self, start: Option<u64>) -> Option<u64> {
        let Some(rv) = start else {
            let filter = &self.filter;
            let mut selects = |o: &Value| filter.selects(o);
            let everything = filter.labels.requirements.is_empty() && filter.fields.terms.is_empty();
            let selects: Option<&mut dyn FnMut(&Value) -> bool> =
                if everything { None } else { Some(&mut selects) };
            let list = self.store.list_page(&filter.resource, &filter.namespace, selects, None, 0).ok()?;
            for i in 0..list.len() {
                let line = match list.kept_json(i).filter(|_| self.render.table.is_none()) {
                    Some(json) => json_line("ADDED", &json),
                    None => self.render.line("ADDED", &list.object(i), None),
                };
                self.tx.send(line).await.ok()?;
            }
            if self.send_initial && self.bookmarks {
                let mut bookmark = self.bookmark(list.resource_version);
                bookmark["metadata"]["annotations"] = json!({"k8s.io/initial-events-end": "true"});
                self.tx.send(line("BOOKMARK", &bookmark)).await.ok()?;
            }
            return Some(list.resource_version);
        };
        let mut last_rv = rv;
        match self.store.events_since(rv) {
            Ok(events) => {
                for event in events {
                    last_rv = event.resource_version;
                    if !self.send(&event).await {
                        return None;
                    }
                }
            }
            Err(err) => {
                let _ = self.tx.send(line("ERROR", &err.to_status())).await;
                return None;
            }
        }
        Some(last_rv)
    }

    /// Send `event` if this watch passes it on; false when the client is gone.
    async fn send(&self, event: &WatchEvent) -> bool {
        match self.filter.translate(event) {
            Some(t) => self.tx.send(self.render.line(t, &event.object, Some(event))).await.is_ok(),
            None => true,
        }
    }

    fn bookmark(&self, resource_version: u64) -> Value {
        json!({"kind": self.kind, "apiVersion": self.api_version, "metadata": {"resourceVersion": resource_version.to_string()}})
    }
}

/// The stream of a watch's lines; with a `watch-cut` fault it ends with an error, so the
/// connection drops mid-stream as when a load balancer or a restarting API server cuts it:
/// the client sees no clean end.
fn cut_short(
    rx: mpsc::Receiver<Bytes>,
    cut_after: Option<Duration>,
    requests: Arc<RequestCounter>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    let cut_at = cut_after.map(|after| tokio::time::Instant::now() + after);
    futures::stream::unfold((rx, cut_at), move |(mut rx, cut_at)| {
        let requests = requests.clone();
        async move {
            let cut = async {
                match cut_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                bytes = rx.recv() => bytes.map(|bytes| (Ok::<Bytes, std::io::Error>(bytes), (rx, cut_at))),
                () = cut, if cut_at.is_some() => {
                    requests.add_fault("watch-cut");
                    Some((Err(std::io::Error::other("watch cut by playground faults")), (rx, None)))
                }
            }
        }
    })
}

/// One line of a watch stream.
#[derive(serde::Serialize)]
struct WatchLine<'a> {
    #[serde(rename = "type")]
    event_type: &'a str,
    object: &'a Value,
}

fn line(event_type: &str, object: &Value) -> Bytes {
    let mut line = serde_json::to_vec(&json!({"type": event_type, "object": object})).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

/// Which events a watch passes on.
struct WatchFilter {
    resource: ResourceRef,
    namespace: String,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl WatchFilter {
    fn selects(&self, object: &Value) -> bool {
        self.labels.matches(&object["metadata"]["labels"]) && self.fields.matches(object)
    }

    /// The event as this watch reports it: objects entering the selection are ADDED, leaving
    /// it DELETED, as the API server's watch cache reports them.
    fn translate(&self, event: &WatchEvent) -> Option<&'static str> {
        if !event.is_for(&self.resource) {
            return None;
        }
        if !self.namespace.is_empty() && event.namespace != self.namespace {
            return None;
        }
        let now = self.selects(&event.object);
        let before = event.previous.as_ref().is_some_and(|p| self.selects(p));
        let kind = match event.event_type {
            EventType::Added if now => "ADDED",
            EventType::Modified if now && before => "MODIFIED",
            EventType::Modified if now => "ADDED",
            EventType::Modified if before => "DELETED",
            EventType::Deleted if before || now => "DELETED",
            _ => return None,
        };
        Some(kind)
    }
}
