//! Integration tests: playground_controllers.
