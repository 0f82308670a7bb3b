//! The `replicas` router: no route object; the model's Service keeps selecting both tracks and the
//! canary's weight is its share of the ready pods (canary = round(N × W / 100), stable = N − canary).

use futures::future::BoxFuture;
use futures::FutureExt;

use super::{End, Router};
use crate::error::Result;
use crate::rollout::state::{ReplicasRouting, Routing};
use crate::write::Writer;

/// The replicas router: all its work is scaling the two Deployments (see `rollout::live::plan`).
pub struct Replicas {
    pub routing: ReplicasRouting,
}

impl Router for Replicas {
    fn routing(&self) -> Routing {
        Routing::Replicas(self.routing.clone())
    }

    fn prepare<'a>(&'a self, _w: &'a Writer) -> BoxFuture<'a, Result<()>> {
        async { Ok(()) }.boxed()
    }

    fn set_weight<'a>(&'a self, _w: &'a Writer, _canary_weight: u32) -> BoxFuture<'a, Result<()>> {
        // The weight is the pod ratio, set by scaling before and after this call.
        async { Ok(()) }.boxed()
    }

    fn restore<'a>(&'a self, _w: &'a Writer, _end: End) -> BoxFuture<'a, Result<()>> {
        async { Ok(()) }.boxed()
    }
}
