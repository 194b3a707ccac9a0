//! The engine and registry conformance suites against the real Docker daemon and registry: one
//! test per case, named after it.

use std::sync::Arc;

use kiln_core::testing::registry_conformance::RegistryTarget;
use kiln_core::{Credentials, ProcessEnv};
use kiln_docker::DockerEngine;
use kiln_docker::registry::OciRegistry;
use kiln_tests::registry::{RegistryServer, registry_or_skip};
use kiln_tests::{live_docker, unique};

/// The real daemon, or `None` (with a printed reason) when the test should skip.
fn docker(test: &str) -> Option<DockerEngine> {
    live_docker(test)?;
    Some(DockerEngine::from_env(&ProcessEnv).expect("a Docker engine from the environment"))
}

mod docker_engine {
    use super::*;

    kiln_core::engine_conformance_tests!(docker("docker_engine"), unique("conf"));
}

const USER: &str = "kiln";
const PASSWORD: &str = "conformance-s3cret";

/// The registry target: the real daemon pushing into a registry fixture that requires a
/// password, asked through kiln's own client. The fixture lives as long as the returned guard.
fn registry(test: &str) -> Option<(RegistryTarget, RegistryServer)> {
    let engine = docker(test)?;
    let server = registry_or_skip(test, &[(USER, PASSWORD)])?;
    // What an application does once at start (the CLI in `main`): kiln's registry client
    // takes the process's default rustls provider.
    kiln_docker::registry::install_default_crypto_provider();
    let target = RegistryTarget {
        engine: Arc::new(engine),
        registry: Arc::new(OciRegistry::new()),
        repository: server.reference("kiln/conformance", "latest"),
        credentials: Some(Credentials::password(USER, PASSWORD)),
    };
    Some((target, server))
}

mod oci_registry {
    use super::*;

    kiln_core::registry_conformance_tests!(
        registry("oci_registry").map(|(target, server)| Guarded {
            target,
            _server: server,
        }),
        unique("conf")
    );

    /// The target and the registry fixture it needs; derefs to the target.
    struct Guarded {
        target: RegistryTarget,
        _server: RegistryServer,
    }

    impl std::ops::Deref for Guarded {
        type Target = RegistryTarget;

        fn deref(&self) -> &RegistryTarget {
            &self.target
        }
    }
}
