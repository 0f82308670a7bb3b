//! Lists read one item at a time as the response arrives, so that a list of any length costs one
//! request and the memory of one item: the `items` of a Kubernetes list body are cut out of the
//! byte stream and handed over one by one, never held together.
//!
//! For reads that only fold the items into something small (the free room on each node from
//! every pod of the cluster; the summary of each pod a rollout watches): `Api::list` would hold
//! the whole body, then every object parsed.

use std::collections::VecDeque;

use futures::{AsyncBufRead, AsyncBufReadExt, Stream, TryStreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use serde::de::DeserializeOwned;

/// What a streamed list yields: each item, in the order the API server sent them, then the
/// list's own metadata (its resourceVersion, to watch from) once the body has ended whole.
#[derive(Debug)]
pub enum Listed<K> {
    Item(K),
    End(ListMeta),
}

/// Send a list `request` (as built by [`kube::core::Request`]) and call `each` with every item,
/// in the order the API server sent them.
///
/// # Errors
/// The request fails or is refused (as [`kube::Client::request`] would say), or the body is not a
/// Kubernetes list of `K`, or it ends before the list does.
pub async fn for_each_item<K: DeserializeOwned>(
    client: &kube::Client,
    request: http::Request<Vec<u8>>,
    mut each: impl FnMut(K),
) -> kube::Result<()> {
    items(client, request)
        .await?
        .try_for_each(|listed| {
            if let Listed::Item(item) = listed {
                each(item);
            }
            futures::future::ready(Ok(()))
        })
        .await
}

/// Send a list `request` and stream what it lists: [`Listed::Item`] for each item as soon as its
/// last byte has arrived, then [`Listed::End`]. Only the bytes of the items of one chunk of the
/// response are held at a time.
///
/// # Errors
/// The request fails or is refused; the stream then yields an error if the body cannot be read,
/// is not a Kubernetes list of `K`, or ends before the list does (a cut connection never passes
/// for a short list).
pub async fn items<K: DeserializeOwned>(
    client: &kube::Client,
    request: http::Request<Vec<u8>>,
) -> kube::Result<impl Stream<Item = kube::Result<Listed<K>>> + Send + use<K>> {
    let body = client.request_stream(request).await?;
    let reading = Reading {
        body: Box::pin(body),
        splitter: ItemSplitter::default(),
        pending: VecDeque::new(),
        ended: false,
    };
    Ok(futures::stream::try_unfold(reading, |mut reading| async move {
        loop {
            if let Some(bytes) = reading.pending.pop_front() {
                let item = serde_json::from_slice(&bytes).map_err(kube::Error::SerdeError)?;
                return Ok(Some((Listed::Item(item), reading)));
            }
            if reading.ended {
                return Ok(None);
            }
            let chunk = reading.body.fill_buf().await.map_err(kube::Error::ReadEvents)?;
            if chunk.is_empty() {
                reading.ended = true;
                let metadata = reading.splitter.finish().map_err(kube::Error::SerdeError)?;
                return Ok(Some((Listed::End(metadata), reading)));
            }
            let length = chunk.len();
            let pending = &mut reading.pending;
            reading.splitter.feed(chunk, |item| pending.push_back(item)).map_err(kube::Error::SerdeError)?;
            reading.body.consume_unpin(length);
        }
    }))
}

/// A list body being read: what is left of it, and the items cut out of the last chunk.
struct Reading {
    body: std::pin::Pin<Box<dyn AsyncBufRead + Send>>,
    splitter: ItemSplitter,
    pending: VecDeque<Vec<u8>>,
    ended: bool,
}

/// Cuts the elements of the top-level `items` array, and the top-level `metadata` object, out of
/// a JSON document fed in pieces.
#[derive(Debug, Default)]
struct ItemSplitter {
    /// Nesting of objects and arrays; the document itself is depth 1.
    depth: usize,
    /// The document has begun (its opening brace was seen).
    started: bool,
    in_string: bool,
    escaped: bool,
    /// The last string seen at depth 1 (a key of the document), while it is short.
    key: Vec<u8>,
    /// At depth 1, the next string is a key (after `{` or `,`), not a value (after `:`).
    expect_key: bool,
    /// The document has a key `items` (a list, however empty; `null` included).
    has_items: bool,
    /// Inside the document's `items` array.
    in_items: bool,
    /// The bytes of the item being read.
    item: Vec<u8>,
    /// Inside the document's `metadata` object.
    in_metadata: bool,
    /// The bytes of the document's `metadata` (a few dozen: resourceVersion, continue).
    metadata: Vec<u8>,
}

/// Keys longer than this are not `items`: no need to keep them.
const KEY_LIMIT: usize = 16;

impl ItemSplitter {
    /// Read `bytes`, calling `each` with every item completed in them.
    fn feed(&mut self, bytes: &[u8], mut each: impl FnMut(Vec<u8>)) -> serde_json::Result<()> {
        for &byte in bytes {
            let in_item = self.in_items && self.depth >= 3;
            if in_item {
                self.item.push(byte);
            }
            if self.in_metadata {
                self.metadata.push(byte);
            }
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if byte == b'\\' {
                    self.escaped = true;
                } else if byte == b'"' {
                    self.in_string = false;
                    if self.depth == 1 && self.expect_key && self.key == b"items" {
                        self.has_items = true;
                    }
                } else if self.depth == 1 && self.key.len() <= KEY_LIMIT {
                    self.key.push(byte);
                }
                continue;
            }
            match byte {
                b'"' => {
                    self.in_string = true;
                    if self.depth == 1 {
                        self.key.clear();
                    }
                }
                b'{' | b'[' => {
                    if self.depth == 0 {
                        if self.started || byte != b'{' {
                            return Err(malformed("the response is not one JSON object"));
                        }
                        self.started = true;
                        self.expect_key = true;
                    }
                    if self.depth == 1 && byte == b'[' && self.key == b"items" {
                        self.in_items = true;
                    }
                    if self.depth == 1 && byte == b'{' && self.key == b"metadata" {
                        self.in_metadata = true;
                        self.metadata.clear();
                        self.metadata.push(byte);
                    }
                    self.depth += 1;
                    if self.in_items && self.depth == 3 {
                        self.item.clear();
                        self.item.push(byte);
                    }
                }
                b':' if self.depth == 1 => self.expect_key = false,
                b',' if self.depth == 1 => self.expect_key = true,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.in_items && self.depth == 2 && in_item {
                        each(std::mem::take(&mut self.item));
                    }
                    if self.depth == 1 {
                        self.in_items = false;
                        self.in_metadata = false;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The end of the body: the list's metadata, if the document was whole.
    fn finish(&self) -> serde_json::Result<ListMeta> {
        if !self.started || self.depth != 0 || self.in_string {
            return Err(malformed("the list ended before its closing brace (the response was cut short)"));
        }
        if !self.has_items {
            return Err(malformed("the response is not a list: it has no items"));
        }
        if self.metadata.is_empty() {
            return Ok(ListMeta::default());
        }
        serde_json::from_slice(&self.metadata)
    }
}

fn malformed(why: &str) -> serde_json::Error {
    <serde_json::Error as serde::de::Error>::custom(why)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn split_in_pieces(body: &str, piece: usize) -> (Vec<Value>, ListMeta) {
        let mut splitter = ItemSplitter::default();
        let mut items = Vec::new();
        for chunk in body.as_bytes().chunks(piece) {
            splitter.feed(chunk, |item| items.push(serde_json::from_slice(&item).unwrap())).unwrap();
        }
        (items, splitter.finish().unwrap())
    }

    #[test]
    fn items_come_out_one_by_one_however_the_body_is_cut() {
        let items = vec![
            json!({"metadata": {"name": "a", "labels": {"items": "[{\"x\"}]"}}, "spec": {"nodeName": "n1"}}),
            json!({"metadata": {"name": "b\\\"{["}, "status": {"conditions": [{"type": "Ready"}, []]}}),
            json!({"metadata": {"name": "c"}, "items": [1, 2, {"items": []}]}),
        ];
        let body = json!({
            "kind": "PodList", "apiVersion": "v1",
            "metadata": {"resourceVersion": "7", "items": "not these"},
            "items": items,
            "after": {"items": [{"not": "these"}], "metadata": {"resourceVersion": "not this"}},
        });
        let text = serde_json::to_string(&body).unwrap();
        for piece in [1, 2, 3, 7, 64, text.len()] {
            let (split, metadata) = split_in_pieces(&text, piece);
            assert_eq!(split, items, "cut every {piece} bytes");
            assert_eq!(metadata.resource_version.as_deref(), Some("7"), "cut every {piece} bytes");
        }
        // Whitespace as a pretty-printing server sends it.
        let pretty = serde_json::to_string_pretty(&body).unwrap();
        assert_eq!(split_in_pieces(&pretty, 5).0, items);
    }

    #[test]
    fn the_list_metadata_is_read_wherever_it_comes() {
        let body = r#"{"kind":"PodList","items":[{"metadata":{"resourceVersion":"3"}}],"metadata":{"resourceVersion":"9","continue":""}}"#;
        let (items, metadata) = split_in_pieces(body, 4);
        assert_eq!(items.len(), 1);
        assert_eq!(metadata.resource_version.as_deref(), Some("9"));
    }

    #[test]
    fn empty_and_null_lists_have_no_items() {
        assert!(split_in_pieces(r#"{"kind":"PodList","items":[]}"#, 3).0.is_empty());
        assert!(split_in_pieces(r#"{"kind":"PodList","items":null}"#, 3).0.is_empty());
    }

    #[test]
    fn a_malformed_item_is_an_error() {
        let mut splitter = ItemSplitter::default();
        let mut parsed = Vec::new();
        splitter
            .feed(br#"{"items":[{"a":}]}"#, |item| parsed.push(serde_json::from_slice::<Value>(&item)))
            .unwrap();
        assert!(parsed.pop().unwrap().is_err());
    }

    #[test]
    fn a_body_cut_short_is_an_error_not_a_shorter_list() {
        let body = r#"{"kind":"PodList","metadata":{"resourceVersion":"5"},"items":[{"a":1},{"b":2}]}"#;
        for cut in 0..body.len() {
            let mut splitter = ItemSplitter::default();
            splitter.feed(&body.as_bytes()[..cut], |_| {}).unwrap();
            assert!(splitter.finish().is_err(), "a body cut after {cut} bytes was taken as whole");
        }
        let mut splitter = ItemSplitter::default();
        assert!(splitter.feed(br#"{"items":[]}{"items":[]}"#, |_| {}).is_err(), "two documents");
    }

    #[test]
    fn a_document_without_items_is_not_an_empty_list() {
        // A Status, an object, or a proxy's page: whole documents, and no list.
        for body in [
            r#"{"kind":"Status","status":"Failure","message":"items"}"#,
            r#"{"kind":"Pod","metadata":{"name":"items"},"spec":{"items":[]}}"#,
            r#"{"kind":"items","list":[]}"#,
        ] {
            let mut splitter = ItemSplitter::default();
            splitter.feed(body.as_bytes(), |_| {}).unwrap();
            assert!(splitter.finish().is_err(), "{body} was taken for an empty list");
        }
    }
}
