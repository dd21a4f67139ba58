//! Integration tests: engine_docker.
