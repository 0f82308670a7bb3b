//! Pure rollout logic, no IO: image references, strategy resolution, GPU fit, rollout progress,
//! revisions, status, weight math, canary state, plans.

pub mod canary;
pub mod canary_status;
pub mod check;
pub mod gpu;
pub mod image;
pub mod keys;
pub mod live;
pub mod lock;
pub mod model_ready;
pub mod pod;
pub mod progress;
pub mod quantity;
pub mod revision;
pub mod state;
pub mod status;
pub mod strategy;
pub mod waves;
pub mod weights;
