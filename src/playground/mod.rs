//! A simulated Kubernetes API server with controllers, served on loopback.
pub mod controllers;
