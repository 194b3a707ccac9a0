//! kiln-schemes: the tag schemes that name images — PANTHER's and SeBS's.
//!
//! The [`TagScheme`](kiln_core::TagScheme) trait and its shared input
//! ([`TagInput`](kiln_core::TagInput)) live in kiln-core; each scheme here keeps the settings
//! only it needs in its own struct.
//!
//! - [`panther`] — [`PantherScheme`], kiln's default: `{impl}[-{version}]:{tag_version}...`.
//! - [`sebs`] — the serverless benchmark suite's names: infrastructure images, benchmark images,
//!   and their copies in ECR, Artifact Registry, any registry or Docker Hub.
//! - [`config`] — [`SchemeConfig`]: a scheme chosen by name with its settings as strings, as
//!   the CLI and kiln's configuration file give them.

pub mod config;
pub mod panther;
pub mod sebs;

pub use config::{SCHEME_NAMES, SEBS_REPOSITORY, SchemeConfig};
pub use panther::PantherScheme;
pub use sebs::{
    BenchmarkScheme, InfrastructureScheme, RegistryName, SebsNaming, SebsRegistry, parse_sebs_arch,
    sebs_arch,
};
