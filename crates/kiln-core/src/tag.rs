//! Tag schemes: how an implementation, its version, modes and platform become an image name.
//!
//! The trait and its input live here; the schemes themselves (PANTHER's, SeBS's) live in the
//! `kiln-schemes` crate, each with its own settings beside the shared input.

use std::fmt::Debug;

use crate::error::Error;
use crate::mode::{BuildMode, RuntimeMode};
use crate::platform::Platform;
use crate::reference::ImageRef;
use crate::spec::BuildSpec;

/// The facts a tag scheme names an image from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TagInput {
    /// The implementation (or benchmark) name.
    pub name: String,
    /// Its version.
    pub version: Option<String>,
    /// The tag's version part (`latest`).
    pub tag_version: String,
    /// The build mode.
    pub build_mode: BuildMode,
    /// The runtime mode.
    pub runtime_mode: RuntimeMode,
    /// The target platform, when one was asked for explicitly.
    pub platform: Option<Platform>,
}

impl TagInput {
    /// Input for `name` with every other part at its default.
    pub fn new(name: impl Into<String>) -> Self {
        TagInput {
            name: name.into(),
            version: None,
            tag_version: "latest".to_owned(),
            build_mode: BuildMode::Default,
            runtime_mode: RuntimeMode::Minimal,
            platform: None,
        }
    }

    /// The tag input of a build spec.
    pub fn from_spec(spec: &BuildSpec) -> Self {
        TagInput {
            name: spec.name.clone(),
            version: spec.version.clone(),
            tag_version: spec.tag_version.clone(),
            build_mode: spec.build_mode,
            runtime_mode: spec.runtime_mode,
            platform: spec.platform.clone(),
        }
    }
}

/// Turns a [`TagInput`] into a valid image reference.
pub trait TagScheme: Send + Sync + Debug {
    /// The scheme's name, for logs.
    fn name(&self) -> &'static str;

    /// The reference for `input`. Always a valid reference, or an error — never a bad tag.
    fn image_ref(&self, input: &TagInput) -> Result<ImageRef, Error>;
}
