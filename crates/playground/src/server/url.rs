//! The request URL as kube-apiserver decodes it (Go's `net/url`): path segments with strict
//! percent escapes, and the query string as `url.ParseQuery` reads it.

use std::collections::BTreeMap;

use crate::errors::ApiError;

/// A path segment as the API server sees it, decoded by the `percent-encoding` crate. Go's
/// `url.ParseRequestURI` refuses a `%` not followed by two hex digits (kube-apiserver then
/// answers 400 before routing), so that is refused here too; any other byte passes, and bytes
/// that are not UTF-8 become U+FFFD, which no object name accepts.
pub(super) fn decode_path_segment(segment: &str) -> Result<String, ApiError> {
    if !escapes_are_valid(segment) {
        return Err(ApiError::bad_request(format!("invalid URL escape in path segment {segment:?}")));
    }
    Ok(percent_encoding::percent_decode_str(segment).decode_utf8_lossy().into_owned())
}

/// Whether every `%` in `text` starts an escape of two hex digits (what Go's unescape demands).
fn escapes_are_valid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().filter(|(_, b)| **b == b'%').all(|(i, _)| {
        bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    })
}

/// One key or value of a query string: `+` is a space, then percent-decoded.
fn decode_query_component(component: &str) -> String {
    percent_encoding::percent_decode_str(&component.replace('+', " ")).decode_utf8_lossy().into_owned()
}

/// The query string as Go's `url.ParseQuery` reads it for kube-apiserver: pairs split on `&`,
/// the first value of a key wins, and a pair with a bad escape is skipped (Go drops it and the
/// apiserver ignores the error).
pub(super) fn parse_query(query: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if !escapes_are_valid(k) || !escapes_are_valid(v) {
            continue;
        }
        out.entry(decode_query_component(k)).or_insert_with(|| decode_query_component(v));
    }
    out
}
