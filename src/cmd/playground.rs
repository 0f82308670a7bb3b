//! `playground`: serve a simulated cluster on loopback until interrupted.

use crate::cli::PlaygroundArgs;
use crate::cmd::Context;
use crate::error::{Error, ExitCode, Result};
use crate::playground::{Faults, Playground, PlaygroundConfig};

/// Turn the flags into a playground configuration, refusing bad values before anything starts.
///
/// # Errors
/// Exit 2 for a bad duration, fault spec, `--with` group, missing `--crds` directory or bad
/// `--token-auth-file`.
pub fn config_from_args(args: &PlaygroundArgs) -> Result<PlaygroundConfig> {
    let ready_after = args.ready_after;
    let faults = match &args.faults {
        Some(spec) => Faults::parse(spec).map_err(|e| Error::usage(format!("invalid --faults: {e}")))?,
        None => Faults::default(),
    };
    for group in &args.with {
        crate::playground::compact_crds::crds_for(group.trim())
            .map_err(|e| Error::usage(format!("invalid --with: {e}")))?;
    }
    for dir in &args.crds {
        if !dir.exists() {
            return Err(Error::usage(format!("--crds {}: no such file or directory", dir.display())));
        }
    }
    let users = match &args.token_auth_file {
        Some(path) => crate::playground::rbac::read_token_auth_file(path)
            .map_err(|e| Error::usage(format!("invalid --token-auth-file: {e}")))?,
        None => Vec::new(),
    };
    Ok(PlaygroundConfig {
        port: args.port,
        kubeconfig_out: args.kubeconfig_out.clone(),
        nodes: args.nodes,
        gpus_per_node: args.gpus_per_node,
        ready_after,
        crd_dirs: args.crds.clone(),
        with: args.with.iter().map(|g| g.trim().to_string()).collect(),
        faults,
        controllers: true,
        users,
    })
}

/// Run `playground`: start, print the kubeconfig and address, serve until Ctrl-C.
///
/// # Errors
/// Exit 2 for bad flags; exit 1 when the port cannot be bound or the kubeconfig written.
pub async fn run(_ctx: &Context, args: PlaygroundArgs) -> Result<()> {
    let config = config_from_args(&args)?;
    let playground = Playground::start(config).await.map_err(|e| {
        let code = if e.is_bad_input() { ExitCode::Usage } else { ExitCode::Failed };
        Error { code, message: format!("cannot start the playground: {e}"), source: Some(Box::new(e)) }
    })?;
    let kubeconfig = playground.kubeconfig_path.display().to_string();
    crate::ui::print_stdout(&format!(
        "playground serving on {url}\nkubeconfig: {kubeconfig}\n\n  export KUBECONFIG={kubeconfig}\n  kubectl get nodes\n\ncontexts: playground (admin), playground-viewer (read-only)\n",
        url = playground.url
    ));
    if !playground.config.users.is_empty() {
        let names: Vec<&str> = playground.config.users.iter().map(|u| u.name.as_str()).collect();
        crate::ui::print_stdout(&format!(
            "users authorized by RBAC (--token-auth-file): {} (their requests: kubectl --token=TOKEN ...)\n",
            names.join(", ")
        ));
    }
    crate::ui::print_stdout(&format!(
        "\nsimulated traffic as Prometheus metrics (Istio's and Knative's names): http://{address}/metrics\nscrape config (prometheus.yml):\n\n{config}",
        address = playground.metrics_address,
        config = crate::playground::traffic::scrape_config(&playground.metrics_address)
    ));
    crate::ui::print_stderr_line("press Ctrl-C to stop");
    let served = crate::interruptible("serving the playground", std::future::pending::<Result<()>>()).await;
    playground.stop();
    match served {
        Err(e) if e.code == ExitCode::Interrupted => {
            crate::ui::print_stderr_line("playground stopped");
            Ok(())
        }
        other => other,
    }
}
