//! `__complete`: answers kubectl's plugin completion protocol, so that `kubectl modelroll <TAB>`
//! completes subcommands, flags, flag values and the Deployments and Knative Services in the
//! cluster.
//!
//! kubectl (≥ 1.26) runs `kubectl_complete-modelroll ARGS… TO_COMPLETE` from `PATH`, which
//! execs `kubectl-modelroll __complete ARGS… TO_COMPLETE`. The answer is cobra's: one candidate
//! per line (`candidate<TAB>description`), then `:<directive>` with cobra's
//! `ShellCompDirective` bits. Flags and values come from the clap command tree, so they never go
//! stale; names come from the cluster, asked with the kubeconfig and flags on the line.

use clap::{Arg, CommandFactory};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::core::PartialObjectMeta;

use crate::cli::{Cli, CompleteArgs, GlobalArgs};
use crate::cluster::{load_kubeconfig, Cluster, Target};
use crate::cmd::Context;
use crate::error::Result;
use crate::rollout::state::{RolloutState, CANARY_OF_ANNOTATION, ROLLOUT_ANNOTATION};
use crate::router::{gateway_api, istio, knative};

mod lookup;

pub use lookup::answer;

/// cobra's `ShellCompDirective` bits.
pub mod directive {
    /// Let the shell do its default (file names).
    pub const DEFAULT: u32 = 0;
    /// Something went wrong; ignore the candidates.
    pub const ERROR: u32 = 1;
    /// No space after the completion (e.g. `--flag=`).
    pub const NO_SPACE: u32 = 2;
    /// No file names when there are no candidates.
    pub const NO_FILE_COMP: u32 = 4;
    /// Complete directory names only.
    pub const FILTER_DIRS: u32 = 16;
    /// Keep the candidates in the given order.
    pub const KEEP_ORDER: u32 = 32;
}

/// How long completion may wait for the cluster unless `--request-timeout` says otherwise: a
/// TAB that hangs is worse than one that offers nothing.
const CLUSTER_TIMEOUT: &str = "5s";

/// Run `__complete` reached through clap (the usual way in is [`respond`], before clap parses).
///
/// # Errors
/// None: completion failures answer with no candidates.
pub async fn run(_ctx: &Context, args: CompleteArgs) -> Result<()> {
    respond(args.words).await;
    Ok(())
}

/// Print the answer to `kubectl-modelroll __complete WORDS…` on stdout.
pub async fn respond(words: Vec<String>) {
    let answer = answer(plan(&words)).await;
    crate::ui::print_stdout(&answer.render());
}

/// One completion candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub value: String,
    pub description: Option<String>,
}

impl Candidate {
    fn new(value: impl Into<String>, description: Option<String>) -> Self {
        // A description is one line; a tab or newline in it would break the protocol.
        let description = description
            .map(|d| d.lines().next().unwrap_or_default().replace('\t', " ").trim().to_string())
            .filter(|d| !d.is_empty());
        Self { value: value.into(), description }
    }
}

/// The answer: candidates and the directive for the shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completions {
    pub candidates: Vec<Candidate>,
    pub directive: u32,
}

impl Completions {
    fn none(directive: u32) -> Self {
        Self { candidates: Vec::new(), directive }
    }

    /// cobra's wire format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for candidate in &self.candidates {
            out.push_str(&candidate.value);
            if let Some(description) = &candidate.description {
                out.push('\t');
                out.push_str(description);
            }
            out.push('\n');
        }
        out.push_str(&format!(":{}\n", self.directive));
        out
    }
}

/// Names that live in the kubeconfig.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KubeconfigNames {
    Contexts,
    Clusters,
    Users,
}

/// What to complete, decided from the words alone (no IO).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Known candidates: subcommands, flags, enumerated values.
    Fixed(Completions),
    /// Deployments and ksvcs in the namespace; only those with a canary when `canary_only`.
    Targets { global: GlobalArgs, canary_only: bool, prefix: String },
    /// Namespaces of the cluster, each written as `value_prefix` + name.
    Namespaces { global: GlobalArgs, prefix: String, value_prefix: String },
    /// Contexts, clusters or users of the kubeconfig.
    Kubeconfig { global: GlobalArgs, names: KubeconfigNames, prefix: String, value_prefix: String },
    /// The containers of the target, each written as `value_prefix` + name + `suffix` (`=` for
    /// `[CONTAINER=]IMAGE`, with no space after it).
    Containers {
        global: GlobalArgs,
        target: String,
        prefix: String,
        value_prefix: String,
        suffix: &'static str,
    },
    /// VirtualServices and HTTPRoutes in the namespace (for `--route`).
    Routes { global: GlobalArgs, prefix: String, value_prefix: String },
}

/// Commands whose target must have a canary in progress.
const CANARY_COMMANDS: [&str; 3] = ["promote", "shift", "abort"];

/// The flag whose value is being completed.
struct ValueOf<'a> {
    arg: &'a Arg,
    /// What has been typed of the value.
    prefix: String,
    /// Written before each candidate: `--flag=` when the value is typed in the same word.
    value_prefix: String,
}

/// Decide what to complete from the words after `modelroll` (the last one is being typed).
pub fn plan(words: &[String]) -> Plan {
    let mut root = Cli::command();
    root.build();
    let (to_complete, before) = match words.split_last() {
        Some((last, before)) => (last.as_str(), before),
        None => ("", &[][..]),
    };

    let mut global = GlobalArgs::default();
    let mut subcommand: Option<&clap::Command> = None;
    let mut positionals: Vec<&str> = Vec::new();
    let mut used: Vec<&str> = Vec::new();
    let mut pending: Option<&Arg> = None;
    let mut only_positionals = false;

    for word in before {
        let command = subcommand.unwrap_or(&root);
        if let Some(arg) = pending.take() {
            record(&mut global, arg, word);
            continue;
        }
        if !only_positionals && word == "--" {
            only_positionals = true;
            continue;
        }
        if !only_positionals && word.starts_with('-') && word.len() > 1 {
            if let Some((arg, inline_value)) = find_flag(command, word) {
                used.push(arg.get_id().as_str());
                match inline_value {
                    Some(value) => record(&mut global, arg, &value),
                    None if needs_separate_value(arg) => pending = Some(arg),
                    None => {}
                }
            }
            continue;
        }
        match subcommand {
            None => {
                match root.find_subcommand(word) {
                    Some(found) => subcommand = Some(found),
                    // Not a command we know: nothing sensible to offer after it.
                    None => return Plan::Fixed(Completions::none(directive::NO_FILE_COMP)),
                }
            }
            Some(_) => positionals.push(word),
        }
    }
    let command = subcommand.unwrap_or(&root);

    // The value of a flag: `-n <TAB>`, `--router=<TAB>`, `-nml<TAB>`.
    let value_of = if let Some(arg) = pending {
        Some(ValueOf { arg, prefix: to_complete.to_string(), value_prefix: String::new() })
    } else if !only_positionals && to_complete.starts_with('-') {
        match find_flag(command, to_complete) {
            Some((arg, Some(value))) if arg.get_action().takes_values() => {
                let typed_flag = &to_complete[..to_complete.len() - value.len()];
                Some(ValueOf { arg, prefix: value, value_prefix: typed_flag.to_string() })
            }
            _ => None,
        }
    } else {
        None
    };
    if let Some(value_of) = value_of {
        return plan_value(value_of, global, positionals.first().map(|t| t.to_string()));
    }

    if !only_positionals && to_complete.starts_with('-') {
        return Plan::Fixed(flags(command, to_complete, &used));
    }

    let Some(subcommand) = subcommand else {
        return Plan::Fixed(subcommands(&root, to_complete));
    };
    if subcommand.get_name() == "help" {
        return Plan::Fixed(subcommands(&root, to_complete));
    }
    let mut positional_args: Vec<&Arg> = subcommand.get_positionals().collect();
    positional_args.sort_by_key(|a| a.get_index());
    let arg = positional_args
        .get(positionals.len())
        .or_else(|| positional_args.last().filter(|a| a.get_num_args().is_some_and(|n| n.max_values() > 1)));
    let Some(arg) = arg else {
        return Plan::Fixed(Completions::none(directive::NO_FILE_COMP));
    };
    if arg.get_id() == "target" {
        return Plan::Targets {
            global,
            canary_only: CANARY_COMMANDS.contains(&subcommand.get_name()),
            prefix: to_complete.to_string(),
        };
    }
    if arg.get_id() == "images" {
        return container_images(global, positionals[0], to_complete, "");
    }
    Plan::Fixed(possible_values(arg, to_complete, ""))
}

/// `[CONTAINER=]IMAGE`: offer `CONTAINER=` until a `=` is typed; images are the user's to write.
fn container_images(global: GlobalArgs, target: &str, prefix: &str, value_prefix: &str) -> Plan {
    if prefix.contains('=') {
        return Plan::Fixed(Completions::none(directive::NO_FILE_COMP));
    }
    Plan::Containers {
        global,
        target: target.to_string(),
        prefix: prefix.to_string(),
        value_prefix: value_prefix.to_string(),
        suffix: "=",
    }
}

/// Find the flag `word` names in `command`: `--long`, `--long=value`, `-s`, `-sVALUE`, `-abc`
/// (for a run of short switches, the last one decides whether a value follows).
fn find_flag<'a>(command: &'a clap::Command, word: &str) -> Option<(&'a Arg, Option<String>)> {
    if let Some(long) = word.strip_prefix("--") {
        let (name, value) = match long.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (long, None),
        };
        let arg = command.get_arguments().find(|a| {
            a.get_long() == Some(name) || a.get_all_aliases().is_some_and(|aliases| aliases.contains(&name))
        })?;
        return Some((arg, value));
    }
    let shorts = word.strip_prefix('-')?;
    let mut last = None;
    for (at, short) in shorts.char_indices() {
        let arg = command.get_arguments().find(|a| a.get_short() == Some(short))?;
        if arg.get_action().takes_values() {
            let rest = shorts[at + short.len_utf8()..].trim_start_matches('=');
            let value = (!rest.is_empty()).then(|| rest.to_string());
            return Some((arg, value));
        }
        last = Some(arg);
    }
    last.map(|arg| (arg, None))
}

/// Whether `--flag` alone takes the next word as its value (`--dry-run` does not: its value
/// must follow `=`).
fn needs_separate_value(arg: &Arg) -> bool {
    arg.get_action().takes_values()
        && !arg.is_require_equals_set()
        && arg.get_num_args().is_none_or(|n| n.min_values() > 0)
}

/// Keep the connection flags typed on the line: completion asks the cluster they name.
fn record(global: &mut GlobalArgs, arg: &Arg, value: &str) {
    let value = Some(value.to_string());
    match arg.get_id().as_str() {
        "kubeconfig" => global.kubeconfig = value.map(Into::into),
        "context" => global.context = value,
        "cluster" => global.cluster = value,
        "user" => global.user = value,
        "namespace" => global.namespace = value,
        "request_timeout" => global.request_timeout = value,
        _ => {}
    }
}

fn subcommands(root: &clap::Command, prefix: &str) -> Completions {
    let candidates = root
        .get_subcommands()
        .filter(|c| !c.is_hide_set() && c.get_name().starts_with(prefix))
        .map(|c| Candidate::new(c.get_name(), c.get_about().map(ToString::to_string)))
        .collect();
    Completions { candidates, directive: directive::NO_FILE_COMP }
}

/// The flags of `command` (its own and the global ones), as cobra offers them: `--long` always,
/// `-s` too unless `--` was typed; flags already on the line only when they repeat.
fn flags(command: &clap::Command, prefix: &str, used: &[&str]) -> Completions {
    let mut candidates = Vec::new();
    for arg in command.get_arguments() {
        if arg.is_positional() || arg.is_hide_set() {
            continue;
        }
        let repeats = matches!(arg.get_action(), clap::ArgAction::Append | clap::ArgAction::Count);
        if used.contains(&arg.get_id().as_str()) && !repeats {
            continue;
        }
        let help = arg.get_help().map(ToString::to_string);
        if let Some(long) = arg.get_long() {
            candidates.push(Candidate::new(format!("--{long}"), help.clone()));
        }
        if let (Some(short), false) = (arg.get_short(), prefix.starts_with("--")) {
            candidates.push(Candidate::new(format!("-{short}"), help));
        }
    }
    candidates.retain(|c| c.value.starts_with(prefix));
    Completions { candidates, directive: directive::NO_FILE_COMP }
}

fn possible_values(arg: &Arg, prefix: &str, value_prefix: &str) -> Completions {
    let candidates = arg
        .get_possible_values()
        .into_iter()
        .filter(|v| !v.is_hide_set() && v.get_name().starts_with(prefix))
        .map(|v| {
            Candidate::new(format!("{value_prefix}{}", v.get_name()), v.get_help().map(ToString::to_string))
        })
        .collect();
    Completions { candidates, directive: directive::NO_FILE_COMP }
}

fn plan_value(value_of: ValueOf<'_>, global: GlobalArgs, target: Option<String>) -> Plan {
    let ValueOf { arg, prefix, value_prefix } = value_of;
    match (arg.get_id().as_str(), target) {
        ("image", Some(target)) => return container_images(global, &target, &prefix, &value_prefix),
        ("container", Some(target)) => {
            return Plan::Containers { global, target, prefix, value_prefix, suffix: "" };
        }
        ("route", _) => return Plan::Routes { global, prefix, value_prefix },
        _ => {}
    }
    let kubeconfig = |names| Plan::Kubeconfig {
        global: global.clone(),
        names,
        prefix: prefix.clone(),
        value_prefix: value_prefix.clone(),
    };
    match arg.get_id().as_str() {
        "namespace" => {
            return Plan::Namespaces {
                global: global.clone(),
                prefix: prefix.clone(),
                value_prefix: value_prefix.clone(),
            }
        }
        "context" => return kubeconfig(KubeconfigNames::Contexts),
        "cluster" => return kubeconfig(KubeconfigNames::Clusters),
        "user" => return kubeconfig(KubeconfigNames::Users),
        "weight" => {
            let candidates = ["10", "25", "50", "75", "100"]
                .into_iter()
                .filter(|w| w.starts_with(prefix.as_str()))
                .map(|w| Candidate::new(format!("{value_prefix}{w}"), None))
                .collect();
            return Plan::Fixed(Completions {
                candidates,
                directive: directive::NO_FILE_COMP | directive::KEEP_ORDER,
            });
        }
        _ => {}
    }
    match arg.get_value_hint() {
        clap::ValueHint::DirPath => Plan::Fixed(Completions::none(directive::FILTER_DIRS)),
        clap::ValueHint::AnyPath | clap::ValueHint::FilePath => {
            Plan::Fixed(Completions::none(directive::DEFAULT))
        }
        _ => Plan::Fixed(possible_values(arg, &prefix, &value_prefix)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        // The last word may be empty: "promote ''" is written "promote |".
        line.split(' ').map(|w| w.replace('|', "")).collect()
    }

    fn fixed(line: &str) -> Completions {
        match plan(&words(line)) {
            Plan::Fixed(completions) => completions,
            other => panic!("{line:?} planned {other:?}"),
        }
    }

    fn values(completions: &Completions) -> Vec<String> {
        completions.candidates.iter().map(|c| c.value.clone()).collect()
    }

    fn has(values: &[String], value: &str) -> bool {
        values.iter().any(|v| v == value)
    }

    #[test]
    fn renders_cobras_wire_format() {
        let completions = Completions {
            candidates: vec![
                Candidate::new("status", Some("One screen\twith a tab\nand a second line".into())),
                Candidate::new("fraud", None),
            ],
            directive: directive::NO_FILE_COMP,
        };
        assert_eq!(completions.render(), "status\tOne screen with a tab\nfraud\n:4\n");
        assert_eq!(Completions::none(directive::NO_FILE_COMP).render(), ":4\n");
    }

    #[test]
    fn completes_subcommands_with_descriptions_and_hides_the_hidden() {
        let completions = fixed("|");
        let names = values(&completions);
        for name in ["set-image", "status", "list", "history", "undo", "canary", "shift", "promote", "abort"]
        {
            assert!(has(&names, name), "{name} missing from {names:?}");
        }
        assert!(!has(&names, "__complete"));
        assert_eq!(completions.directive, directive::NO_FILE_COMP);
        assert_eq!(values(&fixed("pr")), ["promote"]);
        let promote = &fixed("pr").candidates[0];
        assert_eq!(promote.description.as_deref(), Some("Make the canary the new stable and clean up"));
        // Global flags before the command are skipped.
        assert_eq!(values(&fixed("-n ml --context=prod pr")), ["promote"]);
    }

    #[test]
    fn completes_flags_from_the_command_tree() {
        let canary = values(&fixed("canary fraud --r"));
        assert_eq!(canary, ["--router", "--route", "--request-timeout"]);
        let all = values(&fixed("canary fraud -"));
        assert!(has(&all, "--image") && has(&all, "-n") && has(&all, "--namespace"), "{all:?}");
        // A flag already given is not offered again; a repeatable one is.
        let again = values(&fixed("canary fraud --router istio -v --r"));
        assert_eq!(again, ["--route", "--request-timeout"]);
        assert!(has(&values(&fixed("status fraud -v -")), "-v"));
        // `--` offers long flags only.
        assert!(!has(&values(&fixed("status fraud --")), "-w"));
    }

    #[test]
    fn completes_enumerated_flag_values() {
        assert_eq!(
            values(&fixed("canary fraud --router |")),
            ["auto", "replicas", "istio", "gateway-api", "knative"]
        );
        assert_eq!(values(&fixed("canary fraud --router=g")), ["--router=gateway-api"]);
        assert_eq!(values(&fixed("status fraud -o |")), ["table", "wide", "json", "yaml"]);
        assert_eq!(values(&fixed("status fraud -oj")), ["-ojson"]);
        assert_eq!(
            values(&fixed("promote fraud --dry-run=")),
            ["--dry-run=none", "--dry-run=client", "--dry-run=server"]
        );
        // --dry-run takes no separate value: the next word is positional again.
        assert!(matches!(plan(&words("promote --dry-run |")), Plan::Targets { .. }));
        assert_eq!(
            values(&fixed("completion |")),
            ["bash", "zsh", "fish", "powershell", "elvish", "kubectl-plugin"]
        );
        assert_eq!(values(&fixed("completion z")), ["zsh"]);
        assert_eq!(values(&fixed("shift fraud --weight 2")), ["25"]);
        assert_eq!(fixed("shift fraud --timeout |"), Completions::none(directive::NO_FILE_COMP));
        assert_eq!(fixed("--kubeconfig |"), Completions::none(directive::DEFAULT));
        assert_eq!(fixed("playground --crds |"), Completions::none(directive::FILTER_DIRS));
    }

    #[test]
    fn plans_targets_with_the_connection_flags_of_the_line() {
        match plan(&words("--kubeconfig /tmp/k -n ml promote --context=prod fr")) {
            Plan::Targets { global, canary_only, prefix } => {
                assert!(canary_only);
                assert_eq!(prefix, "fr");
                assert_eq!(global.kubeconfig.as_deref(), Some(std::path::Path::new("/tmp/k")));
                assert_eq!(global.namespace.as_deref(), Some("ml"));
                assert_eq!(global.context.as_deref(), Some("prod"));
            }
            other => panic!("planned {other:?}"),
        }
        match plan(&words("set-image -nml |")) {
            Plan::Targets { global, canary_only, .. } => {
                assert!(!canary_only);
                assert_eq!(global.namespace.as_deref(), Some("ml"));
            }
            other => panic!("planned {other:?}"),
        }
        for command in ["shift", "abort"] {
            assert!(matches!(plan(&words(&format!("{command} |"))), Plan::Targets { canary_only: true, .. }));
        }
        // After the target: `CONTAINER=` for set-image until a `=` is typed, nothing for status.
        assert!(matches!(
            plan(&words("set-image fraud m")),
            Plan::Containers { target, prefix, suffix: "=", .. } if target == "fraud" && prefix == "m"
        ));
        assert!(matches!(plan(&words("set-image fraud a=b |")), Plan::Containers { .. }));
        assert_eq!(fixed("set-image fraud model=r"), Completions::none(directive::NO_FILE_COMP));
        assert!(matches!(
            plan(&words("canary ksvc/fraud --image |")),
            Plan::Containers { target, suffix: "=", .. } if target == "ksvc/fraud"
        ));
        assert!(matches!(
            plan(&words("canary fraud --container=|")),
            Plan::Containers { suffix: "", value_prefix, .. } if value_prefix == "--container="
        ));
        assert!(matches!(plan(&words("canary fraud --route |")), Plan::Routes { .. }));
        assert_eq!(fixed("status fraud |"), Completions::none(directive::NO_FILE_COMP));
        assert_eq!(fixed("nonsense |"), Completions::none(directive::NO_FILE_COMP));
    }

    #[test]
    fn plans_namespaces_and_kubeconfig_names() {
        assert!(matches!(plan(&words("status -n |")), Plan::Namespaces { .. }));
        match plan(&words("status --namespace=m")) {
            Plan::Namespaces { prefix, value_prefix, .. } => {
                assert_eq!((prefix.as_str(), value_prefix.as_str()), ("m", "--namespace="))
            }
            other => panic!("planned {other:?}"),
        }
        assert!(matches!(
            plan(&words("--context |")),
            Plan::Kubeconfig { names: KubeconfigNames::Contexts, .. }
        ));
        assert!(matches!(
            plan(&words("list --user |")),
            Plan::Kubeconfig { names: KubeconfigNames::Users, .. }
        ));
    }

    #[tokio::test]
    async fn kubeconfig_names_come_from_the_kubeconfig_on_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\ncurrent-context: dev\nclusters:\n- name: c1\n  cluster:\n    server: https://c1.example\nusers:\n- name: me\n  user: {}\ncontexts:\n- name: dev\n  context:\n    cluster: c1\n    user: me\n- name: prod\n  context:\n    cluster: c1\n",
        )
        .unwrap();
        let line =
            vec!["--kubeconfig".to_string(), path.display().to_string(), "--context".into(), "p".into()];
        let completions = answer(plan(&line)).await;
        assert_eq!(completions.render(), "prod\tcluster c1\n:4\n");
    }

    #[tokio::test]
    async fn an_unreachable_cluster_answers_with_the_directive_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        // Port 1 on loopback: nothing listens there.
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\ncurrent-context: dev\nclusters:\n- name: c1\n  cluster:\n    server: http://127.0.0.1:1\ncontexts:\n- name: dev\n  context:\n    cluster: c1\n",
        )
        .unwrap();
        let line =
            vec!["--kubeconfig".to_string(), path.display().to_string(), "promote".into(), String::new()];
        assert_eq!(answer(plan(&line)).await.render(), ":4\n");
        let line = vec![
            "--kubeconfig".to_string(),
            dir.path().join("missing").display().to_string(),
            "status".into(),
            String::new(),
        ];
        assert_eq!(answer(plan(&line)).await.render(), ":4\n");
    }
}
