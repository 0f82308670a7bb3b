//! No request can panic the server: generated paths, query strings, bodies and patch documents
//! sent through the whole router (auth, routing, decoding, storage) always get a status code.

use super::*;
use crate::resources::{CONFIGMAPS, DEPLOYMENTS};
use axum::body::Body;
use proptest::prelude::*;
use tower::ServiceExt;

pub(super) const TOKEN: &str = "admin-token";

pub(super) fn api_server() -> Arc<ApiServer> {
    let store = Store::new();
    store.create(&DEPLOYMENTS, crate::store::tests::deployment("fraud")).unwrap();
    store
        .create(
            &CONFIGMAPS,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "default"}, "data": {"a": "b"}}),
        )
        .unwrap();
    let admin = User {
        name: "admin".into(),
        can_write: true,
        groups: vec!["system:masters".into(), "system:authenticated".into()],
        rbac: false,
    };
    Arc::new(ApiServer {
        store,
        tokens: BTreeMap::from([(TOKEN.to_string(), admin)]),
        faults: tokio::sync::watch::Sender::new(Faults::default()),
        requests: Arc::default(),
        model_servers: Arc::default(),
        address: "127.0.0.1:6443".into(),
    })
}

/// Send one request through the router; `None` when `http` itself refuses the URI (hyper
/// answers 400 before any handler runs, so the router never sees it).
fn send(
    runtime: &tokio::runtime::Runtime,
    app: &axum::Router,
    method: Method,
    uri: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Option<StatusCode> {
    let request = axum::http::Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .ok()?;
    let response = runtime.block_on(app.clone().oneshot(request)).unwrap_or_else(|e| match e {});
    Some(response.status())
}

pub(super) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Path segments: API words, names, percent escapes (valid, cut short, of multi-byte
/// characters), raw non-ASCII and anything else.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "api",
            "apis",
            "v1",
            "apps",
            "namespaces",
            "default",
            "deployments",
            "fraud",
            "configmaps",
            "cm",
            "status",
            "scale",
            "pods",
            "nodes",
            "openapi",
            "v3",
            "version",
        ])
        .prop_map(str::to_string),
        "%[0-9a-fA-F]{0,2}",
        "%[a-z]é",
        "[%a-zé\\PC]{0,6}",
        any::<String>(),
    ]
}

fn path() -> impl Strategy<Value = String> {
    prop::collection::vec(segment(), 0..8).prop_map(|segments| format!("/{}", segments.join("/")))
}

fn query() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "watch",
        "labelSelector",
        "fieldSelector",
        "limit",
        "continue",
        "resourceVersion",
        "timeoutSeconds",
        "dryRun",
        "fieldManager",
        "force",
        "allowWatchBookmarks",
        "sendInitialEvents",
        "resourceVersionMatch",
        "propagationPolicy",
        "%zz",
        "",
    ]);
    let value = prop_oneof!["[=!,()a-z0-9%+é ]{0,12}", any::<String>(), Just("true".to_string())];
    prop::collection::vec((key, value), 0..5)
        .prop_map(|pairs| pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&"))
}

/// JSON documents of any shape, small enough to be many.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        "[a-z/~0-9.-]{0,10}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "op",
                    "path",
                    "value",
                    "from",
                    "metadata",
                    "spec",
                    "replicas",
                    "name",
                    "apiVersion",
                    "kind",
                    "labels",
                    "template",
                    "containers",
                    "$patch",
                    "$retainKeys",
                    "$setElementOrder/containers",
                    "data",
                    "status",
                ])
                .prop_map(str::to_string),
                inner,
                0..5,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
    "application/merge-patch+json",
    "application/json-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
    "application/cbor",
    "",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn any_request_gets_a_status(
        method in prop::sample::select(vec![Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE]),
        path in path(),
        query in query(),
        content_type in prop::sample::select(CONTENT_TYPES),
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let runtime = runtime();
        let app = router(api_server());
        let uri = if query.is_empty() { path } else { format!("{path}?{query}") };
        if let Some(status) = send(&runtime, &app, method, &uri, content_type, body) {
            prop_assert!(status != StatusCode::INTERNAL_SERVER_ERROR, "{uri} answered {status}");
        }
    }

    #[test]
    fn any_body_or_patch_of_an_object_gets_a_status(
        method in prop::sample::select(vec![Method::POST, Method::PUT, Method::PATCH]),
        target in prop::sample::select(vec![
            "/apis/apps/v1/namespaces/default/deployments",
            "/apis/apps/v1/namespaces/default/deployments/fraud",
            "/apis/apps/v1/namespaces/default/deployments/fraud/status",
            "/apis/apps/v1/namespaces/default/deployments/fraud/scale",
            "/api/v1/namespaces/default/configmaps/cm",
            "/api/v1/namespaces",
        ]),
        content_type in prop::sample::select(CONTENT_TYPES),
        document in json_value(),
        as_yaml in any::<bool>(),
    ) {
        let runtime = runtime();
        let app = router(api_server());
        let body = if as_yaml {
            serde_yaml::to_string(&document).unwrap_or_default().into_bytes()
        } else {
            document.to_string().into_bytes()
        };
        let uri = format!("{target}?fieldManager=proptest");
        let status = send(&runtime, &app, method, &uri, content_type, body).expect("a valid URI");
        prop_assert!(status != StatusCode::INTERNAL_SERVER_ERROR, "{target} answered {status} to {document}");
    }
}

#[test]
fn a_cut_short_escape_of_a_multibyte_character_is_a_bad_request() {
    let runtime = runtime();
    let app = router(api_server());
    // `%aé` cannot be carried by an `http::Uri`; its escaped form reaches the decoder.
    for uri in ["/api/v1/namespaces/%a%C3%A9", "/api/v1/namespaces/%a", "/api/v1/namespaces/%"] {
        let status = send(&runtime, &app, Method::GET, uri, "", Vec::new());
        assert_eq!(status, Some(StatusCode::BAD_REQUEST), "{uri}");
    }
    let status = send(&runtime, &app, Method::GET, "/api/v1/namespaces/d%65fault", "", Vec::new());
    assert_eq!(status, Some(StatusCode::OK));
    assert_eq!(parse_query("a=%zz&b=x%20y+z&b=2"), BTreeMap::from([("b".into(), "x y z".into())]));
}
