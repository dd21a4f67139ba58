//! pactown turns markpact READMEs into running container ecosystems.
//!
//! The pipeline is: [`markpact`] parses a README into blocks, [`config`] loads an ecosystem
//! file, [`graph`] orders its services, [`build`] turns each README into a deterministic build
//! context and image, [`engine`] talks to Docker or Podman, and [`orchestrator`] brings the
//! ecosystem up. [`cli`] is the thin command-line face and [`ui`] owns all terminal output.
#![forbid(unsafe_code)]

pub mod build;
pub mod cli;
pub mod config;
pub mod diagnostic;
pub mod engine;
pub mod error;
pub mod export;
pub mod graph;
pub mod input;
pub mod markpact;
pub mod orchestrator;
pub mod project;
pub mod quadlet;
pub mod registry;
pub mod secrets;
pub mod ui;

pub use diagnostic::{Code, Diagnostic, Diagnostics, Severity};
pub use error::Error;
