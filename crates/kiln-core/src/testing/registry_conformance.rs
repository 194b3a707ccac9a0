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

    /// A tag like [`RegistryTarget::tag`]'s in a sibling repository of the same registry
    /// (`<repository>-copies`), where the copy cases write.
    fn copy_tag(&self, unique: &str, case: &str, suffix: &str) -> ImageRef {
        let text = format!(
            "{}/{}-copies:{unique}-{case}-{suffix}",
            self.repository.domain(),
            self.repository.path()
        );
        ImageRef::parse(&text).unwrap_or_else(|error| panic!("{text:?}: {error}"))
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

/// A copy into another repository of the registry: the copied tag has the source's digest
/// (the one `copy` returns) and the source's labels.
pub async fn a_copied_tag_has_the_sources_digest(target: &RegistryTarget, unique: &str) {
    let source = target.tag(unique, "copy", "source");
    let label = format!("{unique}-copy");
    let digest = target.push(&source, &label).await;
    let copy = target.copy_tag(unique, "copy", "one");
    let copied = target
        .registry
        .copy(&source, &copy, target.options())
        .await
        .expect("copy");
    assert_eq!(copied, digest, "copy returns the manifest's digest");
    let head = target.registry.head(&copy, target.options()).await;
    assert_eq!(head.expect("head of the copy"), Some(digest.clone()));
    let described = target
        .registry
        .describe(&copy, target.options())
        .await
        .expect("describe the copy")
        .expect("the copy is there");
    assert_eq!(described.labels.get(LABEL), Some(&label), "{described:?}");
    let source_head = target.registry.head(&source, target.options()).await;
    assert_eq!(source_head.expect("head of the source"), Some(digest));
}

/// A copied index keeps its digest, and the copy lists the platforms and reads each platform's
/// labels: its manifests came along.
pub async fn a_copied_index_keeps_its_platforms(target: &RegistryTarget, unique: &str) {
    let amd64_label = format!("{unique}-copy-amd64");
    let arm64_label = format!("{unique}-copy-arm64");
    let amd64 = target
        .push(&target.tag(unique, "copy-index", "amd64"), &amd64_label)
        .await;
    let arm64 = target
        .push(&target.tag(unique, "copy-index", "arm64"), &arm64_label)
        .await;
    let index = target.tag(unique, "copy-index", "all");
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
    let copy = target.copy_tag(unique, "copy-index", "all");
    let copied = target
        .registry
        .copy(&index, &copy, target.options())
        .await
        .expect("copy the index");
    assert_eq!(copied, digest);
    let arm = target
        .registry
        .describe(
            &copy,
            target.options().platform(Some(Platform::linux_arm64())),
        )
        .await
        .expect("describe the copied index")
        .expect("the copy is there");
    assert_eq!(arm.digest, digest);
    assert_eq!(
        arm.platforms,
        [Platform::linux_amd64(), Platform::linux_arm64()]
    );
    assert_eq!(arm.labels.get(LABEL), Some(&arm64_label), "{arm:?}");
}

/// A copy whose source was never pushed is `ImageNotFound`, and writes nothing.
pub async fn copying_an_absent_source_is_not_found(target: &RegistryTarget, unique: &str) {
    let absent = target.tag(unique, "copy-absent", "never");
    let copy = target.copy_tag(unique, "copy-absent", "one");
    let error = target
        .registry
        .copy(&absent, &copy, target.options())
        .await
        .expect_err("a copy of an absent source");
    assert!(
        matches!(error, Error::ImageNotFound { .. }),
        "an absent source is ImageNotFound, got {error:?}"
    );
    let head = target.registry.head(&copy, target.options()).await;
    assert_eq!(head.expect("head of the unwritten copy"), None);
}

/// A copy onto a tag that names another image moves the tag.
pub async fn copying_onto_an_existing_tag_moves_it(target: &RegistryTarget, unique: &str) {
    let first = target.tag(unique, "copy-move", "first");
    let second = target.tag(unique, "copy-move", "second");
    let first_digest = target.push(&first, &format!("{unique}-move-first")).await;
    let second_digest = target.push(&second, &format!("{unique}-move-second")).await;
    assert_ne!(first_digest, second_digest, "two different images");
    let copy = target.copy_tag(unique, "copy-move", "one");
    for (source, digest) in [(&first, &first_digest), (&second, &second_digest)] {
        let copied = target
            .registry
            .copy(source, &copy, target.options())
            .await
            .expect("copy");
        assert_eq!(&copied, digest);
        let head = target.registry.head(&copy, target.options()).await;
        assert_eq!(head.expect("head of the copy").as_ref(), Some(digest));
    }
}

/// A copy into another registry is refused as `InvalidInput` naming both references, before
/// any request.
pub async fn copying_into_another_registry_is_invalid_input(target: &RegistryTarget, unique: &str) {
    let source = target.tag(unique, "copy-elsewhere", "source");
    let elsewhere_text = format!("elsewhere.invalid:5000/kiln/app:{unique}");
    let elsewhere = ImageRef::parse(&elsewhere_text).expect("a valid reference");
    let error = target
        .registry
        .copy(&source, &elsewhere, target.options())
        .await
        .expect_err("a copy into another registry");
    assert!(
        matches!(error, Error::InvalidInput { .. }),
        "a copy into another registry is InvalidInput, got {error:?}"
    );
    let text = error.to_string();
    assert!(text.contains(&elsewhere_text), "{text}");
    assert!(text.contains(&source.to_string()), "{text}");
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
    a_copied_tag_has_the_sources_digest(target, unique).await;
    a_copied_index_keeps_its_platforms(target, unique).await;
    copying_an_absent_source_is_not_found(target, unique).await;
    copying_onto_an_existing_tag_moves_it(target, unique).await;
    copying_into_another_registry_is_invalid_input(target, unique).await;
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
            a_copied_tag_has_the_sources_digest,
            a_copied_index_keeps_its_platforms,
            copying_an_absent_source_is_not_found,
            copying_onto_an_existing_tag_moves_it,
            copying_into_another_registry_is_invalid_input,
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
