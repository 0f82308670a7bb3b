//! The kubeconfig, context, cluster, user and namespace chosen exactly as kubectl chooses them.
//!
//! kubectl's rules, as client-go's `ClientConfigLoadingRules` implements them:
//! - `--kubeconfig PATH` is the only file read, and it must exist;
//! - else every file of `$KUBECONFIG` (`:`-separated) is read and merged, missing files skipped,
//!   and for every key (a context, cluster or user name, `current-context`) the first file that
//!   sets it wins;
//! - else `~/.kube/config`;
//! - when that yields no usable configuration, the in-cluster service account.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use kube::config::{KubeConfigOptions, Kubeconfig};

use super::api_error::root_cause;
use crate::cli::GlobalArgs;
use crate::error::{Error, Result};

/// A kube client config chosen as kubectl would choose it, plus what commands need besides.
pub struct Resolved {
    pub config: kube::Config,
    /// `-n`, else the context's namespace, else `default` (in-cluster: the pod's namespace).
    pub namespace: String,
    /// The context in use; None in-cluster.
    pub context: Option<String>,
}

/// Choose the kubeconfig, context, cluster, user and namespace from the flags, the value of
/// `$KUBECONFIG` and the home directory, exactly as kubectl does.
///
/// # Errors
/// Exit 2 when a kubeconfig cannot be read or parsed, when `--context`, `--cluster` or `--user`
/// names something the kubeconfig lacks, or when there is no configuration at all.
pub async fn resolve(
    global: &GlobalArgs,
    kubeconfig_env: Option<&OsStr>,
    home: Option<&Path>,
) -> Result<Resolved> {
    let loaded = load_kubeconfig(global.kubeconfig.as_deref(), kubeconfig_env, home)?;
    if loaded.is_empty() && global.context.is_none() {
        // client-go falls back to the pod's service account when no kubeconfig configures anything.
        if let Ok(config) = kube::Config::incluster() {
            let namespace = global.namespace.clone().unwrap_or_else(|| config.default_namespace.clone());
            return Ok(Resolved { config, namespace, context: None });
        }
        return Err(Error::usage(format!(
            "no cluster configured: {} and this is not a pod in a cluster; pass --kubeconfig PATH or set KUBECONFIG",
            loaded.describe_missing()
        )));
    }
    let selection = loaded.select(global)?;
    let options = KubeConfigOptions {
        context: Some(selection.context.clone()),
        cluster: global.cluster.clone(),
        user: global.user.clone(),
    };
    let config = kube::Config::from_custom_kubeconfig(loaded.config, &options).await.map_err(|e| {
        Error::usage(format!("cannot use context {:?} of {}: {e}", selection.context, loaded.source))
            .with_source(e)
    })?;
    let namespace = global
        .namespace
        .clone()
        .filter(|ns| !ns.is_empty())
        .or(selection.namespace)
        .unwrap_or_else(|| "default".to_string());
    Ok(Resolved { config, namespace, context: Some(selection.context) })
}

pub(super) fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from)
}

/// The merged kubeconfig and the files it came from (for messages).
pub struct LoadedKubeconfig {
    pub config: Kubeconfig,
    /// How to name where it came from, e.g. `$KUBECONFIG (a.yaml:b.yaml)`.
    pub source: String,
    /// Files that were looked for and not there (skipped, as kubectl skips them).
    pub missing: Vec<PathBuf>,
}

/// The context, namespace and names picked from a kubeconfig.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub context: String,
    pub namespace: Option<String>,
}

impl LoadedKubeconfig {
    fn is_empty(&self) -> bool {
        self.config.contexts.is_empty()
            && self.config.clusters.is_empty()
            && self.config.auth_infos.is_empty()
    }

    fn describe_missing(&self) -> String {
        if self.missing.is_empty() {
            format!("{} configures no context", self.source)
        } else {
            let files: Vec<String> = self.missing.iter().map(|p| p.display().to_string()).collect();
            format!("no kubeconfig found at {}", files.join(", "))
        }
    }

    /// Pick the context (`--context`, else `current-context`) and check that what it and the
    /// `--cluster`/`--user` overrides name exists, with kubectl's rules.
    ///
    /// # Errors
    /// Exit 2 naming the unknown context, cluster or user, and what the kubeconfig has instead.
    pub fn select(&self, global: &GlobalArgs) -> Result<Selection> {
        let config = &self.config;
        let context_name = match global.context.as_deref().filter(|c| !c.is_empty()) {
            Some(name) => name.to_string(),
            None => match config.current_context.as_deref().filter(|c| !c.is_empty()) {
                Some(name) => name.to_string(),
                None => {
                    return Err(Error::usage(format!(
                        "{} sets no current-context; pass --context NAME ({})",
                        self.source,
                        names("contexts", config.contexts.iter().map(|c| c.name.as_str()))
                    )))
                }
            },
        };
        let Some(context) = config.contexts.iter().find(|c| c.name == context_name) else {
            return Err(Error::usage(format!(
                "context {context_name:?} is not in {}; {}",
                self.source,
                names("contexts are", config.contexts.iter().map(|c| c.name.as_str()))
            )));
        };
        let context_body = context.context.clone().unwrap_or_default();
        let cluster_name = global.cluster.clone().unwrap_or(context_body.cluster.clone());
        if !config.clusters.iter().any(|c| c.name == cluster_name) {
            return Err(Error::usage(format!(
                "cluster {cluster_name:?} (of context {context_name:?}) is not in {}; {}",
                self.source,
                names("clusters are", config.clusters.iter().map(|c| c.name.as_str()))
            )));
        }
        // kubectl rejects an unknown --user, but tolerates a context whose user is not defined
        // (it then sends no credentials).
        if let Some(user) = &global.user {
            if !config.auth_infos.iter().any(|u| &u.name == user) {
                return Err(Error::usage(format!(
                    "user {user:?} is not in {}; {}",
                    self.source,
                    names("users are", config.auth_infos.iter().map(|u| u.name.as_str()))
                )));
            }
        }
        Ok(Selection { context: context_name, namespace: context_body.namespace.filter(|ns| !ns.is_empty()) })
    }
}

fn names<'a>(label: &str, names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        format!("it has no {}", label.trim_end_matches(" are"))
    } else {
        format!("{label}: {}", names.join(", "))
    }
}

/// Read and merge the kubeconfig files kubectl would read. An empty result (no file found) means
/// "try in-cluster".
///
/// # Errors
/// Exit 2 when `--kubeconfig` names a missing file, or any file cannot be read or parsed.
pub fn load_kubeconfig(
    explicit: Option<&Path>,
    kubeconfig_env: Option<&OsStr>,
    home: Option<&Path>,
) -> Result<LoadedKubeconfig> {
    if let Some(path) = explicit {
        if !path.exists() {
            return Err(Error::usage(format!(
                "the kubeconfig {} given with --kubeconfig does not exist",
                path.display()
            )));
        }
        let config = read_kubeconfig(path)?;
        return Ok(LoadedKubeconfig {
            config,
            source: format!("kubeconfig {}", path.display()),
            missing: vec![],
        });
    }
    let from_env: Vec<PathBuf> = kubeconfig_env
        .map(|value| std::env::split_paths(value).filter(|p| !p.as_os_str().is_empty()).collect())
        .unwrap_or_default();
    let (paths, source) = if from_env.is_empty() {
        let Some(home) = home else {
            return Ok(LoadedKubeconfig {
                config: Kubeconfig::default(),
                source: "~/.kube/config".into(),
                missing: vec![PathBuf::from("~/.kube/config")],
            });
        };
        let path = home.join(".kube").join("config");
        let source = format!("kubeconfig {}", path.display());
        (vec![path], source)
    } else {
        let joined =
            std::env::join_paths(&from_env).map(|j| j.to_string_lossy().into_owned()).unwrap_or_default();
        (from_env, format!("$KUBECONFIG ({joined})"))
    };
    let mut merged = Kubeconfig::default();
    let mut missing = Vec::new();
    let mut seen: Vec<&Path> = Vec::new();
    for path in &paths {
        if seen.contains(&path.as_path()) {
            continue;
        }
        seen.push(path);
        if !path.exists() {
            missing.push(path.clone());
            continue;
        }
        merged = merge_first_wins(merged, read_kubeconfig(path)?);
    }
    Ok(LoadedKubeconfig { config: merged, source, missing })
}

/// Read one kubeconfig file; relative file paths inside it are resolved against its directory.
fn read_kubeconfig(path: &Path) -> Result<Kubeconfig> {
    let mut config = Kubeconfig::read_from(path).map_err(|e| {
        Error::usage(format!("cannot read the kubeconfig {}: {}", path.display(), root_cause(&e)))
            .with_source(e)
    })?;
    // client-go treats empty strings as unset; serde keeps them as Some("").
    if config.current_context.as_deref() == Some("") {
        config.current_context = None;
    }
    Ok(config)
}

/// kubectl's merge: the first file to set a key wins, later files only add what is new.
/// Unlike `Kubeconfig::merge`, differing `kind`/`apiVersion` are no error (kubectl ignores them).
fn merge_first_wins(first: Kubeconfig, mut next: Kubeconfig) -> Kubeconfig {
    next.kind = first.kind.clone().or(next.kind);
    next.api_version = first.api_version.clone().or(next.api_version);
    first.merge(next).expect("kind and apiVersion were aligned above")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ExitCode;

    // --- kubeconfig resolution, with temporary files ---

    fn kubeconfig(current: Option<&str>, contexts: &[(&str, &str, Option<&str>)], server: &str) -> String {
        let mut text = String::from("apiVersion: v1\nkind: Config\n");
        if let Some(current) = current {
            text.push_str(&format!("current-context: {current}\n"));
        }
        text.push_str("clusters:\n");
        for (_, cluster, _) in contexts {
            text.push_str(&format!("- name: {cluster}\n  cluster:\n    server: {server}\n"));
        }
        text.push_str("users:\n- name: me\n  user:\n    token: secret\n");
        text.push_str("contexts:\n");
        for (name, cluster, namespace) in contexts {
            text.push_str(&format!("- name: {name}\n  context:\n    cluster: {cluster}\n    user: me\n"));
            if let Some(ns) = namespace {
                text.push_str(&format!("    namespace: {ns}\n"));
            }
        }
        text
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn resolve_with(global: &GlobalArgs, env: Option<&OsStr>, home: Option<&Path>) -> Result<Resolved> {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(resolve(global, env, home))
    }

    #[test]
    fn several_kubeconfig_files_merge_first_wins() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(
            dir.path(),
            "a",
            &kubeconfig(
                Some("alpha"),
                &[("alpha", "cluster-a", Some("ns-a")), ("shared", "cluster-a", None)],
                "https://a.example:6443",
            ),
        );
        let b = write(
            dir.path(),
            "b",
            &kubeconfig(
                Some("beta"),
                &[("beta", "cluster-b", Some("ns-b")), ("shared", "cluster-b", Some("ns-shared-b"))],
                "https://b.example:6443",
            ),
        );
        let missing = dir.path().join("not-there");
        let env = std::env::join_paths([&missing, &a, &b]).unwrap();
        let global = GlobalArgs::default();

        let resolved = resolve_with(&global, Some(&env), None).unwrap();
        // current-context from the first file that sets one; its namespace.
        assert_eq!(resolved.context.as_deref(), Some("alpha"));
        assert_eq!(resolved.namespace, "ns-a");
        assert_eq!(resolved.config.cluster_url.to_string(), "https://a.example:6443/");

        // A context only the second file has is reachable with --context.
        let global = GlobalArgs { context: Some("beta".into()), ..Default::default() };
        let resolved = resolve_with(&global, Some(&env), None).unwrap();
        assert_eq!(resolved.namespace, "ns-b");
        assert_eq!(resolved.config.cluster_url.to_string(), "https://b.example:6443/");

        // A context both define: the first file's wins whole (no namespace there -> default).
        let global = GlobalArgs { context: Some("shared".into()), ..Default::default() };
        let resolved = resolve_with(&global, Some(&env), None).unwrap();
        assert_eq!(resolved.namespace, "default");
        assert_eq!(resolved.config.cluster_url.to_string(), "https://a.example:6443/");

        // Reversed order: the other file wins.
        let env = std::env::join_paths([&b, &a]).unwrap();
        let resolved = resolve_with(&GlobalArgs::default(), Some(&env), None).unwrap();
        assert_eq!(resolved.context.as_deref(), Some("beta"));
    }

    #[test]
    fn an_empty_current_context_does_not_shadow_a_later_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(
            dir.path(),
            "a",
            &kubeconfig(Some("\"\""), &[("alpha", "cluster-a", None)], "https://a.example"),
        );
        let b = write(
            dir.path(),
            "b",
            &kubeconfig(Some("beta"), &[("beta", "cluster-b", None)], "https://b.example"),
        );
        let env = std::env::join_paths([&a, &b]).unwrap();
        let resolved = resolve_with(&GlobalArgs::default(), Some(&env), None).unwrap();
        assert_eq!(resolved.context.as_deref(), Some("beta"));
    }

    #[test]
    fn context_flag_picks_a_non_current_context_and_namespace_precedence_holds() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir_all(home.join(".kube")).unwrap();
        write(
            &home.join(".kube"),
            "config",
            &kubeconfig(
                Some("dev"),
                &[("dev", "c1", None), ("prod", "c2", Some("models"))],
                "https://k.example",
            ),
        );
        // No KUBECONFIG: ~/.kube/config; current context has no namespace -> default.
        let resolved = resolve_with(&GlobalArgs::default(), None, Some(&home)).unwrap();
        assert_eq!((resolved.context.as_deref(), resolved.namespace.as_str()), (Some("dev"), "default"));
        // An empty KUBECONFIG counts as unset.
        let resolved = resolve_with(&GlobalArgs::default(), Some(OsStr::new("")), Some(&home)).unwrap();
        assert_eq!(resolved.context.as_deref(), Some("dev"));

        let global = GlobalArgs { context: Some("prod".into()), ..Default::default() };
        let resolved = resolve_with(&global, None, Some(&home)).unwrap();
        assert_eq!((resolved.context.as_deref(), resolved.namespace.as_str()), (Some("prod"), "models"));

        let global =
            GlobalArgs { context: Some("prod".into()), namespace: Some("ml".into()), ..Default::default() };
        let resolved = resolve_with(&global, None, Some(&home)).unwrap();
        assert_eq!(resolved.namespace, "ml");
    }

    #[test]
    fn explicit_kubeconfig_wins_over_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let env_file =
            write(dir.path(), "env", &kubeconfig(Some("env"), &[("env", "c", None)], "https://env.example"));
        let flag_file = write(
            dir.path(),
            "flag",
            &kubeconfig(Some("flag"), &[("flag", "c", None)], "https://flag.example"),
        );
        let global = GlobalArgs { kubeconfig: Some(flag_file), ..Default::default() };
        let resolved = resolve_with(&global, Some(env_file.as_os_str()), None).unwrap();
        assert_eq!(resolved.context.as_deref(), Some("flag"));
    }

    #[test]
    fn missing_kubeconfig_and_unknown_names_are_usage_errors() {
        let dir = tempfile::tempdir().unwrap();
        let global = GlobalArgs { kubeconfig: Some(dir.path().join("nope")), ..Default::default() };
        let err = resolve_with(&global, None, None).err().unwrap();
        assert_eq!(err.code, ExitCode::Usage);
        assert!(err.message.contains("nope") && err.message.contains("does not exist"), "{}", err.message);

        let file = write(
            dir.path(),
            "k",
            &kubeconfig(Some("dev"), &[("dev", "c1", None), ("prod", "c2", None)], "https://k.example"),
        );
        let global = GlobalArgs {
            kubeconfig: Some(file.clone()),
            context: Some("staging".into()),
            ..Default::default()
        };
        let err = resolve_with(&global, None, None).err().unwrap();
        assert_eq!(err.code, ExitCode::Usage);
        assert!(err.message.contains("context \"staging\" is not in"), "{}", err.message);
        assert!(err.message.contains("contexts are: dev, prod"), "{}", err.message);

        let global =
            GlobalArgs { kubeconfig: Some(file.clone()), user: Some("root".into()), ..Default::default() };
        let err = resolve_with(&global, None, None).err().unwrap();
        assert!(err.message.contains("user \"root\" is not in"), "{}", err.message);

        let global = GlobalArgs { kubeconfig: Some(file), cluster: Some("c2".into()), ..Default::default() };
        assert!(resolve_with(&global, None, None).is_ok());

        // Nothing anywhere (and not in a pod).
        if std::env::var_os("KUBERNETES_SERVICE_HOST").is_none() {
            let env = dir.path().join("absent");
            let err = resolve_with(&GlobalArgs::default(), Some(env.as_os_str()), None).err().unwrap();
            assert_eq!(err.code, ExitCode::Usage);
            assert!(
                err.message.starts_with("no cluster configured: no kubeconfig found at"),
                "{}",
                err.message
            );
        }

        let no_current =
            write(dir.path(), "nc", &kubeconfig(None, &[("dev", "c1", None)], "https://k.example"));
        let global = GlobalArgs { kubeconfig: Some(no_current), ..Default::default() };
        let err = resolve_with(&global, None, None).err().unwrap();
        assert!(
            err.message.contains("sets no current-context; pass --context NAME (contexts: dev)"),
            "{}",
            err.message
        );
    }

    // --- API errors ---
}
