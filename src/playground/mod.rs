//! A simulated Kubernetes API server with controllers, served on loopback.
