//! The integration tests: one binary, one module per area, shared helpers in `common`.

mod common;

mod canary;
mod checks;
mod contexts;
mod demo;
mod faults;
mod foundation;
mod krew_completion;
mod model_ready;
mod operation_lock;
mod playground_api;
mod playground_controllers;
mod polish;
mod rbac;
mod reads;
mod rolling;
mod safety;
