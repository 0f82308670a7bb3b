//! Integration tests: rolling.
