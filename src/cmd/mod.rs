//! One module per command; each reads as the story of its operation.

pub mod abort;
pub mod canary;
pub mod complete;
pub mod completion;
pub mod contexts;
pub mod demo;
pub mod follow;
pub mod gate;
pub mod history;
pub mod lifecycle;
pub mod list;
pub mod model_gate;
pub mod objects;
pub mod playground;
pub mod promote;
pub mod route_guard;
pub mod set_image;
pub mod shift;
pub mod status;
pub mod undo;
pub mod version;

use crate::cli::{Cli, Command, GlobalArgs};
use crate::cluster::Cluster;
use crate::error::Result;

/// What every command gets: the global flags, and a way to connect.
pub struct Context {
    pub global: GlobalArgs,
    /// The one connection of this command line: a command run by another (the abort after a
    /// failed metric check) shares its connections and what its retries know of the server.
    cluster: tokio::sync::OnceCell<Cluster>,
}

impl Context {
    pub fn new(global: GlobalArgs) -> Self {
        Self { global, cluster: tokio::sync::OnceCell::new() }
    }

    /// Connect to the cluster named by the global flags (once; later calls share it).
    ///
    /// # Errors
    /// See [`Cluster::connect`].
    pub async fn cluster(&self) -> Result<Cluster> {
        self.cluster.get_or_try_init(|| Cluster::connect(&self.global)).await.cloned()
    }
}

/// Run the parsed command line.
///
/// # Errors
/// The command's error, carrying its exit code.
pub async fn run(cli: Cli) -> Result<()> {
    let ctx = Context::new(cli.global);
    if ctx.global.contexts.is_some() {
        return contexts::run(&ctx, cli.command).await;
    }
    if ctx.global.wave_size != 1 || !ctx.global.bake.is_zero() {
        return Err(crate::error::Error::usage(
            "--wave-size and --bake pace a run across contexts: add --contexts C1,C2,…",
        ));
    }
    let result = run_command(&ctx, cli.command).await;
    // A write command holds its model's operation lease until here, whatever its outcome.
    crate::lock::release().await;
    result
}

async fn run_command(ctx: &Context, command: Command) -> Result<()> {
    match command {
        Command::SetImage(args) => set_image::run(ctx, args).await,
        Command::Status(args) => status::run(ctx, args).await,
        Command::List(args) => list::run(ctx, args).await,
        Command::History(args) => history::run(ctx, args).await,
        Command::Undo(args) => undo::run(ctx, args).await,
        Command::Canary(args) => canary::run(ctx, args).await,
        Command::Shift(args) => shift::run(ctx, args).await,
        Command::Promote(args) => promote::run(ctx, args).await,
        Command::Abort(args) => abort::run(ctx, args).await,
        Command::Completion(args) => completion::run(ctx, args),
        Command::Playground(args) => playground::run(ctx, args).await,
        Command::Demo(args) => demo::run(ctx, args).await,
        Command::Version(args) => version::run(ctx, args),
        Command::Complete(args) => complete::run(ctx, args).await,
    }
}
