//! kiln: build, cache and ship Docker images for test harnesses and benchmark suites.
//!
//! This facade composes the layers below it — [`kiln_core`] (vocabulary), [`kiln_context`]
//! (build contexts), [`kiln_platform`] (platform rules), [`kiln_schemes`] (image names),
//! [`kiln_docker`] (the daemon) — into one entry point, [`Kiln`]:
//!
//! ```no_run
//! # async fn example() -> kiln::Result<()> {
//! use kiln::{BuildSpec, Kiln};
//!
//! let kiln = Kiln::shared()?;
//! let report = kiln.build_image(&BuildSpec::new("hello", "examples/hello")).await?;
//! println!("{} {}", report.tag, report.image_id);
//! # Ok(())
//! # }
//! ```
//!
//! What every front end needs lives here too: [`SpecInput`] checks a build given as strings
//! into a [`BuildSpec`], [`SchemeConfig`] chooses the naming scheme by name,
//! [`Kiln::doctor`] tells what kiln can see, and [`Kiln::images`] and [`Kiln::prune_images`]
//! keep the images kiln built in check.

pub mod bake;
mod bases;
mod build;
mod builder;
pub mod config;
mod doctor;
pub mod experiment;
pub mod images;
mod input;
mod kiln;
mod multi;
mod plan;
mod publish;
mod relay;
mod resolve;
mod secrets;
mod single;
#[cfg(test)]
mod tests;

pub use bases::{BasesListing, TierBuild, TierListing, TierStatus};
pub use config::Config;
pub use doctor::{CacheDiagnosis, DaemonDiagnosis, Diagnosis, EmulatorDiagnosis};
pub use images::{
    FailedImage, ImageListing, ImagePruneReport, ImageSelection, KeepReason, KeptImage, KilnImage,
};
pub use input::SpecInput;
pub use kiln::{CacheStats, Kiln, KilnBuilder, KilnEngine};
pub use kiln_cache::prune;
pub use kiln_cache::{
    LevelStats, PruneLimits, PruneReason, PruneReport, PrunedRecord, Source, SourcedAnswer,
};
pub use kiln_core::fingerprint::{Change, FINGERPRINT_LABEL, Fingerprint, How, InputStats};
pub use kiln_core::{
    BuildEvent, BuildMode, BuildReport, BuildSpec, BuilderChoice, BuilderKind, EngineInfo, Env,
    Error, ErrorKind, EventSink, ImageEngine, ImageRef, MapEnv, Outcome, Platform, ProcessEnv,
    Result, RuntimeMode, TagInput, TagScheme, parse_build_arg,
};
pub use kiln_docker::registry::install_default_crypto_provider;
pub use kiln_docker::{Endpoint, EndpointSource, resolve_endpoint};
pub use kiln_schemes::{self as schemes, PantherScheme, SCHEME_NAMES, SchemeConfig};
pub use plan::{Action, DaemonState, Plan};

/// kiln's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
