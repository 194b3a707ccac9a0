//! One module per subcommand.

pub(crate) mod build;
pub(crate) mod doctor;
pub(crate) mod exists;
pub(crate) mod plan;

use std::sync::Arc;

use kiln::{Env, Kiln, Result};

/// The facade for a command, reading settings from `env`.
pub(crate) fn kiln_for(env: Arc<dyn Env>) -> Result<Kiln> {
    Kiln::builder().shared_env(env).build()
}
