//! The catalogue of base tiers: a versioned TOML file, read with the place of every value so
//! that each mistake is an [`Error::InvalidCatalogue`] naming its line and column.
//!
//! ```toml
//! version = 1
//! capabilities = ["runtime", "networking", "debugging", "compilation", "profiling"]
//!
//! [[tier]]
//! name = "runtime"
//! context = "bases/runtime"          # relative to the catalogue's directory
//! capabilities = ["runtime", "networking"]
//! max_size_mb = 150                  # megabytes of 1 000 000 bytes, as `docker images` counts
//! platforms = ["linux/amd64", "linux/arm64"]
//! probes = { networking = "nc -h" }  # run with /bin/sh -c in a container of the built tier
//!
//! [[tier]]
//! name = "dev"
//! context = "bases/dev"
//! from = "runtime"                   # built FROM ${BASE_IMAGE}: the parent's image, pinned
//! capabilities = ["+debugging", "+compilation"]
//! max_size_mb = 300
//!
//! [plugins]
//! picoquic = ["networking", "compilation"]
//!
//! [modes]                            # absent: debug and debug-asan need debugging,
//! debug = ["debugging"]              # release-static-pgo needs profiling
//! ```
//!
//! What the reader decides beyond the example:
//!
//! - **The vocabulary is closed**: every capability a tier claims, a probe proves, a plugin or a
//!   build mode needs must be listed in `capabilities` (lower-case letters, digits, `-`, `_`).
//! - **Parents**: `from` names another tier; no tier is its own ancestor. A tier with a parent
//!   writes its capabilities either all with `+` (added to the parent's) or all without (the
//!   whole set); `+` needs a parent. Its `platforms` default to the parent's and may not name
//!   one the parent lacks; a root tier lists at least one. Its size limit is at least its
//!   parent's (an image built on another is at least as large). Probes are inherited for the
//!   capabilities the tier keeps, and may be replaced.
//! - **Probes** name a capability the tier has.
//! - **Images**: a tier is tagged `<image>:<os>-<arch>[-<variant>]` per platform; `image`
//!   defaults to `base-<name>` and, like the name, is lower-case letters, digits, `.`, `_`, `-`.
//! - **Order**: tiers are kept smallest first (by size limit, parents before children, then
//!   file order): the order strategies try them in.

mod place;
mod raw;
mod tables;
#[cfg(test)]
mod tests;
mod tiers;

pub use tiers::{directory_at, resolve_path};

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use kiln_core::{BuildMode, ImageRef, Platform};
use serde::Serialize;
use toml::Spanned;

use crate::error::{Error, Result};
use place::Source;
use raw::RawCatalogue;

/// The one version of the format this reader knows.
pub const CATALOGUE_VERSION: i64 = 1;

/// Bytes in one of `max_size_mb`'s megabytes.
pub const MEGABYTE: u64 = 1_000_000;

/// A place in the catalogue file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Location {
    /// The line, from 1.
    pub line: usize,
    /// The column, from 1.
    pub column: usize,
}

/// One tier, checked, with what it inherits resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Tier {
    /// Its name.
    pub name: String,
    /// The repository its builds are tagged in, as `<image>:latest`.
    pub image: ImageRef,
    /// Its build context, resolved against the catalogue's directory.
    pub context: PathBuf,
    /// Its Dockerfile, resolved against the context (`None`: the context's `Dockerfile`).
    pub dockerfile: Option<PathBuf>,
    /// The tier it is built on, passed to its Dockerfile as `BASE_IMAGE`.
    pub from: Option<String>,
    /// Every capability it claims, inherited ones included.
    pub capabilities: BTreeSet<String>,
    /// Its size limit, in bytes.
    pub max_size: u64,
    /// The platforms it is built for.
    pub platforms: Vec<Platform>,
    /// The command that proves each capability (run with `/bin/sh -c`), inherited ones
    /// included; capabilities without one are claimed but not proven.
    pub probes: BTreeMap<String, String>,
    /// Where its `name` is written.
    pub at: Location,
    /// Where its `from` is written, when it has a parent.
    pub from_at: Option<Location>,
}

impl Tier {
    /// Whether the catalogue builds the tier for `platform`.
    pub fn supports(&self, platform: &Platform) -> bool {
        self.platforms.contains(platform)
    }
}

/// A checked catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Catalogue {
    /// The file it was read from.
    pub path: PathBuf,
    /// The vocabulary, in file order.
    pub capabilities: Vec<String>,
    /// The tiers, smallest first (parents before their children).
    pub tiers: Vec<Tier>,
    /// What each plugin needs.
    pub plugins: BTreeMap<String, BTreeSet<String>>,
    /// What each build mode needs (modes not listed need nothing).
    pub mode_needs: BTreeMap<BuildMode, BTreeSet<String>>,
}

impl Catalogue {
    /// Reads and checks the catalogue at `path`.
    pub fn load(path: &Path) -> Result<Catalogue> {
        let text = std::fs::read_to_string(path).map_err(|error| Error::Unreadable {
            path: path.to_owned(),
            problem: error.to_string(),
        })?;
        Catalogue::parse(&text, path)
    }

    /// Checks the catalogue text `text`, read from `path`: relative paths in it resolve
    /// against `path`'s directory. Every problem is an [`Error::InvalidCatalogue`] naming its
    /// line and column.
    pub fn parse(text: &str, path: &Path) -> Result<Catalogue> {
        let source = Source { path, text };
        let raw: RawCatalogue = toml::from_str(text).map_err(|error| source.toml_error(&error))?;
        check_version(&source, raw.version.as_ref())?;
        let vocabulary = tables::vocabulary(&source, raw.capabilities.as_ref())?;
        let base = path.parent().unwrap_or(Path::new(""));
        let tiers = tiers::read_all(&source, &raw.tiers, &vocabulary, base)?;
        let plugins = tables::plugins(&source, &raw.plugins, &vocabulary)?;
        let mode_needs = tables::modes(&source, raw.modes.as_ref(), &vocabulary)?;
        Ok(Catalogue {
            path: path.to_owned(),
            capabilities: vocabulary.in_order,
            tiers,
            plugins,
            mode_needs,
        })
    }

    /// The tier named `name`.
    pub fn tier(&self, name: &str) -> Option<&Tier> {
        self.tiers.iter().find(|tier| tier.name == name)
    }

    /// Whether `capability` is in the vocabulary.
    pub fn knows(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|known| known == capability)
    }

    /// `tier` and its ancestors, the root first.
    pub fn lineage<'a>(&'a self, tier: &'a Tier) -> Vec<&'a Tier> {
        let mut chain = vec![tier];
        let mut current = tier;
        while let Some(parent) = current.from.as_deref().and_then(|name| self.tier(name)) {
            // Checked acyclic when read; the bound only guards against a hand-built catalogue.
            if chain.len() > self.tiers.len() {
                break;
            }
            chain.push(parent);
            current = parent;
        }
        chain.reverse();
        chain
    }

    /// What `mode` needs.
    pub fn needs_of_mode(&self, mode: BuildMode) -> BTreeSet<String> {
        self.mode_needs.get(&mode).cloned().unwrap_or_default()
    }

    /// The reference `tier` is tagged with when built for `platform`:
    /// `<image>:<os>-<arch>[-<variant>]`, or `<image>:latest` for the build's default platform.
    pub fn reference(&self, tier: &Tier, platform: Option<&Platform>) -> ImageRef {
        match platform {
            // A platform's tag is lower-case letters, digits and `-`: always a valid tag.
            Some(platform) => tier
                .image
                .with_tag(&platform_tag(platform))
                .unwrap_or_else(|_| tier.image.clone()),
            None => tier.image.clone(),
        }
    }

    /// An [`Error::InvalidCatalogue`] at `at` in this catalogue (for checks made by callers,
    /// such as a tier's Dockerfile that must declare `BASE_IMAGE`).
    pub fn error_at(&self, at: Location, problem: impl Into<String>) -> Error {
        Error::InvalidCatalogue {
            path: self.path.clone(),
            line: at.line,
            column: at.column,
            problem: problem.into(),
        }
    }
}

/// `linux/arm/v7` as a tag: `linux-arm-v7`.
pub fn platform_tag(platform: &Platform) -> String {
    platform.to_string().replace('/', "-")
}

/// The file says `version = 1`.
fn check_version(source: &Source<'_>, version: Option<&Spanned<toml::Value>>) -> Result<()> {
    let Some(version) = version else {
        return Err(source.error(
            &(0..0),
            format!("no version: expected `version = {CATALOGUE_VERSION}` at the top of the file"),
        ));
    };
    let shown = match version.get_ref() {
        toml::Value::Integer(CATALOGUE_VERSION) => return Ok(()),
        toml::Value::Integer(number) => number.to_string(),
        toml::Value::String(text) => format!("{text:?}"),
        other => format!("(a TOML {})", other.type_str()),
    };
    Err(source.error(
        &version.span(),
        format!(
            "version {shown}: expected {CATALOGUE_VERSION}, the only version of the catalogue \
             format this kiln reads"
        ),
    ))
}
