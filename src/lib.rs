//! pactown turns markpact READMEs into running container ecosystems.
//!
//! The pipeline is: [`markpact`] parses a README into blocks, [`config`] loads an ecosystem
//! file (the model: services, labels, tenants, config hashes), [`project`] loads everything a
//! command runs on, [`graph`] orders its services, [`image`] turns each README into a
//! deterministic build context and image (and pushes it), [`engine`] talks to Docker or
//! Podman, [`deploy`] brings the ecosystem up (plan → apply → health gates, watch mode),
//! [`observe`] reports on what runs (status, logs, events, journal), [`suite`] runs the
//! READMEs' tests, and [`export`]/[`quadlet`] write files for other runtimes. [`registry`] is
//! the README registry. [`cli`] is the thin command-line face and [`ui`] owns all terminal
//! output.
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod deploy;
pub mod diagnostic;
pub mod engine;
pub mod error;
pub mod export;
pub mod graph;
pub mod image;
pub mod ingress;
pub mod input;
pub mod markpact;
pub mod observe;
pub mod project;
pub mod quadlet;
pub mod registry;
pub mod secrets;
pub mod suite;
pub mod ui;

pub use diagnostic::{Code, Diagnostic, Diagnostics, Severity};
pub use error::Error;
