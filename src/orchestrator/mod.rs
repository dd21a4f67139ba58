//! Bringing an ecosystem up and down on an [`crate::engine::Engine`]: per-service scheduling,
//! health probes, env injection and recreate-on-change.
