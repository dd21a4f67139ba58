//! Observing what runs: status (with health probes), logs, the event feed and journal, the
//! live monitor and the inventory of every ecosystem on an engine. Nothing here changes a
//! container; everything is found by the labels of [`crate::config::labels`].
pub mod events;
pub mod exec;
pub mod feed;
pub mod follow;
pub mod inventory;
pub mod journal;
pub mod logs;
pub mod monitor;
pub mod status;

pub use status::{status, StatusReport};
