//! `Kiln::images` and `Kiln::prune_images` against the in-memory engine: which images are
//! kiln's, how they are named, what a prune removes and keeps, and the records it forgets.

use std::collections::BTreeMap;
use std::fs;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use kiln_core::testing::{FakeEngine, image_id};
use kiln_core::{BuildSpec, ErrorKind, ImageEngine, ImageId, ImageRef, ManualClock, MapEnv};

use super::*;
use crate::Config;

struct Fixture {
    engine: FakeEngine,
    kiln: Kiln,
    context: tempfile::TempDir,
    _cache: tempfile::TempDir,
}

/// A kiln over the fake engine whose clock reads 100 s after the epoch (the fake makes its
/// images at 1 s, 2 s, ...).
fn fixture() -> Fixture {
    let engine = FakeEngine::new();
    let cache = tempfile::tempdir().unwrap();
    let kiln = Kiln::builder()
        .engine(engine.clone())
        .env(MapEnv::new())
        .config(Config::default())
        .cache_dir(cache.path())
        .clock(Arc::new(ManualClock::new(
            UNIX_EPOCH + Duration::from_secs(100),
        )))
        .build()
        .unwrap();
    Fixture {
        engine,
        kiln,
        context: tempfile::tempdir().unwrap(),
        _cache: cache,
    }
}

impl Fixture {
    /// Builds version `version` of `app:latest` (a Dockerfile of its own) and returns its id.
    async fn build(&self, version: &str) -> ImageId {
        fs::write(
            self.context.path().join("Dockerfile"),
            format!("FROM scratch\nLABEL version={version}\n"),
        )
        .unwrap();
        let report = self
            .kiln
            .build_image(&BuildSpec::new("app", self.context.path()))
            .await
            .unwrap();
        ImageId::parse(&report.image_id).unwrap()
    }

    fn fingerprint_of(&self, id: &ImageId) -> Fingerprint {
        let (records, _) = self.kiln.records().unwrap().all();
        records
            .into_iter()
            .find(|record| &record.image_id == id)
            .map(|record| record.fingerprint)
            .unwrap()
    }
}

fn ids(images: &[KilnImage]) -> Vec<ImageId> {
    images.iter().map(|image| image.id.clone()).collect()
}

#[tokio::test]
async fn a_prune_keeps_the_newest_and_what_a_container_uses_and_forgets_the_records() {
    let fixture = fixture();
    let used = fixture.build("0").await;
    fixture.engine.create_container(&used);
    let mut versions = Vec::new();
    for version in ["1", "2", "3", "4"] {
        versions.push(fixture.build(version).await);
    }

    let listing = fixture.kiln.images(&ImageSelection::all()).await.unwrap();
    let mut newest_first = versions.clone();
    newest_first.reverse();
    newest_first.push(used.clone());
    assert_eq!(ids(&listing.images), newest_first, "by name, newest first");
    let current = &listing.images[0];
    assert_eq!(current.tags, vec!["app:latest".to_owned()]);
    assert_eq!(current.name.as_deref(), Some("app:latest"));
    assert_eq!(
        current.fingerprint,
        Some(fixture.fingerprint_of(&versions[3]))
    );
    assert_eq!((current.created, current.age_s), (5, 95));
    let oldest = &listing.images[4];
    assert!(oldest.tags.is_empty(), "its tag moved on: {oldest:?}");
    assert_eq!(
        oldest.name.as_deref(),
        Some("app:latest"),
        "from its record"
    );
    assert_eq!(oldest.containers, 1);

    let dry = fixture
        .kiln
        .prune_images(&ImageSelection::all(), 2, true)
        .await
        .unwrap();
    assert!(dry.dry_run);
    assert_eq!(
        ids(&dry.removed),
        vec![versions[1].clone(), versions[0].clone()]
    );
    assert_eq!(dry.records_removed, 2);
    assert_eq!(
        fixture.engine.calls().remove_id,
        0,
        "a dry run removes nothing"
    );
    assert_eq!(
        fixture.kiln.images(&ImageSelection::all()).await.unwrap(),
        listing
    );

    let fingerprints: Vec<Fingerprint> = versions
        .iter()
        .map(|id| fixture.fingerprint_of(id))
        .collect();
    let pruned = fixture
        .kiln
        .prune_images(&ImageSelection::all(), 2, false)
        .await
        .unwrap();
    assert!(!pruned.dry_run);
    assert_eq!(pruned.removed, dry.removed);
    assert_eq!(pruned.kept, dry.kept);
    assert!(
        pruned.failed.is_empty() && pruned.warnings.is_empty(),
        "{pruned:?}"
    );
    let kept: Vec<(ImageId, KeepReason)> = pruned
        .kept
        .iter()
        .map(|kept| (kept.image.id.clone(), kept.reason))
        .collect();
    assert_eq!(
        kept,
        vec![
            (versions[3].clone(), KeepReason::Newest),
            (versions[2].clone(), KeepReason::Newest),
            (used.clone(), KeepReason::InUse),
        ]
    );
    assert_eq!(
        pruned.removed_bytes,
        pruned
            .removed
            .iter()
            .map(|image| image.size_bytes)
            .sum::<u64>()
    );
    assert_eq!(pruned.records_removed, 2);
    for gone in &versions[..2] {
        assert_eq!(fixture.engine.inspect_id(gone).await.unwrap(), None);
    }
    let records = fixture.kiln.records().unwrap();
    assert_eq!(records.get(&fingerprints[0]).unwrap(), None);
    assert_eq!(records.get(&fingerprints[1]).unwrap(), None);
    assert!(records.get(&fingerprints[2]).unwrap().is_some());
    assert_eq!(
        ids(&fixture
            .kiln
            .images(&ImageSelection::all())
            .await
            .unwrap()
            .images),
        vec![versions[3].clone(), versions[2].clone(), used.clone()]
    );

    let again = fixture
        .kiln
        .prune_images(&ImageSelection::all(), 2, false)
        .await
        .unwrap();
    assert!(again.removed.is_empty(), "nothing left to prune: {again:?}");
}

#[tokio::test]
async fn keeping_none_is_refused() {
    let fixture = fixture();
    let error = fixture
        .kiln
        .prune_images(&ImageSelection::all(), 0, true)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(error.to_string().contains("\"0\""), "{error}");
}

#[tokio::test]
async fn labelled_images_are_kiln_s_unless_the_label_is_inherited() {
    let fixture = fixture();
    let fingerprint = "a".repeat(64);
    let labels = BTreeMap::from([(FINGERPRINT_LABEL.to_owned(), fingerprint.clone())]);
    let own = image_id("own");
    let inherited = image_id("built on it");
    let foreign = image_id("not kiln's");
    fixture.engine.insert_untagged(&own, 10, labels.clone());
    fixture
        .engine
        .insert_untagged(&inherited, 20, labels.clone());
    fixture.engine.set_parent(&inherited, &own);
    fixture
        .engine
        .insert_untagged(&foreign, 30, BTreeMap::new());
    let tagged = image_id("tagged by a build elsewhere");
    let other = BTreeMap::from([(FINGERPRINT_LABEL.to_owned(), "b".repeat(64))]);
    fixture.engine.insert_untagged(&tagged, 40, other);
    fixture
        .engine
        .tag(&tagged, &ImageRef::parse("elsewhere:1").unwrap())
        .await
        .unwrap();
    fixture
        .engine
        .tag(&tagged, &ImageRef::parse("kiln-pin/elsewhere:abc").unwrap())
        .await
        .unwrap();

    let listing = fixture.kiln.images(&ImageSelection::all()).await.unwrap();
    assert_eq!(ids(&listing.images), vec![tagged.clone(), own.clone()]);
    assert_eq!(
        listing.images[0].name.as_deref(),
        Some("elsewhere:1"),
        "not the pin"
    );
    assert_eq!(listing.images[1].name, None, "no record, no tag");
    assert_eq!(
        listing.images[1]
            .fingerprint
            .as_ref()
            .map(Fingerprint::as_str),
        Some(fingerprint.as_str())
    );

    let pruned = fixture
        .kiln
        .prune_images(&ImageSelection::all(), 1, false)
        .await
        .unwrap();
    assert!(pruned.removed.is_empty(), "{pruned:?}");
    let needed: Vec<(&ImageId, KeepReason)> = pruned
        .kept
        .iter()
        .map(|kept| (&kept.image.id, kept.reason))
        .collect();
    assert_eq!(
        needed,
        vec![(&tagged, KeepReason::Newest), (&own, KeepReason::Newest)]
    );
}

#[tokio::test]
async fn an_image_something_is_built_on_stays_and_says_what() {
    let fixture = fixture();
    let old = fixture.build("1").await;
    let new = fixture.build("2").await;
    let user = image_id("someone's image built on the old one");
    fixture.engine.insert_untagged(&user, 5, BTreeMap::new());
    fixture
        .engine
        .tag(&user, &ImageRef::parse("theirs:1").unwrap())
        .await
        .unwrap();
    fixture.engine.set_parent(&user, &old);

    let pruned = fixture
        .kiln
        .prune_images(&ImageSelection::all(), 1, false)
        .await
        .unwrap();
    assert!(pruned.removed.is_empty(), "{pruned:?}");
    let old_kept = pruned
        .kept
        .iter()
        .find(|kept| kept.image.id == old)
        .unwrap();
    assert_eq!(
        (old_kept.reason, old_kept.needed_by.as_ref()),
        (KeepReason::Needed, Some(&user))
    );
    assert!(pruned.kept.iter().any(|kept| kept.image.id == new));
}

#[tokio::test]
async fn a_selection_names_repositories_or_tags() {
    let fixture = fixture();
    fixture.build("1").await;
    fixture.build("2").await;
    let count = |names: &[&str]| {
        let selection = ImageSelection::of(names).unwrap();
        let kiln = &fixture.kiln;
        async move { kiln.images(&selection).await.unwrap().images.len() }
    };
    assert_eq!(count(&[]).await, 2);
    assert_eq!(count(&["app"]).await, 2);
    assert_eq!(count(&["docker.io/library/app"]).await, 2);
    assert_eq!(count(&["app:latest"]).await, 2);
    assert_eq!(count(&["app:1"]).await, 0);
    assert_eq!(count(&["other", "app"]).await, 2);
    assert_eq!(count(&["other"]).await, 0);

    let pruned = fixture
        .kiln
        .prune_images(&ImageSelection::of(&["other"]).unwrap(), 1, false)
        .await
        .unwrap();
    assert!(pruned.removed.is_empty() && pruned.kept.is_empty());

    for bad in ["Bad/:ref!", "app@sha256:0123"] {
        let error = ImageSelection::of(&[bad]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{bad}: {error}");
    }
    let digest = format!("app@sha256:{}", "0".repeat(64));
    let error = ImageSelection::of(&[digest.as_str()]).unwrap_err();
    assert!(error.to_string().contains("without a digest"), "{error}");
    assert!(!ImageSelection::of(&["app"]).unwrap().admits(None));
    assert!(ImageSelection::all().admits(None));
}

#[tokio::test]
async fn an_unreachable_daemon_is_the_error() {
    let fixture = fixture();
    fixture.engine.set_unreachable(true);
    let error = fixture
        .kiln
        .images(&ImageSelection::all())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unreachable);
    let error = fixture
        .kiln
        .prune_images(&ImageSelection::all(), 3, false)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unreachable);
}

#[test]
fn ages_read_as_kiln_words_them() {
    assert_eq!(age_text(5), "5 s ago");
    assert_eq!(age_text(3 * 3600), "3 h ago");
}
