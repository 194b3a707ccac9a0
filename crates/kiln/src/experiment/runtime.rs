//! What an experiment runs on: a container runtime and a network runtime (the daemon, or
//! fakes in tests).

use std::fmt;
use std::sync::Arc;

use kiln_core::{ContainerRuntime, NetworkRuntime};

/// The containers and networks an experiment creates go through these.
#[derive(Clone)]
pub struct Runtime {
    /// Containers.
    pub containers: Arc<dyn ContainerRuntime>,
    /// Networks.
    pub networks: Arc<dyn NetworkRuntime>,
}

impl Runtime {
    /// One value that is both (the Docker engine, a fake).
    pub fn of<R: ContainerRuntime + NetworkRuntime>(runtime: Arc<R>) -> Runtime {
        Runtime {
            containers: Arc::clone(&runtime) as Arc<dyn ContainerRuntime>,
            networks: runtime,
        }
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("containers", &self.containers)
            .field("networks", &self.networks)
            .finish()
    }
}
