//! A simulated Kubernetes API server with controllers, served on loopback.
//!
//! [`Playground::start`] binds 127.0.0.1 (port 0 picks one), writes a kubeconfig with the
//! contexts `playground` (may do everything) and `playground-viewer` (get/list/watch only),
//! registers nodes and CRDs, starts the controllers, and serves until [`Playground::stop`].
//! The [`Store`] is reachable in-process for the controllers and for tests.

pub mod apply;
pub mod authz;
pub mod clock;
pub mod compact_crds;
pub mod controllers;
pub mod crds;
pub mod defaults;
pub mod errors;
pub mod faults;
pub mod model_server;
pub mod names;
pub mod nodes;
pub mod openapi;
pub mod patch;
pub mod protobuf;
pub mod proxy;
pub mod rbac;
pub mod resources;
pub mod schema;
pub mod selectors;
pub mod server;
pub mod store;
pub mod tables;
pub mod tls;
pub mod traffic;
pub mod validation;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use errors::{ApiError, InvalidField};
pub use faults::Faults;
pub use resources::{ResourceRef, ResourceType};
pub use server::RequestCounter;
pub use store::Store;

/// How to start a playground.
#[derive(Debug, Clone)]
pub struct PlaygroundConfig {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Where to write the kubeconfig; None: a fresh file in the temp directory (removed on stop).
    pub kubeconfig_out: Option<PathBuf>,
    /// Number of simulated nodes.
    pub nodes: u32,
    /// `nvidia.com/gpu` allocatable on each node.
    pub gpus_per_node: u32,
    /// How long a pod takes to become ready (annotation `playground.modelroll.io/ready-after`
    /// overrides it per pod).
    pub ready_after: Duration,
    /// Directories (or files) of CRDs to load at start.
    pub crd_dirs: Vec<PathBuf>,
    /// Compact CRDs to register: `istio`, `gateway-api`, `knative`.
    pub with: Vec<String>,
    /// Faults to inject (none by default).
    pub faults: Faults,
    /// Run the simulated controllers (deployment, replicaset, scheduler, kubelet, ...).
    pub controllers: bool,
    /// Users from a token table (`--token-auth-file`), authorized by RBAC objects.
    pub users: Vec<rbac::StaticUser>,
}

impl Default for PlaygroundConfig {
    fn default() -> Self {
        Self {
            port: 0,
            kubeconfig_out: None,
            nodes: 3,
            gpus_per_node: 4,
            ready_after: Duration::from_secs(2),
            crd_dirs: Vec::new(),
            with: Vec::new(),
            faults: Faults::default(),
            controllers: true,
            users: Vec::new(),
        }
    }
}

/// Why a playground could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind {
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the kubeconfig {path}: {source}")]
    Kubeconfig {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Crds(#[from] crds::CrdError),
    #[error("cannot create the nodes: {}", .0.message)]
    Nodes(#[source] ApiError),
    #[error("the token of user {user:?} is already in use")]
    DuplicateToken { user: String },
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
}

impl StartError {
    /// Whether the configuration is at fault (CRDs, `--with` groups, nodes, users) rather than
    /// the machine (a port, a file, a certificate): the plugin's exit 2 against exit 1.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, StartError::Crds(_) | StartError::Nodes(_) | StartError::DuplicateToken { .. })
    }
}

/// A running playground.
pub struct Playground {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The kubeconfig written for it.
    pub kubeconfig_path: PathBuf,
    /// The objects, in-process.
    pub store: Store,
    /// Requests served, per User-Agent (also at `GET /playground/requests`).
    pub requests: Arc<RequestCounter>,
    /// `127.0.0.1:PORT` of the plain-HTTP listener serving the simulated traffic's metrics at
    /// `/metrics` (see [`traffic`]); Prometheus scrapes it.
    pub metrics_address: String,
    /// The configuration it was started with (port resolved).
    pub config: PlaygroundConfig,
    server: tokio::task::JoinHandle<()>,
    /// The faults the API server injects (changeable while it serves).
    faults: tokio::sync::watch::Sender<Faults>,
    /// Asks the server to go away for a while ([`Playground::restart`]).
    restarts: tokio::sync::mpsc::UnboundedSender<Duration>,
    controllers: tokio::task::JoinSet<()>,
    remove_kubeconfig: bool,
}

impl std::fmt::Debug for Playground {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Playground")
            .field("url", &self.url)
            .field("kubeconfig_path", &self.kubeconfig_path)
            .finish()
    }
}

/// The bearer tokens of the two users a playground knows.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub admin: String,
    pub viewer: String,
}

impl Playground {
    /// Start serving. Must be called inside a tokio runtime, which then runs the server and
    /// the controllers.
    ///
    /// # Errors
    /// When the port cannot be bound, the kubeconfig cannot be written, or a CRD is refused.
    pub async fn start(mut config: PlaygroundConfig) -> Result<Self, StartError> {
        let store = Store::new();
        compact_crds::install(&store, &config.with)?;
        for dir in &config.crd_dirs {
            let found = crds::read_dir(dir)?;
            compact_crds::install_crds(&store, found)?;
        }
        nodes::create(&store, config.nodes, config.gpus_per_node).map_err(StartError::Nodes)?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port))
            .await
            .map_err(|source| StartError::Bind { port: config.port, source })?;
        let address =
            listener.local_addr().map_err(|source| StartError::Bind { port: config.port, source })?;
        config.port = address.port();
        let url = format!("https://{address}");
        let cert = tls::generate()?;
        let tokens = Tokens {
            admin: format!("admin-{}", uuid::Uuid::new_v4().simple()),
            viewer: format!("viewer-{}", uuid::Uuid::new_v4().simple()),
        };
        let (kubeconfig_path, remove_kubeconfig) = match &config.kubeconfig_out {
            Some(path) => (path.clone(), false),
            None => (
                std::env::temp_dir().join(format!("modelroll-playground-{}.kubeconfig", address.port())),
                true,
            ),
        };
        write_kubeconfig(&kubeconfig_path, &url, &cert.ca_pem, &tokens)
            .map_err(|source| StartError::Kubeconfig { path: kubeconfig_path.clone(), source })?;
        let requests = Arc::new(RequestCounter::default());
        let users = users_table(&tokens, &config.users)?;
        let model_servers = Arc::new(model_server::ModelServers::default());
        let faults = tokio::sync::watch::Sender::new(config.faults.clone());
        let api = Arc::new(server::ApiServer {
            store: store.clone(),
            tokens: users,
            faults: faults.clone(),
            requests: requests.clone(),
            address: address.to_string(),
            model_servers: model_servers.clone(),
        });
        let app = server::router(api);
        let (restarts, restart_requests) = tokio::sync::mpsc::unbounded_channel();
        let server = tokio::spawn(serve_tls(
            listener,
            address,
            cert.server_config,
            app,
            restart_requests,
            requests.clone(),
        ));
        let mut controllers = if config.controllers {
            controllers::start(&store, &config)
        } else {
            tokio::task::JoinSet::new()
        };
        // Events go an hour after their last write, as kube-apiserver's `--event-ttl` has them.
        controllers.spawn(expire_events(store.clone()));
        // The model servers' clocks start when pods turn Ready, whoever made them so.
        controllers.spawn(model_server::record_readiness(store.clone(), model_servers));
        // The traffic's metrics on a plain-HTTP port of their own: scraping the API server's
        // TLS port would need its CA and a token in the Prometheus configuration.
        let metrics_listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|source| StartError::Bind { port: 0, source })?;
        let metrics_address =
            metrics_listener.local_addr().map_err(|source| StartError::Bind { port: 0, source })?.to_string();
        let traffic = Arc::new(traffic::Traffic::default());
        controllers.spawn(traffic::run(store.clone(), traffic.clone(), Duration::from_millis(250)));
        let metrics_app = traffic::router(store.clone(), traffic);
        controllers.spawn(async move {
            let _ = axum::serve(metrics_listener, metrics_app).await;
        });
        controllers.spawn(restart_periodically(faults.subscribe(), restarts.clone()));
        Ok(Self {
            url,
            kubeconfig_path,
            store,
            requests,
            metrics_address,
            config,
            server,
            faults,
            restarts,
            controllers,
            remove_kubeconfig,
        })
    }

    /// Inject `faults` from now on (`Faults::default()`: none), e.g. after a test's setup.
    pub fn set_faults(&self, faults: Faults) {
        self.faults.send_replace(faults);
    }

    /// Simulate an API server restart: connections are refused and open ones (watches
    /// included) dropped for `down`, then the same objects are served again on the same port.
    pub fn restart(&self, down: Duration) {
        let _ = self.restarts.send(down);
    }

    /// Stop serving and stop the controllers; remove the kubeconfig if it was a temporary one.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.server.abort();
        self.controllers.abort_all();
        if self.remove_kubeconfig {
            let _ = std::fs::remove_file(&self.kubeconfig_path);
            self.remove_kubeconfig = false;
        }
    }
}

impl Drop for Playground {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Delete expired Events every few seconds (see [`Store::expire_events`]), a hundred at a time
/// with a pause between, so that watchers keep up with a burst.
async fn expire_events(store: Store) {
    const BATCH: usize = 100;
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        while store.expire_events(std::time::Instant::now(), BATCH) == BATCH {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The `restart=UP/DOWN` fault, while it is set: serve for UP, go away for DOWN, again.
async fn restart_periodically(
    mut faults: tokio::sync::watch::Receiver<Faults>,
    restarts: tokio::sync::mpsc::UnboundedSender<Duration>,
) {
    loop {
        let restart = faults.borrow_and_update().restart;
        match restart {
            // The next outage is asked for once this one is over and UP has passed.
            Some((up, down)) => tokio::select! {
                () = tokio::time::sleep(up) => {
                    let _ = restarts.send(down);
                    tokio::time::sleep(down).await;
                }
                changed = faults.changed() => if changed.is_err() { return },
            },
            None => {
                if faults.changed().await.is_err() {
                    return;
                }
            }
        }
    }
}

/// What the accept loop does next.
enum Next {
    Serve(tokio::net::TcpStream),
    Restart(Duration),
    Retry,
}

/// Accept TLS connections and serve each with HTTP/1.1 until the task is aborted. A restart
/// request closes the listener (connections are refused) and drops every open connection, waits,
/// then listens on the same address again.
async fn serve_tls(
    mut listener: tokio::net::TcpListener,
    address: std::net::SocketAddr,
    config: Arc<tokio_rustls::rustls::ServerConfig>,
    app: axum::Router,
    mut restarts: tokio::sync::mpsc::UnboundedReceiver<Duration>,
    requests: Arc<RequestCounter>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let mut connections = tokio::task::JoinSet::new();
    let restarting = Arc::new(std::sync::atomic::AtomicBool::new(false));
    loop {
        let next = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => Next::Serve(tcp),
                Err(err) => {
                    tracing::warn!("playground accept failed: {err}");
                    Next::Retry
                }
            },
            Some(down) = restarts.recv() => Next::Restart(down),
        };
        let tcp = match next {
            Next::Serve(tcp) => tcp,
            Next::Retry => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Next::Restart(down) => {
                requests.add_fault("restart");
                drop(listener);
                restarting.store(true, std::sync::atomic::Ordering::SeqCst);
                connections.abort_all();
                tokio::time::sleep(down).await;
                // Aborted tasks are dropped when next polled: by now, long since.
                restarting.store(false, std::sync::atomic::Ordering::SeqCst);
                listener = loop {
                    match tokio::net::TcpListener::bind(address).await {
                        Ok(listener) => break listener,
                        Err(err) => {
                            tracing::warn!("playground cannot listen on {address} again yet: {err}");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                };
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone();
        // Connections live in this task's set, so aborting the server ends them too.
        while connections.try_join_next().is_some() {}
        let (requests, restarting) = (requests.clone(), restarting.clone());
        connections.spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else { return };
            // A client opens a connection to send requests: if a restart drops it, that client
            // met the restart.
            let dropped = DroppedByRestart(Some((requests, restarting)));
            let service = hyper_util::service::TowerToHyperService::new(app);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                .await;
            dropped.ended();
        });
    }
}

/// Counts a `restart-dropped` fault when the connection it lives in is dropped by a restart
/// (its task aborted) rather than ended by the client.
/// (Not when the whole playground stops.)
struct DroppedByRestart(Option<(Arc<RequestCounter>, Arc<std::sync::atomic::AtomicBool>)>);

impl DroppedByRestart {
    fn ended(mut self) {
        self.0 = None;
    }
}

impl Drop for DroppedByRestart {
    fn drop(&mut self) {
        if let Some((requests, restarting)) = self.0.take() {
            if restarting.load(std::sync::atomic::Ordering::SeqCst) {
                requests.add_fault("restart-dropped");
            }
        }
    }
}

/// The kubeconfig of a playground: cluster `playground` (with its CA), users
/// `playground-admin` and `playground-viewer`, contexts `playground` (current) and
/// `playground-viewer`.
pub fn kubeconfig_yaml(url: &str, ca_pem: &str, tokens: &Tokens) -> String {
    use base64::Engine;
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1
kind: Config
preferences: {{}}
clusters:
- name: playground
  cluster:
    server: {url}
    certificate-authority-data: {ca}
users:
- name: playground-admin
  user:
    token: {admin}
- name: playground-viewer
  user:
    token: {viewer}
contexts:
- name: playground
  context:
    cluster: playground
    user: playground-admin
    namespace: default
- name: playground-viewer
  context:
    cluster: playground
    user: playground-viewer
    namespace: default
current-context: playground
",
        admin = tokens.admin,
        viewer = tokens.viewer
    )
}

fn write_kubeconfig(path: &std::path::Path, url: &str, ca_pem: &str, tokens: &Tokens) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, kubeconfig_yaml(url, ca_pem, tokens))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// Who the API server knows by bearer token: the kubeconfig's admin and viewer, and the users
/// of a token table (authorized by RBAC).
///
/// # Errors
/// [`StartError::DuplicateToken`] when two users share a token.
fn users_table(
    tokens: &Tokens,
    static_users: &[rbac::StaticUser],
) -> Result<BTreeMap<String, server::User>, StartError> {
    let mut users = BTreeMap::new();
    let authenticated = |groups: &[&str]| -> Vec<String> {
        groups.iter().map(|g| g.to_string()).chain(["system:authenticated".to_string()]).collect()
    };
    users.insert(
        tokens.admin.clone(),
        server::User {
            name: "admin".into(),
            can_write: true,
            groups: authenticated(&["system:masters"]),
            rbac: false,
        },
    );
    users.insert(
        tokens.viewer.clone(),
        server::User { name: "viewer".into(), can_write: false, groups: authenticated(&[]), rbac: false },
    );
    for user in static_users {
        let groups = user.groups.iter().map(String::as_str).collect::<Vec<_>>();
        let known = server::User {
            name: user.name.clone(),
            can_write: false,
            groups: authenticated(&groups),
            rbac: true,
        };
        if users.insert(user.token.clone(), known).is_some() {
            return Err(StartError::DuplicateToken { user: user.name.clone() });
        }
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_start_error_keeps_its_cause_and_says_whose_fault_it_is() {
        let dir = PathBuf::from("/nonexistent/modelroll-crds");
        let config = PlaygroundConfig { crd_dirs: vec![dir], controllers: false, ..Default::default() };
        let Err(err) = Playground::start(config).await else {
            panic!("started with a missing CRD directory")
        };
        assert!(matches!(err, StartError::Crds(crds::CrdError::Read { .. })), "{err:?}");
        assert!(err.is_bad_input());
        assert!(err.to_string().starts_with("cannot read /nonexistent/modelroll-crds: "), "{err}");
        let cause = std::error::Error::source(&err).and_then(|c| c.downcast_ref::<std::io::Error>());
        assert_eq!(cause.map(std::io::Error::kind), Some(std::io::ErrorKind::NotFound));
        let bind = StartError::Bind { port: 1, source: std::io::Error::other("in use") };
        assert!(!bind.is_bad_input());
    }

    #[test]
    fn a_token_table_user_is_authorized_by_rbac_and_a_shared_token_is_refused() {
        let tokens = Tokens { admin: "admin-token".into(), viewer: "viewer-token".into() };
        let user = |name: &str, token: &str| rbac::StaticUser {
            token: token.into(),
            name: name.into(),
            uid: name.into(),
            groups: vec!["deployers".into()],
        };
        let users = users_table(&tokens, &[user("ci", "t1")]).unwrap();
        assert!(users["t1"].rbac && !users["admin-token"].rbac && users["admin-token"].can_write);
        assert_eq!(users["t1"].groups, ["deployers", "system:authenticated"]);
        let err = users_table(&tokens, &[user("ci", "t1"), user("deployer", "t1")]).unwrap_err();
        assert_eq!(err.to_string(), "the token of user \"deployer\" is already in use");
        assert!(err.is_bad_input());
        let err = users_table(&tokens, &[user("ci", "viewer-token")]).unwrap_err();
        assert!(matches!(err, StartError::DuplicateToken { .. }), "{err:?}");
    }
}
