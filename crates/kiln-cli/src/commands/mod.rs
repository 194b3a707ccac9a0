//! One module per subcommand, and the facade's life around each: caches loaded before,
//! saved after.

pub(crate) mod build;
pub(crate) mod cache;
pub(crate) mod doctor;
pub(crate) mod exists;
pub(crate) mod plan;
pub(crate) mod transfer;

use std::sync::Arc;

use kiln::{Env, Kiln, Result};

use crate::output::Io;

/// The facade for a command, reading settings from `env`, with the caches of earlier runs
/// loaded (a cache that cannot be read is a warning).
pub(crate) async fn open(env: Arc<dyn Env>, io: &Io) -> Result<Kiln> {
    let kiln = Kiln::builder().shared_env(env).build()?;
    if let Some(warning) = kiln.load_caches().await {
        io.err(&format!("warning: {warning}"));
    }
    Ok(kiln)
}

/// Keeps the caches for the next run (a failure is a warning).
pub(crate) async fn close(kiln: &Kiln, io: &Io) {
    if let Some(warning) = kiln.save_caches().await {
        io.err(&format!("warning: {warning}"));
    }
}
