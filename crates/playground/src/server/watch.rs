//! WATCH: the initial state (synthetic ADDED events or the log since a resourceVersion), then live
//! events filtered by selector as the watch cache translates them, bookmarks, timeouts, and
//! the cuts and closes of injected faults.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use super::Call;
use crate::errors::ApiError;
use crate::resources::{ResourceRef, ResourceType};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::{EventType, WatchEvent};
use crate::tables;

impl Call<'_> {
    pub(super) fn watch(&self, resource: ResourceRef, ty: Arc<ResourceType>) -> Result<Response, ApiError> {
        let (labels, fields) = self.selectors(&ty)?;
        let store = self.server.store.clone();
        let namespace = self.target.namespace.clone();
        let bookmarks = self.flag("allowWatchBookmarks");
        let send_initial = self.flag("sendInitialEvents");
        let rv_param = self.param("resourceVersion").map(str::to_string);
        let timeout =
            self.param("timeoutSeconds").and_then(|t| t.parse::<u64>().ok()).map(Duration::from_secs);
        let faults = self.server.faults.borrow().clone();
        let close_after = faults.watch_close;
        let cut_after = faults.watch_cut_after();
        let limit = match (timeout, close_after) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let table = self.wants_table().then(|| self.query.clone());
        let start: Option<u64> = match rv_param.as_deref() {
            None | Some("0") | Some("") => None,
            Some(rv) => Some(
                rv.parse().map_err(|_| ApiError::bad_request(format!("invalid resource version {rv:?}")))?,
            ),
        };
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(256);
        let mut live = store.subscribe();
        let filter = WatchFilter { resource: resource.clone(), namespace, labels, fields };
        let wanted_api_version = ty.api_version(&resource.version);
        // Objects are serialized straight from the shared copy; only a version change or a
        // Table copies them.
        let render = move |event_type: &str, object: &Arc<Value>, event: Option<&WatchEvent>| -> Bytes {
            if let Some(event) = event.filter(|_| table.is_none()) {
                if object["apiVersion"].as_str() == Some(wanted_api_version.as_str()) {
                    let json = event.object_json();
                    let mut line = Vec::with_capacity(json.len() + 40);
                    line.extend_from_slice(b"{\"type\":\"");
                    line.extend_from_slice(event_type.as_bytes());
                    line.extend_from_slice(b"\",\"object\":");
                    line.extend_from_slice(&json);
                    line.extend_from_slice(b"}\n");
                    return Bytes::from(line);
                }
            }
            let mut line = match &table {
                Some(query) => {
                    let table = tables::table(&ty, std::slice::from_ref(object), None, query);
                    serde_json::to_vec(&WatchLine { event_type, object: &table })
                }
                None if object["apiVersion"].as_str() == Some(wanted_api_version.as_str()) => {
                    serde_json::to_vec(&WatchLine { event_type, object })
                }
                None => {
                    let mut o = (**object).clone();
                    o["apiVersion"] = json!(wanted_api_version);
                    serde_json::to_vec(&WatchLine { event_type, object: &o })
                }
            }
            .unwrap_or_default();
            line.push(b'\n');
            Bytes::from(line)
        };
        let api_version = ResourceRef::api_version(&filter.resource);
        let kind = store.resource_type(&filter.resource).map(|t| t.kind.clone()).unwrap_or_default();
        tokio::spawn(async move {
            let deadline = limit.map(|l| tokio::time::Instant::now() + l);
            let mut last_rv: u64;
            // Initial state: synthetic ADDED events (no resourceVersion given, or "0"), or the
            // logged events after the given resourceVersion.
            match start {
                None => {
                    let Ok(list) =
                        store.list_matching(&filter.resource, &filter.namespace, |o| filter.selects(o))
                    else {
                        return;
                    };
                    last_rv = list.resource_version;
                    for item in &list.items {
                        if tx.send(render("ADDED", item, None)).await.is_err() {
                            return;
                        }
                    }
                    if send_initial && bookmarks {
                        let bookmark = json!({"kind": kind, "apiVersion": api_version, "metadata": {"resourceVersion": last_rv.to_string(), "annotations": {"k8s.io/initial-events-end": "true"}}});
                        if tx.send(line("BOOKMARK", &bookmark)).await.is_err() {
                            return;
                        }
                    }
                }
                Some(rv) => {
                    last_rv = rv;
                    match store.events_since(rv) {
                        Ok(events) => {
                            for event in events {
                                last_rv = event.resource_version;
                                if let Some(t) = filter.translate(&event) {
                                    if tx.send(render(t, &event.object, Some(&event))).await.is_err() {
                                        return;
                                    }
                                }
                            }
                        }
                        Err(err) => {
                            let _ = tx.send(line("ERROR", &err.to_status())).await;
                            return;
                        }
                    }
                }
            }
            let mut tick = tokio::time::interval(Duration::from_secs(if bookmarks { 2 } else { 3600 }));
            tick.tick().await;
            loop {
                let sleep_until = async {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(d).await,
                        None => std::future::pending::<()>().await,
                    }
                };
                tokio::select! {
                    _ = sleep_until => return,
                    _ = tx.closed() => return,
                    _ = tick.tick() => {
                        if bookmarks {
                            let bookmark = json!({"kind": kind, "apiVersion": api_version, "metadata": {"resourceVersion": last_rv.to_string()}});
                            if tx.send(line("BOOKMARK", &bookmark)).await.is_err() {
                                return;
                            }
                        }
                    }
                    received = live.recv() => {
                        let events: Vec<Arc<WatchEvent>> = match received {
                            Ok(event) => vec![event],
                            Err(RecvError::Lagged(_)) => match store.events_since(last_rv) {
                                Ok(events) => events,
                                Err(err) => {
                                    let _ = tx.send(line("ERROR", &err.to_status())).await;
                                    return;
                                }
                            },
                            Err(RecvError::Closed) => return,
                        };
                        for event in events {
                            if event.resource_version <= last_rv {
                                continue;
                            }
                            last_rv = event.resource_version;
                            if let Some(t) = filter.translate(&event) {
                                if tx.send(render(t, &event.object, Some(&event))).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                }
            }
        });
        // A cut watch ends with an error, so the connection drops mid-stream as when a load
        // balancer or a restarting API server cuts it: the client sees no clean end.
        let cut_at = cut_after.map(|after| tokio::time::Instant::now() + after);
        let requests = self.server.requests.clone();
        let stream = futures::stream::unfold((rx, cut_at), move |(mut rx, cut_at)| {
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
        });
        let mut response = Response::new(Body::from_stream(stream));
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, private"));
        Ok(response)
    }
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
