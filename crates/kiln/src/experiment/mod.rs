//! Experiments: what was built, run — containers on networks of their own, logs, metrics —
//! and removed, also after a crash.
//!
//! [`session::Experiment`] is what a harness drives: networks, containers, waits, teardown;
//! `logs.rs` streams each container's output to its files and `runtime.rs` names what it runs
//! on. `catalog.rs` lists the experiments from their folders alone; `folder.rs` makes an experiment's folder and holds its owner lock (the kernel releases it
//! when the process dies, which is how `gc` tells a dead experiment from a live one);
//! `journal.rs` is the intent journal written before each create; `labels.rs` the owner
//! of its resources; `metrics.rs` the `metrics.json` rewritten after
//! every phase; `subnet.rs` chooses test subnets from a pool so that parallel experiments never
//! clash, and `allocate.rs` creates a network on one under a host-wide lock.

pub mod allocate;
pub mod catalog;
pub mod folder;
pub mod gc;
pub mod interrupt;
pub mod journal;
pub mod labels;
pub mod logs;
pub mod metrics;
pub mod run;
pub mod runtime;
pub mod session;
pub mod subnet;
#[cfg(test)]
mod tests;
