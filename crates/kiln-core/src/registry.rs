//! The `Registry` trait: questions asked of a registry directly, without pulling.

use std::collections::BTreeMap;
use std::fmt::Debug;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::credentials::Credentials;
use crate::error::Result;
use crate::platform::Platform;
use crate::reference::ImageRef;

/// What a registry holds under a reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteImage {
    /// The manifest (or index) digest.
    pub digest: String,
    /// The platforms of an image index; empty for a single-platform manifest.
    pub platforms: Vec<Platform>,
    /// Labels of the image config (for an index: of the platform asked for, else the first).
    pub labels: BTreeMap<String, String>,
}

/// One platform's manifest in an image index kiln publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// The manifest's digest, in the same repository as the index.
    pub digest: String,
    /// The platform it is for.
    pub platform: Platform,
}

/// A registry, asked directly (manifest `HEAD`/`GET`), never by pulling.
///
/// Errors are told apart: [`Error::AuthRefused`](crate::Error::AuthRefused) when credentials are
/// refused or missing, [`Error::Unreachable`](crate::Error::Unreachable) when the registry does
/// not answer; an absent tag is `Ok(None)`.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Registry: Send + Sync + Debug + 'static {
    /// The manifest digest of `image`, by a `HEAD` request; `None` when the tag is absent.
    async fn head(
        &self,
        image: &ImageRef,
        credentials: Option<Credentials>,
    ) -> Result<Option<String>>;

    /// The manifest, its platforms and the image config's labels; `None` when absent.
    async fn describe(
        &self,
        image: &ImageRef,
        credentials: Option<Credentials>,
        platform: Option<Platform>,
    ) -> Result<Option<RemoteImage>>;

    /// Publishes an image index (manifest list) under `image` that lists `entries`, which must
    /// be manifests of the same repository; returns the index's digest.
    async fn publish_index(
        &self,
        image: &ImageRef,
        credentials: Option<Credentials>,
        entries: Vec<IndexEntry>,
    ) -> Result<String>;
}
