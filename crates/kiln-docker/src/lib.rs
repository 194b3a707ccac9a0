//! kiln-docker: kiln's adapter to the Docker Engine API — the only crate that knows bollard.
//!
//! - [`endpoint`]: where the daemon is (`DOCKER_HOST`, Docker contexts, TLS variables) —
//!   a unix socket, TCP (plain or mutual TLS), or an `ssh://` host reached through the system's
//!   ssh client and the remote `docker system dial-stdio`;
//! - [`DockerEngine`]: [`kiln_core::ImageEngine`] over the daemon — classic builds with the
//!   context streamed as it is archived, BuildKit builds pulling the context through kiln's own
//!   session (only what the daemon does not hold yet), build output turned into events,
//!   inspect, tag, remove, images listed with the containers that use them;
//! - [`CredentialSource`]: registry credentials (explicit, environment, Docker CLI config);
//!   push with every layer's progress and the pushed digest, pull with progress;
//! - [`DockerEngine`] is also the [`kiln_core::ContainerRuntime`] and
//!   [`kiln_core::NetworkRuntime`]: containers and networks, their logs, and the daemon's
//!   refusals as typed errors (not found, name conflict, pool overlap, in use);
//! - every bollard error is mapped to [`kiln_core::Error`] here, so none leaks upward.

mod ansi;
mod build;
pub mod build_query;
pub mod buildkit_output;
pub mod classic_output;
mod container;
mod container_model;
pub mod credentials;
pub mod endpoint;
mod engine;
mod errors;
mod listing;
mod network;
mod progress;
mod raw;
pub mod registry;
mod registry_auth;
mod runtime_errors;
mod session;
mod session_build;
mod ssh;
mod upload;

pub use credentials::CredentialSource;
pub use endpoint::{Endpoint, EndpointSource, TlsFiles, resolve_endpoint};
pub use engine::{DEFAULT_CONNECT_TIMEOUT, DockerEngine, SSH_FIRST_ANSWER_TIMEOUT};
pub use registry::OciRegistry;

#[cfg(test)]
mod decoder_properties;
