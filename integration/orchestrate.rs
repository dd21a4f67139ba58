//! Integration tests: orchestrate.
