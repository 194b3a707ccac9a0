//! The `ImageEngine` trait: everything kiln asks of a container engine, and the values it trades.

use std::collections::BTreeMap;
use std::fmt::{self, Debug};
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::context::ContextSource;
use crate::credentials::Credentials;
use crate::error::Result;
use crate::event::EventSink;
use crate::platform::Platform;
use crate::reference::ImageRef;

/// Which builder runs a build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BuilderKind {
    /// The daemon's classic builder.
    #[default]
    Classic,
    /// BuildKit, through the daemon's session or a buildx builder.
    Buildkit,
}

impl BuilderKind {
    /// The builder's name as kiln prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            BuilderKind::Classic => "classic",
            BuilderKind::Buildkit => "buildkit",
        }
    }
}

impl fmt::Display for BuilderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One build, fully resolved: names chosen, args merged, context prepared.
#[derive(Clone)]
pub struct BuildRequest {
    /// The context to send.
    pub context: Arc<dyn ContextSource>,
    /// The Dockerfile's path inside the context archive.
    pub dockerfile: String,
    /// The tags the image gets; the first is the primary one.
    pub tags: Vec<ImageRef>,
    /// Build args, already merged (defaults, then the user's).
    pub build_args: BTreeMap<String, String>,
    /// The target stage, if not the last.
    pub target: Option<String>,
    /// The target platform, if not the daemon's default.
    pub platform: Option<Platform>,
    /// Labels added to the image.
    pub labels: BTreeMap<String, String>,
    /// The builder to use.
    pub builder: BuilderKind,
    /// Do not use the builder's layer cache.
    pub no_cache: bool,
    /// Where progress goes.
    pub events: EventSink,
}

impl Debug for BuildRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Build arg values are left out: some may be secrets.
        f.debug_struct("BuildRequest")
            .field("context", &self.context)
            .field("dockerfile", &self.dockerfile)
            .field("tags", &self.tags)
            .field("build_args", &self.build_args.keys().collect::<Vec<_>>())
            .field("target", &self.target)
            .field("platform", &self.platform)
            .field("labels", &self.labels)
            .field("builder", &self.builder)
            .field("no_cache", &self.no_cache)
            .finish()
    }
}

/// What a successful build produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuiltImage {
    /// The image id (`sha256:...`).
    pub image_id: String,
    /// Warnings the builder printed.
    pub warnings: Vec<String>,
}

/// What a push published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedImage {
    /// The reference pushed.
    #[serde(rename = "ref")]
    pub reference: ImageRef,
    /// The manifest digest the registry stored (`sha256:...`).
    pub digest: String,
    /// The manifest's size in bytes, as the daemon reports it.
    pub size: u64,
}

/// What a pull fetched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pulled {
    /// The reference pulled.
    #[serde(rename = "ref")]
    pub reference: ImageRef,
    /// The manifest digest, when the daemon reported one.
    pub digest: Option<String>,
    /// The local image id.
    pub image_id: String,
}

/// What the engine knows about one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ImageDetails {
    /// The image id (`sha256:...`).
    pub id: String,
    /// The tags pointing at it.
    pub repo_tags: Vec<String>,
    /// Registry digests (`repo@sha256:...`) known for it.
    pub repo_digests: Vec<String>,
    /// Size in bytes.
    pub size: u64,
    /// Creation time as the engine reports it (RFC 3339).
    pub created: String,
    /// `os` of the image config.
    pub os: String,
    /// `architecture` of the image config.
    pub architecture: String,
    /// `variant` of the image config, if any.
    pub variant: Option<String>,
    /// Labels of the image config.
    pub labels: BTreeMap<String, String>,
}

/// What the engine says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct EngineInfo {
    /// Where the engine was reached (`unix:///var/run/docker.sock`).
    pub endpoint: String,
    /// The engine's version (`20.10.24`).
    pub version: String,
    /// The API version in use.
    pub api_version: String,
    /// The engine's operating system.
    pub os: String,
    /// The engine's architecture (normalised: `amd64`).
    pub architecture: String,
    /// Whether the engine can build with BuildKit.
    pub buildkit: bool,
}

/// A container engine that builds and stores images.
///
/// Object safe: upper layers hold an `Arc<dyn ImageEngine>`. Every method is a single round of
/// work with the engine; caching, de-duplication and policy live in decorators and callers.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ImageEngine: Send + Sync + Debug + 'static {
    /// Checks that the engine answers and describes it.
    async fn info(&self) -> Result<EngineInfo>;

    /// Builds an image and tags it with every tag of the request.
    async fn build(&self, request: BuildRequest) -> Result<BuiltImage>;

    /// Looks an image up by reference. `Ok(None)` means the engine does not have it.
    async fn inspect(&self, image: &ImageRef) -> Result<Option<ImageDetails>>;

    /// Looks an image up by id (`sha256:...`). `Ok(None)` means the engine does not have it.
    async fn inspect_id(&self, image_id: &str) -> Result<Option<ImageDetails>>;

    /// Points `target` at the image `source` (an image id or a reference).
    async fn tag(&self, source: &str, target: &ImageRef) -> Result<()>;

    /// Removes the tag `image`, and the image once no tag is left.
    /// Fails with [`Error::ImageNotFound`](crate::Error::ImageNotFound) when it does not exist.
    async fn remove(&self, image: &ImageRef, force: bool) -> Result<()>;

    /// Pushes `image` to its registry, reporting each layer's progress to `events`.
    async fn push(
        &self,
        image: &ImageRef,
        credentials: Option<Credentials>,
        events: EventSink,
    ) -> Result<PushedImage>;

    /// Pulls `image` from its registry, reporting each layer's progress to `events`.
    async fn pull(
        &self,
        image: &ImageRef,
        credentials: Option<Credentials>,
        events: EventSink,
    ) -> Result<Pulled>;
}

/// Conveniences over [`ImageEngine`], implemented for every engine.
#[async_trait]
pub trait ImageEngineExt: ImageEngine {
    /// Whether the engine has the image.
    async fn exists(&self, image: &ImageRef) -> Result<bool> {
        Ok(self.inspect(image).await?.is_some())
    }
}

impl<E: ImageEngine + ?Sized> ImageEngineExt for E {}

/// A shared engine handle.
pub type DynImageEngine = Arc<dyn ImageEngine>;

#[async_trait]
impl<E: ImageEngine + ?Sized> ImageEngine for Arc<E> {
    async fn info(&self) -> Result<EngineInfo> {
        (**self).info().await
    }

    async fn build(&self, request: BuildRequest) -> Result<BuiltImage> {
        (**self).build(request).await
    }

    async fn inspect(&self, image: &ImageRef) -> Result<Option<ImageDetails>> {
        (**self).inspect(image).await
    }

    async fn inspect_id(&self, image_id: &str) -> Result<Option<ImageDetails>> {
        (**self).inspect_id(image_id).await
    }

    async fn tag(&self, source: &str, target: &ImageRef) -> Result<()> {
        (**self).tag(source, target).await
    }

    async fn remove(&self, image: &ImageRef, force: bool) -> Result<()> {
        (**self).remove(image, force).await
    }

    async fn push(
        &self,
        image: &ImageRef,
        credentials: Option<Credentials>,
        events: EventSink,
    ) -> Result<PushedImage> {
        (**self).push(image, credentials, events).await
    }

    async fn pull(
        &self,
        image: &ImageRef,
        credentials: Option<Credentials>,
        events: EventSink,
    ) -> Result<Pulled> {
        (**self).pull(image, credentials, events).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn takes_generic_engine<E: ImageEngine>(_engine: &E) {}

    #[test]
    fn dyn_engine_meets_generic_bounds() {
        let engine: DynImageEngine = Arc::new(crate::testing::FakeEngine::new());
        takes_generic_engine(&engine);
    }

    #[test]
    fn builder_kind_serialises_lowercase() {
        assert_eq!(
            serde_json::to_string(&BuilderKind::Buildkit).unwrap(),
            "\"buildkit\""
        );
        assert_eq!(BuilderKind::Classic.to_string(), "classic");
    }
}
