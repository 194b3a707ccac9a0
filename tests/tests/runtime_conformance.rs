//! The container and network runtime suite against the real Docker daemon: one test per case,
//! named after it, on the busybox image the fixtures make. Each case removes what it made; a
//! guard removes by label whatever a failed case left, and fails a passing case that left any.

use std::ops::Deref;
use std::sync::Arc;

use kiln_core::ProcessEnv;
use kiln_core::testing::runtime_conformance::{LABEL, RuntimeTarget};
use kiln_docker::DockerEngine;
use kiln_tests::{ResourceCleanup, images, live_docker, unique};

/// The target and the guard that cleans up after it; derefs to the target.
struct Guarded {
    target: RuntimeTarget,
    _cleanup: ResourceCleanup,
}

impl Deref for Guarded {
    type Target = RuntimeTarget;

    fn deref(&self) -> &RuntimeTarget {
        &self.target
    }
}

/// The real daemon as a runtime target, or `None` (with a printed reason) when tests skip.
fn docker(test: &str) -> Option<Guarded> {
    live_docker(test)?;
    let engine = DockerEngine::from_env(&ProcessEnv).expect("a Docker engine from the environment");
    let unique = unique("rt");
    let cleanup = ResourceCleanup::new(format!("{LABEL}={unique}"));
    Some(Guarded {
        target: RuntimeTarget::new(Arc::new(engine), images::busybox(), unique),
        _cleanup: cleanup,
    })
}

kiln_core::runtime_conformance_tests!(docker("runtime_conformance"));
