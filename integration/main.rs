//! Real-engine tests: they drive a real dockerd (and Podman), build real images and send real
//! HTTP requests to 127.0.0.1. Without an engine they skip, unless `PACTOWN_REQUIRE_ENGINES=1`
//! (set by `.ci/run`), which turns a missing engine into a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::print_stdout
)]

mod bootstrap;
#[allow(dead_code)]
mod common;
mod compose_cli;
mod deps;
mod devloop;
mod engine_docker;
mod events;
mod export;
mod images;
mod ingress_up;
mod inventory;
mod jobs;
mod microservices;
mod oci_registry;
mod orchestrate;
mod push;
mod registry;
mod registry_up;
mod run;
mod runtimes_real;
mod saas;
mod security;
mod selfimage;
mod start_order;
mod swarm;
mod swarm_nodes;
mod variables;
mod vps;
mod watch;
