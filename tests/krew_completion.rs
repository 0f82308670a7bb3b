//! Integration tests: krew_completion.
