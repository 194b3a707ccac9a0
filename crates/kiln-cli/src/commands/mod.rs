//! One module per subcommand, and the facade's life around each: caches loaded before,
//! saved after.

pub(crate) mod bake;
pub(crate) mod bases;
pub(crate) mod build;
pub(crate) mod cache;
pub(crate) mod doctor;
pub(crate) mod exists;
pub(crate) mod experiment;
pub(crate) mod images;
pub(crate) mod plan;
pub(crate) mod run;
pub(crate) mod transfer;

use std::sync::Arc;

use kiln::{Config, Env, Kiln, Result, SchemeConfig};

use crate::output::Io;

/// The facade for a command, reading settings from `env`, with the caches of earlier runs
/// loaded (a cache that cannot be read is a warning).
pub(crate) async fn open(env: Arc<dyn Env>, io: &Io) -> Result<Kiln> {
    open_with(env, io, &SchemeConfig::default()).await
}

/// [`open`], with the scheme settings given on the command line over the configuration's.
pub(crate) async fn open_with(env: Arc<dyn Env>, io: &Io, scheme: &SchemeConfig) -> Result<Kiln> {
    let mut config = Config::load(env.as_ref())?;
    config.scheme.overlay(scheme);
    let kiln = Kiln::builder().shared_env(env).config(config).build()?;
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
