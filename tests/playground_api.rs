//! Integration tests: playground_api.
