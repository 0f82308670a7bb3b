//! Pure rollout logic: decisions without IO (weights, canary state, plans).

pub mod canary;
pub mod state;
pub mod weights;
