//! The units Kubernetes tools read: resource quantities (`500m`, `2Gi`) and Go durations
//! (`30s`, `1h30m`). One parser each, shared by the plugin and the playground so that both
//! read a value the same way.

pub mod duration;
pub mod quantity;
