//! Pure rollout logic, no IO: image references, strategy resolution, GPU fit, weight math, plans.

pub mod gpu;
pub mod image;
pub mod progress;
pub mod quantity;
pub mod revision;
pub mod status;
pub mod strategy;
