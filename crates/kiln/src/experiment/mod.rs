//! Experiments: what was built, run — containers on networks of their own, logs, metrics —
//! and removed, also after a crash.
//!
//! `subnet.rs` chooses test subnets from a pool so that parallel experiments never clash.

pub mod subnet;
