//! The `ImageEngine` trait: everything kiln asks of a container engine, and the values it trades.

use std::collections::BTreeMap;
use std::fmt::{self, Debug};
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::context::ContextSource;
use crate::credentials::Credentials;
use crate::digest::{Digest, ImageId};
use crate::error::Result;
use crate::event::EventSink;
use crate::image_list::{ImageFilter, ImageSummary};
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
    /// Images whose inline layer cache BuildKit may reuse (the classic builder ignores them).
    pub cache_from: Vec<ImageRef>,
    /// Credentials the daemon may ask for during the build (a private base or cache source),
    /// by registry domain.
    pub registry_credentials: Vec<(String, Credentials)>,
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
            .field("cache_from", &self.cache_from)
            .field(
                "registry_credentials",
                &self
                    .registry_credentials
                    .iter()
                    .map(|(domain, _)| domain)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// How to push an image: with which credentials, reporting progress where.
///
/// `#[non_exhaustive]`: made with [`PushOptions::new`] (or `default()`) and the builder methods.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PushOptions {
    /// The registry credentials; `None` to push anonymously.
    pub credentials: Option<Credentials>,
    /// Where each layer's progress goes.
    pub events: EventSink,
}

impl PushOptions {
    /// Anonymous, progress discarded.
    pub fn new() -> Self {
        PushOptions::default()
    }

    /// Pushes with `credentials` (`None`: anonymously).
    pub fn credentials(mut self, credentials: Option<Credentials>) -> Self {
        self.credentials = credentials;
        self
    }

    /// Reports progress to `events`.
    pub fn events(mut self, events: EventSink) -> Self {
        self.events = events;
        self
    }
}

/// How to pull an image: with which credentials, reporting progress where.
///
/// `#[non_exhaustive]`: made with [`PullOptions::new`] (or `default()`) and the builder methods.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PullOptions {
    /// The registry credentials; `None` to pull anonymously.
    pub credentials: Option<Credentials>,
    /// Where each layer's progress goes.
    pub events: EventSink,
}

impl PullOptions {
    /// Anonymous, progress discarded.
    pub fn new() -> Self {
        PullOptions::default()
    }

    /// Pulls with `credentials` (`None`: anonymously).
    pub fn credentials(mut self, credentials: Option<Credentials>) -> Self {
        self.credentials = credentials;
        self
    }

    /// Reports progress to `events`.
    pub fn events(mut self, events: EventSink) -> Self {
        self.events = events;
        self
    }
}

/// How to remove a tag.
///
/// `#[non_exhaustive]`: made with [`RemoveOptions::new`] (or `default()`) and the builder methods.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RemoveOptions {
    /// Remove even when containers use the image or other tags point at it.
    pub force: bool,
}

impl RemoveOptions {
    /// Not forced.
    pub fn new() -> Self {
        RemoveOptions::default()
    }

    /// Forces the removal (or not).
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }
}

/// What a successful build produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuiltImage {
    /// The image id.
    pub image_id: ImageId,
    /// Warnings the builder printed.
    pub warnings: Vec<String>,
}

/// What a push published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedImage {
    /// The reference pushed.
    #[serde(rename = "ref")]
    pub reference: ImageRef,
    /// The manifest digest the registry stored.
    pub digest: Digest,
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
    pub digest: Option<Digest>,
    /// The local image id.
    pub image_id: ImageId,
}

/// What the engine knows about one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageDetails {
    /// The image id.
    pub id: ImageId,
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

    /// Looks an image up by id. `Ok(None)` means the engine does not have it.
    async fn inspect_id(&self, image_id: &ImageId) -> Result<Option<ImageDetails>>;

    /// Points `target` at the image `source`.
    /// Fails with [`Error::ImageNotFound`](crate::Error::ImageNotFound) when it does not exist.
    async fn tag(&self, source: &ImageId, target: &ImageRef) -> Result<()>;

    /// Removes the tag `image`, and the image once no tag is left.
    /// Fails with [`Error::ImageNotFound`](crate::Error::ImageNotFound) when it does not exist.
    async fn remove(&self, image: &ImageRef, options: RemoveOptions) -> Result<()>;

    /// Removes the image `image_id` with its tag, as `docker rmi <id>` does. Unless forced, the
    /// engine refuses (an [`Error::Engine`](crate::Error::Engine)) an image that a container
    /// uses, that other images are built on, or that more than one tag names (remove the tags
    /// first). Fails with [`Error::ImageNotFound`](crate::Error::ImageNotFound) when it does
    /// not exist.
    async fn remove_id(&self, image_id: &ImageId, options: RemoveOptions) -> Result<()>;

    /// The images `filter` admits, each with the number of containers (running or stopped)
    /// created from it.
    async fn list_images(&self, filter: ImageFilter) -> Result<Vec<ImageSummary>>;

    /// Pushes `image` to its registry, reporting each layer's progress to `options.events`.
    async fn push(&self, image: &ImageRef, options: PushOptions) -> Result<PushedImage>;

    /// Pulls `image` from its registry, reporting each layer's progress to `options.events`.
    async fn pull(&self, image: &ImageRef, options: PullOptions) -> Result<Pulled>;
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

/// Forwards every method to the engine behind a pointer (`Arc<E>`, `Box<E>`, either of
/// `dyn ImageEngine`), so that a shared or boxed engine is an engine.
macro_rules! forward_image_engine {
    ($pointer:ident) => {
        #[async_trait]
        impl<E: ImageEngine + ?Sized> ImageEngine for $pointer<E> {
            async fn info(&self) -> Result<EngineInfo> {
                (**self).info().await
            }

            async fn build(&self, request: BuildRequest) -> Result<BuiltImage> {
                (**self).build(request).await
            }

            async fn inspect(&self, image: &ImageRef) -> Result<Option<ImageDetails>> {
                (**self).inspect(image).await
            }

            async fn inspect_id(&self, image_id: &ImageId) -> Result<Option<ImageDetails>> {
                (**self).inspect_id(image_id).await
            }

            async fn tag(&self, source: &ImageId, target: &ImageRef) -> Result<()> {
                (**self).tag(source, target).await
            }

            async fn remove(&self, image: &ImageRef, options: RemoveOptions) -> Result<()> {
                (**self).remove(image, options).await
            }

            async fn remove_id(&self, image_id: &ImageId, options: RemoveOptions) -> Result<()> {
                (**self).remove_id(image_id, options).await
            }

            async fn list_images(&self, filter: ImageFilter) -> Result<Vec<ImageSummary>> {
                (**self).list_images(filter).await
            }

            async fn push(&self, image: &ImageRef, options: PushOptions) -> Result<PushedImage> {
                (**self).push(image, options).await
            }

            async fn pull(&self, image: &ImageRef, options: PullOptions) -> Result<Pulled> {
                (**self).pull(image, options).await
            }
        }
    };
}

forward_image_engine!(Arc);
forward_image_engine!(Box);

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::{FakeEngine, MemoryContext};

    /// Builds, tags and inspects through any engine, generic code's way.
    async fn build_and_tag<E: ImageEngine>(engine: &E) -> (ImageId, ImageDetails) {
        let first = ImageRef::parse("kiln-dyn:one").unwrap();
        let second = ImageRef::parse("kiln-dyn:two").unwrap();
        let built = engine
            .build(BuildRequest {
                context: Arc::new(MemoryContext::new().file("Dockerfile", "FROM scratch")),
                dockerfile: "Dockerfile".into(),
                tags: vec![first],
                build_args: BTreeMap::new(),
                target: None,
                platform: None,
                labels: BTreeMap::new(),
                builder: BuilderKind::Classic,
                no_cache: false,
                cache_from: Vec::new(),
                registry_credentials: Vec::new(),
                events: EventSink::discard(),
            })
            .await
            .unwrap();
        engine.tag(&built.image_id, &second).await.unwrap();
        let details = engine.inspect(&second).await.unwrap().unwrap();
        engine
            .remove(&second, RemoveOptions::new().force(true))
            .await
            .unwrap();
        (built.image_id, details)
    }

    #[tokio::test]
    async fn an_arc_dyn_engine_is_an_engine() {
        let fake = FakeEngine::new();
        let engine: DynImageEngine = Arc::new(fake.clone());
        let (id, details) = build_and_tag(&engine).await;
        assert_eq!(details.id, id);
        assert_eq!(
            fake.calls().tag,
            1,
            "the call reached the engine behind the Arc"
        );
    }

    #[tokio::test]
    async fn a_boxed_dyn_engine_is_an_engine() {
        let fake = FakeEngine::new();
        let engine: Box<dyn ImageEngine> = Box::new(fake.clone());
        let (id, details) = build_and_tag(&engine).await;
        assert_eq!(details.id, id);
        assert_eq!(
            fake.calls().remove,
            1,
            "the call reached the engine behind the Box"
        );
    }

    #[test]
    fn options_start_empty_and_builders_set_them() {
        let push = PushOptions::new();
        assert!(push.credentials.is_none());
        let credentials = Credentials::password("user", "secret");
        let push = push.credentials(Some(credentials.clone()));
        assert_eq!(push.credentials, Some(credentials.clone()));
        let pull = PullOptions::default().credentials(Some(credentials.clone()));
        assert_eq!(pull.credentials, Some(credentials));
        assert!(!RemoveOptions::new().force);
        assert!(RemoveOptions::new().force(true).force);
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
