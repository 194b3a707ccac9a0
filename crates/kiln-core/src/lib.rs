//! kiln-core: the types, traits and errors every kiln crate shares.
//!
//! Nothing here talks to a daemon, starts a runtime or touches the file system: this crate is
//! the vocabulary — image references ([`ImageRef`]), platforms ([`Platform`]), build and runtime
//! modes, build specs and reports, build events, the one [`Error`] enum, the [`ImageEngine`]
//! trait that every engine implements, the [`ContainerRuntime`] and [`NetworkRuntime`] traits
//! that run what was built, and the [`TagScheme`] trait that names images (the schemes
//! themselves live in `kiln-schemes`).
//!
//! With the `mock` feature, mockall mocks of the traits are generated (`MockImageEngine`,
//! `MockRegistry`, `MockContainerRuntime`, `MockNetworkRuntime`); with the `testing` feature,
//! `testing` offers an in-memory engine, registry and container runtime, and the conformance
//! suites.

pub mod clock;
pub mod container;
mod container_spec;
pub mod context;
pub mod credentials;
pub mod digest;
pub mod engine;
pub mod env;
pub mod error;
pub mod event;
pub mod fingerprint;
pub mod image_list;
pub mod managed;
pub mod mode;
pub mod network;
pub mod platform;
pub mod reference;
pub mod registry;
pub mod resource;
pub mod spec;
pub mod tag;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod text;

pub use clock::{Clock, ManualClock, SystemClock, rfc3339};
#[cfg(feature = "mock")]
pub use container::MockContainerRuntime;
pub use container::{
    ContainerDetails, ContainerRuntime, ContainerSpec, ContainerState, ContainerSummary,
    DynContainerRuntime, ExitStatus, LogChunk, LogOptions, LogSource, LogStream, Mount,
    NetworkAttachment, PortSpec, Protocol, PublishedPort, Removal,
};
pub use context::ContextSource;
pub use credentials::Credentials;
pub use digest::{Digest, DigestError, ImageId};
#[cfg(feature = "mock")]
pub use engine::MockImageEngine;
pub use engine::{
    BuildRequest, BuilderKind, BuiltImage, DynImageEngine, EngineInfo, ImageDetails, ImageEngine,
    ImageEngineExt, PullOptions, Pulled, PushOptions, PushedImage, RemoveOptions,
};
pub use env::{Env, MapEnv, ProcessEnv, SharedEnv};
pub use error::{Error, ErrorKind, ErrorSource, Result};
pub use event::{BuildEvent, ContextSent, EventSink};
pub use fingerprint::{Change, FINGERPRINT_LABEL, Fingerprint, InputsManifest, SecretKey};
pub use image_list::{ImageFilter, ImageSummary};
pub use mode::{BuildMode, RuntimeMode};
#[cfg(feature = "mock")]
pub use network::MockNetworkRuntime;
pub use network::{DynNetworkRuntime, NetworkDetails, NetworkRemoval, NetworkRuntime, NetworkSpec};
pub use platform::Platform;
pub use reference::{ImageRef, ReferenceError, ReferenceRule};
#[cfg(feature = "mock")]
pub use registry::MockRegistry;
pub use registry::{IndexEntry, Registry, RegistryOptions, RemoteImage, check_copy};
pub use resource::{ContainerId, LabelFilter, NetworkId, ResourceIdError};
pub use spec::{
    BuildReport, BuildSpec, BuilderChoice, Outcome, ParentInput, Pushed, parse_build_arg,
};
pub use tag::{TagInput, TagScheme};
