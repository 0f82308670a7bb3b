//! Lists read one item at a time as the response arrives, so that a list of any length costs one
//! request and the memory of one item: the `items` of a Kubernetes list body are cut out of the
//! byte stream and handed over one by one, never held together.
//!
//! For reads that only fold the items into something small (the free room on each node from
//! every pod of the cluster): `Api::list` would hold the whole body, then every object parsed.

use futures::AsyncBufReadExt;
use serde::de::DeserializeOwned;

/// Send a list `request` (as built by [`kube::core::Request`]) and call `each` with every item,
/// in the order the API server sent them.
///
/// # Errors
/// The request fails or is refused (as [`kube::Client::request`] would say), or the body is not a
/// Kubernetes list of `K`.
pub async fn for_each_item<K: DeserializeOwned>(
    client: &kube::Client,
    request: http::Request<Vec<u8>>,
    mut each: impl FnMut(K),
) -> kube::Result<()> {
    let body = client.request_stream(request).await?;
    let mut body = Box::pin(body);
    let mut splitter = ItemSplitter::default();
    loop {
        let chunk = body.fill_buf().await.map_err(kube::Error::ReadEvents)?;
        if chunk.is_empty() {
            break;
        }
        let length = chunk.len();
        splitter
            .feed(chunk, |item| {
                each(serde_json::from_slice(item)?);
                Ok(())
            })
            .map_err(kube::Error::SerdeError)?;
        body.consume_unpin(length);
    }
    Ok(())
}

/// Cuts the elements of the top-level `items` array out of a JSON document fed in pieces.
#[derive(Debug, Default)]
struct ItemSplitter {
    /// Nesting of objects and arrays; the document itself is depth 1.
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// The last string seen at depth 1 (a key of the document), while it is short.
    key: Vec<u8>,
    /// Inside the document's `items` array.
    in_items: bool,
    /// The bytes of the item being read.
    item: Vec<u8>,
}

/// Keys longer than this are not `items`: no need to keep them.
const KEY_LIMIT: usize = 16;

impl ItemSplitter {
    /// Read `bytes`, calling `each` with every item completed in them.
    fn feed(
        &mut self,
        bytes: &[u8],
        mut each: impl FnMut(&[u8]) -> serde_json::Result<()>,
    ) -> serde_json::Result<()> {
        for &byte in bytes {
            let in_item = self.in_items && self.depth >= 3;
            if in_item {
                self.item.push(byte);
            }
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if byte == b'\\' {
                    self.escaped = true;
                } else if byte == b'"' {
                    self.in_string = false;
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
                    if self.depth == 1 && byte == b'[' && self.key == b"items" {
                        self.in_items = true;
                    }
                    self.depth += 1;
                    if self.in_items && self.depth == 3 {
                        self.item.clear();
                        self.item.push(byte);
                    }
                }
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.in_items && self.depth == 2 && in_item {
                        each(&self.item)?;
                        self.item = Vec::new();
                    }
                    if self.depth == 1 {
                        self.in_items = false;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn split_in_pieces(body: &str, piece: usize) -> Vec<Value> {
        let mut splitter = ItemSplitter::default();
        let mut items = Vec::new();
        for chunk in body.as_bytes().chunks(piece) {
            splitter
                .feed(chunk, |item| {
                    items.push(serde_json::from_slice(item)?);
                    Ok(())
                })
                .unwrap();
        }
        items
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
            "after": {"items": [{"not": "these"}]},
        });
        let text = serde_json::to_string(&body).unwrap();
        for piece in [1, 2, 3, 7, 64, text.len()] {
            assert_eq!(split_in_pieces(&text, piece), items, "cut every {piece} bytes");
        }
        // Whitespace as a pretty-printing server sends it.
        let pretty = serde_json::to_string_pretty(&body).unwrap();
        assert_eq!(split_in_pieces(&pretty, 5), items);
    }

    #[test]
    fn empty_and_null_lists_have_no_items() {
        assert!(split_in_pieces(r#"{"kind":"PodList","items":[]}"#, 3).is_empty());
        assert!(split_in_pieces(r#"{"kind":"PodList","items":null}"#, 3).is_empty());
    }

    #[test]
    fn a_malformed_item_is_an_error() {
        let mut splitter = ItemSplitter::default();
        let result = splitter.feed(br#"{"items":[{"a":}]}"#, |item| {
            serde_json::from_slice::<Value>(item)?;
            Ok(())
        });
        assert!(result.is_err());
    }
}
