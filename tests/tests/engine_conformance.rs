//! The engine conformance suite against the real Docker daemon.

use kiln_core::ProcessEnv;
use kiln_core::testing::conformance;
use kiln_docker::DockerEngine;
use kiln_tests::{live_docker, unique};

#[tokio::test]
async fn docker_engine_conforms() {
    if live_docker("docker_engine_conforms").is_none() {
        return;
    }
    let engine = DockerEngine::from_env(&ProcessEnv).unwrap();
    conformance::run(&engine, &unique("conf")).await;
}
