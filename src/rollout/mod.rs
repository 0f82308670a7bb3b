//! Pure rollout logic, no IO: image references, strategy resolution, GPU fit, weight math, plans.
