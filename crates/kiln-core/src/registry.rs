//! The `Registry` trait: questions asked of a registry directly, without pulling.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::credentials::Credentials;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::platform::Platform;
use crate::reference::ImageRef;

/// What a registry holds under a reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteImage {
    /// The manifest (or index) digest.
    pub digest: Digest,
    /// The platforms of an image index; empty for a single-platform manifest.
    pub platforms: Vec<Platform>,
    /// Labels of the image config (for an index: of the platform asked for, else the first).
    pub labels: BTreeMap<String, String>,
}

/// One platform's manifest in an image index kiln publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// The manifest's digest, in the same repository as the index.
    pub digest: Digest,
    /// The platform it is for.
    pub platform: Platform,
}

/// How to ask a registry: with which credentials and, for [`Registry::describe`], about which
/// platform of an index.
///
/// `#[non_exhaustive]`: made with [`RegistryOptions::new`] (or `default()`) and the builder
/// methods.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegistryOptions {
    /// The registry credentials; `None` to ask anonymously.
    pub credentials: Option<Credentials>,
    /// The platform whose config [`Registry::describe`] reads from an index (else the first);
    /// ignored by the other methods.
    pub platform: Option<Platform>,
}

impl RegistryOptions {
    /// Anonymous, no platform.
    pub fn new() -> Self {
        RegistryOptions::default()
    }

    /// Asks with `credentials` (`None`: anonymously).
    pub fn credentials(mut self, credentials: Option<Credentials>) -> Self {
        self.credentials = credentials;
        self
    }

    /// Describes the `platform` entry of an index (`None`: the first).
    pub fn platform(mut self, platform: Option<Platform>) -> Self {
        self.platform = platform;
        self
    }
}

/// A registry, asked directly (manifest `HEAD`/`GET`), never by pulling.
///
/// Errors are told apart: [`Error::AuthRefused`] when credentials are
/// refused or missing, [`Error::Unreachable`] when the registry does
/// not answer; an absent tag is `Ok(None)`.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Registry: Send + Sync + Debug + 'static {
    /// The manifest digest of `image`, by a `HEAD` request; `None` when the tag is absent.
    async fn head(&self, image: &ImageRef, options: RegistryOptions) -> Result<Option<Digest>>;

    /// The manifest, its platforms and the image config's labels (of `options.platform` for
    /// an index); `None` when absent.
    async fn describe(
        &self,
        image: &ImageRef,
        options: RegistryOptions,
    ) -> Result<Option<RemoteImage>>;

    /// Publishes an image index (manifest list) under `image` that lists `entries`, which must
    /// be manifests of the same repository; returns the index's digest.
    async fn publish_index(
        &self,
        image: &ImageRef,
        entries: Vec<IndexEntry>,
        options: RegistryOptions,
    ) -> Result<Digest>;

    /// Points `to` at the manifest `from` names (in any repository of the same registry)
    /// without uploading a blob: every blob the manifest references (config and layers; for an
    /// index, each child manifest and its blobs) is made available in `to`'s repository by a
    /// cross-repository mount or found there already, then the manifest's bytes are put under
    /// `to`'s tag unchanged (same media type, so the same digest); returns the manifest's digest.
    /// A tag `to` already names is moved.
    ///
    /// Errors: [`Error::ImageNotFound`] when `from` is absent,
    /// [`Error::InvalidInput`] when `to` is in another registry or is
    /// no tag (see [`check_copy`]), [`Error::BlobNotMounted`] when
    /// the registry would not mount a blob (kiln never streams blobs through itself).
    async fn copy(
        &self,
        from: &ImageRef,
        to: &ImageRef,
        options: RegistryOptions,
    ) -> Result<Digest>;
}

/// Whether [`Registry::copy`] can point `to` at `from`: both in the same registry, and `to` a
/// tag (not a digest).
///
/// # Errors
///
/// [`Error::InvalidInput`] naming both references when they are in different registries, or
/// naming `to` when it carries a digest.
pub fn check_copy(from: &ImageRef, to: &ImageRef) -> Result<()> {
    if from.domain() != to.domain() {
        return Err(Error::invalid_input(
            "copy target",
            to.to_string(),
            format!(
                "a reference in the registry of the source {from} ({}): a copy never leaves its \
                 registry",
                from.domain()
            ),
        ));
    }
    if to.digest().is_some() || to.tag().is_none() {
        return Err(Error::invalid_input(
            "copy target",
            to.to_string(),
            "a tag to write, without a digest",
        ));
    }
    Ok(())
}

/// Forwards every method to the registry behind a pointer (`Arc<R>`, `Box<R>`).
macro_rules! forward_registry {
    ($pointer:ident) => {
        #[async_trait]
        impl<R: Registry + ?Sized> Registry for $pointer<R> {
            async fn head(
                &self,
                image: &ImageRef,
                options: RegistryOptions,
            ) -> Result<Option<Digest>> {
                (**self).head(image, options).await
            }

            async fn describe(
                &self,
                image: &ImageRef,
                options: RegistryOptions,
            ) -> Result<Option<RemoteImage>> {
                (**self).describe(image, options).await
            }

            async fn publish_index(
                &self,
                image: &ImageRef,
                entries: Vec<IndexEntry>,
                options: RegistryOptions,
            ) -> Result<Digest> {
                (**self).publish_index(image, entries, options).await
            }

            async fn copy(
                &self,
                from: &ImageRef,
                to: &ImageRef,
                options: RegistryOptions,
            ) -> Result<Digest> {
                (**self).copy(from, to, options).await
            }
        }
    };
}

forward_registry!(Arc);
forward_registry!(Box);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{ImageEngine, PushOptions};
    use crate::testing::FakeEngine;

    /// Pushes one image into the fake registry and returns its digest.
    async fn pushed(fake: &FakeEngine, image: &ImageRef) -> Digest {
        let request = crate::testing::conformance::request("dyn", vec![image.clone()], None);
        fake.build(request).await.unwrap();
        fake.push(image, PushOptions::new()).await.unwrap().digest
    }

    /// Asks any registry, generic code's way.
    async fn head_of<R: Registry>(registry: &R, image: &ImageRef) -> Option<Digest> {
        registry.head(image, RegistryOptions::new()).await.unwrap()
    }

    #[test]
    fn a_copy_stays_in_its_registry_and_writes_a_tag() {
        let from = ImageRef::parse("reg:5000/bench-cache:kiln-abc").unwrap();
        assert!(check_copy(&from, &ImageRef::parse("reg:5000/bench/app:v1").unwrap()).is_ok());
        let elsewhere = ImageRef::parse("other:5000/bench/app:v1").unwrap();
        let error = check_copy(&from, &elsewhere).unwrap_err();
        let text = error.to_string();
        assert!(matches!(error, Error::InvalidInput { .. }), "{error:?}");
        assert!(text.contains("other:5000/bench/app:v1"), "{text}");
        assert!(text.contains("reg:5000/bench-cache:kiln-abc"), "{text}");
        let pinned =
            ImageRef::parse(&format!("reg:5000/bench/app@sha256:{}", "a".repeat(64))).unwrap();
        let error = check_copy(&from, &pinned).unwrap_err();
        assert!(matches!(error, Error::InvalidInput { .. }), "{error:?}");
        assert!(error.to_string().contains("without a digest"), "{error}");
    }

    #[tokio::test]
    async fn a_dyn_registry_forwards_copies() {
        let fake = FakeEngine::new();
        let from = ImageRef::parse("registry.test:5000/cache:kiln-abc").unwrap();
        let to = ImageRef::parse("registry.test:5000/app:1").unwrap();
        let digest = pushed(&fake, &from).await;
        let registry: Box<dyn Registry> = Box::new(fake.clone());
        let copied = registry
            .copy(&from, &to, RegistryOptions::new())
            .await
            .unwrap();
        assert_eq!(copied, digest);
        assert_eq!(head_of(&registry, &to).await, Some(digest));
        assert_eq!(
            fake.calls().copy,
            1,
            "the copy reached the fake behind the Box"
        );
    }

    #[tokio::test]
    async fn an_arc_dyn_registry_is_a_registry() {
        let fake = FakeEngine::new();
        let image = ImageRef::parse("registry.test:5000/app:1").unwrap();
        let digest = pushed(&fake, &image).await;
        let registry: Arc<dyn Registry> = Arc::new(fake.clone());
        assert_eq!(head_of(&registry, &image).await, Some(digest));
        assert_eq!(
            fake.calls().registry,
            1,
            "the call reached the fake behind the Arc"
        );
    }

    #[tokio::test]
    async fn a_boxed_dyn_registry_is_a_registry() {
        let fake = FakeEngine::new();
        let image = ImageRef::parse("registry.test:5000/app:1").unwrap();
        let digest = pushed(&fake, &image).await;
        let registry: Box<dyn Registry> = Box::new(fake.clone());
        assert_eq!(head_of(&registry, &image).await, Some(digest));
        assert_eq!(
            fake.calls().registry,
            1,
            "the call reached the fake behind the Box"
        );
    }
}
