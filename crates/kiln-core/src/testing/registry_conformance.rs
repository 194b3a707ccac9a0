//! The behaviour every [`Registry`] must show, one named case per function.
//!
//! A case pushes images through an engine into a repository of the registry under test, then
//! asks the registry about them. Each case uses tags unique to `unique` and the case and
//! removes the local images it makes. [`registry_conformance_tests!`](crate::registry_conformance_tests)
//! turns every case into a test of its own; [`run`] runs them all in one.

use std::sync::Arc;

use crate::credentials::Credentials;
use crate::digest::Digest;
use crate::engine::{ImageEngine, PushOptions, RemoveOptions};
use crate::error::Error;
use crate::platform::Platform;
use crate::reference::ImageRef;
use crate::registry::{IndexEntry, Registry, RegistryOptions};
use crate::testing::conformance::{LABEL, request};

/// What a registry case runs against.
#[derive(Debug, Clone)]
pub struct RegistryTarget {
    /// The engine that builds and pushes the images the cases ask about.
    pub engine: Arc<dyn ImageEngine>,
    /// The registry under test.
    pub registry: Arc<dyn Registry>,
    /// A repository in that registry (`127.0.0.1:5000/kiln/conformance`); its tag is ignored.
    pub repository: ImageRef,
    /// The credentials the registry requires, if it requires some.
    pub credentials: Option<Credentials>,
}

impl RegistryTarget {
    fn tag(&self, unique: &str, case: &str, suffix: &str) -> ImageRef {
        let tag = format!("{unique}-{case}-{suffix}");
        self.repository
            .with_tag(&tag)
            .unwrap_or_else(|error| panic!("{tag:?}: {error}"))
    }

    fn options(&self) -> RegistryOptions {
        RegistryOptions::new().credentials(self.credentials.clone())
    }

    /// Builds an image labelled `label`, tags it `tag`, pushes it and removes it locally.
    async fn push(&self, tag: &ImageRef, label: &str) -> Digest {
        self.engine
            .build(request(label, vec![tag.clone()], None))
            .await
            .expect("build");
        let pushed = self
            .engine
            .push(
                tag,
                PushOptions::new().credentials(self.credentials.clone()),
            )
            .await
            .expect("push");
        let _ = self
            .engine
            .remove(tag, RemoveOptions::new().force(true))
            .await;
        pushed.digest
    }
}

/// A tag never pushed is absent for `head` and `describe` (`Ok(None)`), not an error.
pub async fn an_absent_tag_is_none(target: &RegistryTarget, unique: &str) {
    let absent = target.tag(unique, "absent", "none");
    let head = target.registry.head(&absent, target.options()).await;
    assert_eq!(head.expect("head of an absent tag"), None);
    let described = target.registry.describe(&absent, target.options()).await;
    assert_eq!(described.expect("describe of an absent tag"), None);
}

/// A pushed image: `head` gives the digest the push gave, `describe` the same digest, no
/// platforms (a single manifest) and the image config's labels.
pub async fn a_pushed_image_has_its_digest_and_labels(target: &RegistryTarget, unique: &str) {
    let tag = target.tag(unique, "pushed", "one");
    let label = format!("{unique}-pushed");
    let digest = target.push(&tag, &label).await;
    let head = target.registry.head(&tag, target.options()).await;
    assert_eq!(head.expect("head"), Some(digest.clone()));
    let described = target
        .registry
        .describe(&tag, target.options())
        .await
        .expect("describe")
        .expect("the pushed image is there");
    assert_eq!(described.digest, digest);
    assert!(described.platforms.is_empty(), "{described:?}");
    assert_eq!(described.labels.get(LABEL), Some(&label), "{described:?}");
}

/// A published index lists its platforms, and `describe` reads the labels of the platform
/// asked for (else the first).
pub async fn an_index_lists_its_platforms(target: &RegistryTarget, unique: &str) {
    let amd64_label = format!("{unique}-amd64");
    let arm64_label = format!("{unique}-arm64");
    let amd64 = target
        .push(&target.tag(unique, "index", "amd64"), &amd64_label)
        .await;
    let arm64 = target
        .push(&target.tag(unique, "index", "arm64"), &arm64_label)
        .await;
    let index = target.tag(unique, "index", "all");
    let entries = vec![
        IndexEntry {
            digest: amd64,
            platform: Platform::linux_amd64(),
        },
        IndexEntry {
            digest: arm64,
            platform: Platform::linux_arm64(),
        },
    ];
    let digest = target
        .registry
        .publish_index(&index, entries, target.options())
        .await
        .expect("publish the index");
    let head = target.registry.head(&index, target.options()).await;
    assert_eq!(head.expect("head of the index"), Some(digest.clone()));
    let first = target
        .registry
        .describe(&index, target.options())
        .await
        .expect("describe")
        .expect("the index is there");
    assert_eq!(first.digest, digest);
    assert_eq!(
        first.platforms,
        [Platform::linux_amd64(), Platform::linux_arm64()]
    );
    assert_eq!(first.labels.get(LABEL), Some(&amd64_label));
    let arm = target
        .registry
        .describe(
            &index,
            target.options().platform(Some(Platform::linux_arm64())),
        )
        .await
        .expect("describe arm64")
        .expect("the index is there");
    assert_eq!(arm.labels.get(LABEL), Some(&arm64_label));
}

/// An index of a manifest the repository does not hold is refused as `ImageNotFound`.
pub async fn an_index_of_a_missing_manifest_is_not_found(target: &RegistryTarget, unique: &str) {
    let index = target.tag(unique, "index-missing", "all");
    let entries = vec![IndexEntry {
        digest: crate::testing::digest(&format!("{unique} never pushed")),
        platform: Platform::linux_amd64(),
    }];
    let error = target
        .registry
        .publish_index(&index, entries, target.options())
        .await
        .expect_err("an index of a missing manifest");
    assert!(
        matches!(error, Error::ImageNotFound { .. }),
        "a missing entry is ImageNotFound, got {error:?}"
    );
}

/// Where credentials are required, asking without them is `AuthRefused` (never "absent").
pub async fn asking_without_credentials_is_refused(target: &RegistryTarget, unique: &str) {
    if target.credentials.is_none() {
        return;
    }
    let tag = target.tag(unique, "anonymous", "one");
    let error = target
        .registry
        .head(&tag, RegistryOptions::new())
        .await
        .expect_err("an anonymous head where credentials are required");
    assert!(
        matches!(error, Error::AuthRefused { .. }),
        "missing credentials are AuthRefused, got {error:?}"
    );
}

/// Runs every case, in order, against `target`.
pub async fn run(target: &RegistryTarget, unique: &str) {
    an_absent_tag_is_none(target, unique).await;
    a_pushed_image_has_its_digest_and_labels(target, unique).await;
    an_index_lists_its_platforms(target, unique).await;
    an_index_of_a_missing_manifest_is_not_found(target, unique).await;
    asking_without_credentials_is_refused(target, unique).await;
}

/// One `#[tokio::test]` per case of the registry suite, named after the case.
///
/// `$target` is evaluated in each test and gives `Option<RegistryTarget>` (`None`: skip, after
/// printing why); `$unique` gives a `String` that makes the tags unique to the run.
#[macro_export]
macro_rules! registry_conformance_tests {
    ($target:expr, $unique:expr) => {
        $crate::registry_conformance_tests!(
            @cases $target, $unique;
            an_absent_tag_is_none,
            a_pushed_image_has_its_digest_and_labels,
            an_index_lists_its_platforms,
            an_index_of_a_missing_manifest_is_not_found,
            asking_without_credentials_is_refused,
        );
    };
    (@cases $target:expr, $unique:expr; $($case:ident,)+) => {
        $(
            #[tokio::test]
            async fn $case() {
                let Some(target) = $target else {
                    return;
                };
                let unique: String = $unique;
                $crate::testing::registry_conformance::$case(&target, &unique).await;
            }
        )+
    };
}
