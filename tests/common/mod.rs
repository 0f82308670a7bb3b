//! Shared helpers: run the real binary, start a playground with a kubeconfig written for it.
#![allow(dead_code)]
