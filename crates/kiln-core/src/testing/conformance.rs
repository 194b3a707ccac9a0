//! The behaviour every [`ImageEngine`] must show, one named case per function.
//!
//! Each case makes its own images under tags unique to `unique` and the case, and removes them
//! again when it passes. [`engine_conformance_tests!`](crate::engine_conformance_tests) turns
//! every case into a test of its own, so a failure names the case; [`run`] runs them all in one.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::engine::{BuildRequest, BuilderKind, ImageEngine, RemoveOptions};
use crate::error::Error;
use crate::event::EventSink;
use crate::image_list::ImageFilter;
use crate::platform::Platform;
use crate::reference::ImageRef;
use crate::testing::{MemoryContext, image_id};

/// The label every conformance image carries, with `unique` as its value.
pub const LABEL: &str = "dev.kiln.conformance";

/// `kiln-conformance-<unique>-<case>:<tag>`.
pub fn reference(unique: &str, case: &str, tag: &str) -> ImageRef {
    let text = format!("kiln-conformance-{unique}-{case}:{tag}");
    ImageRef::parse(&text).unwrap_or_else(|error| panic!("{text:?}: {error}"))
}

/// A small build of `FROM scratch` and one file, tagged `tags`, labelled with `unique`.
pub fn request(unique: &str, tags: Vec<ImageRef>, platform: Option<Platform>) -> BuildRequest {
    let context = MemoryContext::new()
        .file("Dockerfile", "FROM scratch\nCOPY hello.txt /hello.txt\n")
        .file("hello.txt", format!("hello {unique}\n"));
    BuildRequest {
        context: Arc::new(context),
        dockerfile: "Dockerfile".into(),
        tags,
        build_args: BTreeMap::new(),
        target: None,
        platform,
        labels: BTreeMap::from([(LABEL.to_owned(), unique.to_owned())]),
        builder: BuilderKind::Classic,
        no_cache: false,
        cache_from: Vec::new(),
        registry_credentials: Vec::new(),
        events: EventSink::discard(),
    }
}

/// Removes `image` (forced), ignoring that it may be gone already.
async fn clean_up(engine: &dyn ImageEngine, image: &ImageRef) {
    let _ = engine.remove(image, RemoveOptions::new().force(true)).await;
}

/// `info` answers and names the engine's version.
pub async fn info_names_a_version(engine: &dyn ImageEngine, _unique: &str) {
    let info = engine.info().await.expect("info");
    assert!(!info.version.is_empty(), "info names a version: {info:?}");
}

/// A tag never built is absent (`Ok(None)`), not an error.
pub async fn an_absent_tag_is_none(engine: &dyn ImageEngine, unique: &str) {
    let absent = reference(unique, "absent", "none");
    assert_eq!(engine.inspect(&absent).await.expect("inspect absent"), None);
    let id = image_id(&format!("kiln-conformance-{unique} never built"));
    assert_eq!(engine.inspect_id(&id).await.expect("inspect_id"), None);
}

/// A build's image is found under its tag and its id, with its labels and its tag listed.
pub async fn a_build_is_found_by_tag_and_id(engine: &dyn ImageEngine, unique: &str) {
    let tag = reference(unique, "build", "one");
    let built = engine
        .build(request(unique, vec![tag.clone()], None))
        .await
        .expect("build");
    let details = engine
        .inspect(&tag)
        .await
        .expect("inspect")
        .expect("the built image exists");
    assert_eq!(details.id, built.image_id);
    assert_eq!(
        details.labels.get(LABEL).map(String::as_str),
        Some(unique),
        "the build's labels are on the image"
    );
    assert!(
        details.repo_tags.contains(&tag.familiar()),
        "{:?} lists {}",
        details.repo_tags,
        tag.familiar()
    );
    let by_id = engine
        .inspect_id(&built.image_id)
        .await
        .expect("inspect_id")
        .expect("found by id");
    assert_eq!(by_id.id, built.image_id);
    clean_up(engine, &tag).await;
}

/// A build tagged twice gives both tags the same image.
pub async fn every_tag_of_a_build_points_at_it(engine: &dyn ImageEngine, unique: &str) {
    let tags = vec![
        reference(unique, "tags", "one"),
        reference(unique, "tags", "two"),
    ];
    let built = engine
        .build(request(unique, tags.clone(), None))
        .await
        .expect("build");
    for tag in &tags {
        let details = engine.inspect(tag).await.expect("inspect");
        assert_eq!(
            details.map(|details| details.id),
            Some(built.image_id.clone())
        );
    }
    for tag in &tags {
        clean_up(engine, tag).await;
    }
}

/// `tag` points a new tag at an image id.
pub async fn a_tag_points_at_the_image(engine: &dyn ImageEngine, unique: &str) {
    let first = reference(unique, "tag", "one");
    let second = reference(unique, "tag", "two");
    let built = engine
        .build(request(unique, vec![first.clone()], None))
        .await
        .expect("build");
    engine.tag(&built.image_id, &second).await.expect("tag");
    let tagged = engine
        .inspect(&second)
        .await
        .expect("inspect tag")
        .expect("the tag exists");
    assert_eq!(tagged.id, built.image_id);
    clean_up(engine, &second).await;
    clean_up(engine, &first).await;
}

/// Tagging an image the engine does not have is `ImageNotFound`.
pub async fn tagging_a_missing_image_is_not_found(engine: &dyn ImageEngine, unique: &str) {
    let target = reference(unique, "tag-missing", "one");
    let missing = image_id(&format!("kiln-conformance-{unique} absent"));
    let error = engine
        .tag(&missing, &target)
        .await
        .expect_err("tagging a missing image fails");
    assert!(
        matches!(error, Error::ImageNotFound { .. }),
        "tagging from a missing image is ImageNotFound, got {error:?}"
    );
    assert_eq!(engine.inspect(&target).await.expect("inspect"), None);
}

/// Removing one tag keeps the image under its other tags.
pub async fn removing_a_tag_keeps_the_others(engine: &dyn ImageEngine, unique: &str) {
    let first = reference(unique, "remove-tag", "one");
    let second = reference(unique, "remove-tag", "two");
    let built = engine
        .build(request(unique, vec![first.clone(), second.clone()], None))
        .await
        .expect("build");
    engine
        .remove(&second, RemoveOptions::new())
        .await
        .expect("remove tag");
    assert_eq!(
        engine.inspect(&second).await.expect("inspect removed"),
        None
    );
    let kept = engine.inspect(&first).await.expect("inspect kept");
    assert_eq!(kept.map(|details| details.id), Some(built.image_id));
    clean_up(engine, &first).await;
}

/// Removing a tag that does not exist is `ImageNotFound`.
pub async fn removing_a_missing_tag_is_not_found(engine: &dyn ImageEngine, unique: &str) {
    let absent = reference(unique, "remove-missing", "none");
    let error = engine
        .remove(&absent, RemoveOptions::new())
        .await
        .expect_err("removing a missing tag fails");
    assert!(
        matches!(error, Error::ImageNotFound { .. }),
        "removing a missing tag is ImageNotFound, got {error:?}"
    );
}

/// Removing an image's last tag removes the image.
pub async fn removing_the_last_tag_removes_the_image(engine: &dyn ImageEngine, unique: &str) {
    let tag = reference(unique, "remove-last", "one");
    let built = engine
        .build(request(unique, vec![tag.clone()], None))
        .await
        .expect("build");
    engine
        .remove(&tag, RemoveOptions::new())
        .await
        .expect("remove image");
    assert_eq!(engine.inspect(&tag).await.expect("inspect gone"), None);
    assert_eq!(
        engine
            .inspect_id(&built.image_id)
            .await
            .expect("inspect id gone"),
        None,
        "removing the last tag removes the image"
    );
}

/// A listing filtered by a label finds a build with its tags, labels and size, used by no
/// container, and leaves out images without the label.
pub async fn a_listing_by_label_finds_the_build(engine: &dyn ImageEngine, unique: &str) {
    let tag = reference(unique, "list", "one");
    let built = engine
        .build(request(unique, vec![tag.clone()], None))
        .await
        .expect("build");
    let filter = ImageFilter::new().label(format!("{LABEL}={unique}"));
    let listed = engine.list_images(filter).await.expect("list images");
    let summary = listed
        .iter()
        .find(|summary| summary.id == built.image_id)
        .unwrap_or_else(|| panic!("the build {} is listed: {listed:?}", built.image_id));
    assert!(summary.tags.contains(&tag.familiar()), "{summary:?}");
    assert_eq!(
        summary.labels.get(LABEL).map(String::as_str),
        Some(unique),
        "{summary:?}"
    );
    assert!(summary.size > 0, "a size: {summary:?}");
    assert!(summary.created > 0, "a creation time: {summary:?}");
    assert_eq!(summary.containers, 0, "no container uses it: {summary:?}");
    assert!(
        listed
            .iter()
            .all(|summary| summary.labels.contains_key(LABEL)),
        "only labelled images: {listed:?}"
    );
    let other = ImageFilter::new().label(format!("{LABEL}=not-{unique}"));
    let others = engine.list_images(other).await.expect("list images");
    assert!(
        others.iter().all(|summary| summary.id != built.image_id),
        "another label's listing leaves it out: {others:?}"
    );
    clean_up(engine, &tag).await;
}

/// Removing an image by id: refused while two tags name it, else it goes with its tag; a
/// second time it is `ImageNotFound`.
pub async fn removing_by_id_removes_the_image_and_its_tag(engine: &dyn ImageEngine, unique: &str) {
    let first = reference(unique, "remove-id", "one");
    let second = reference(unique, "remove-id", "two");
    let built = engine
        .build(request(unique, vec![first.clone(), second.clone()], None))
        .await
        .expect("build");
    let refused = engine
        .remove_id(&built.image_id, RemoveOptions::new())
        .await
        .expect_err("an image two tags name is not removed by id unless forced");
    assert!(
        !matches!(refused, Error::ImageNotFound { .. }),
        "refused, not missing: {refused:?}"
    );
    assert!(engine.inspect(&first).await.expect("inspect").is_some());
    engine
        .remove(&second, RemoveOptions::new())
        .await
        .expect("remove the second tag");
    engine
        .remove_id(&built.image_id, RemoveOptions::new())
        .await
        .expect("remove by id");
    assert_eq!(engine.inspect(&first).await.expect("inspect"), None);
    assert_eq!(
        engine
            .inspect_id(&built.image_id)
            .await
            .expect("inspect id"),
        None
    );
    let error = engine
        .remove_id(&built.image_id, RemoveOptions::new())
        .await
        .expect_err("removing a missing image fails");
    assert!(
        matches!(error, Error::ImageNotFound { .. }),
        "removing a missing image is ImageNotFound, got {error:?}"
    );
}

/// A build for another platform makes an image of that platform (BuildKit, no `RUN`: no
/// emulation needed).
pub async fn a_build_for_a_platform_is_of_that_platform(engine: &dyn ImageEngine, unique: &str) {
    let tag = reference(unique, "platform", "arm64");
    let mut request = request(unique, vec![tag.clone()], Some(Platform::linux_arm64()));
    request.builder = BuilderKind::Buildkit;
    let built = engine.build(request).await.expect("build for arm64");
    let details = engine
        .inspect_id(&built.image_id)
        .await
        .expect("inspect")
        .expect("the built image exists");
    assert_eq!(
        (details.os.as_str(), details.architecture.as_str()),
        ("linux", "arm64"),
        "{details:?}"
    );
    clean_up(engine, &tag).await;
}

/// Runs every case, in order, against `engine`.
pub async fn run(engine: &dyn ImageEngine, unique: &str) {
    info_names_a_version(engine, unique).await;
    an_absent_tag_is_none(engine, unique).await;
    a_build_is_found_by_tag_and_id(engine, unique).await;
    every_tag_of_a_build_points_at_it(engine, unique).await;
    a_tag_points_at_the_image(engine, unique).await;
    tagging_a_missing_image_is_not_found(engine, unique).await;
    removing_a_tag_keeps_the_others(engine, unique).await;
    removing_a_missing_tag_is_not_found(engine, unique).await;
    removing_the_last_tag_removes_the_image(engine, unique).await;
    a_listing_by_label_finds_the_build(engine, unique).await;
    removing_by_id_removes_the_image_and_its_tag(engine, unique).await;
    a_build_for_a_platform_is_of_that_platform(engine, unique).await;
}

/// One `#[tokio::test]` per case of the engine suite, named after the case.
///
/// `$engine` is evaluated in each test and gives `Option<impl ImageEngine>` (`None`: skip, after
/// printing why); `$unique` gives a `String` that makes the tags unique to the run.
#[macro_export]
macro_rules! engine_conformance_tests {
    ($engine:expr, $unique:expr) => {
        $crate::engine_conformance_tests!(
            @cases $engine, $unique;
            info_names_a_version,
            an_absent_tag_is_none,
            a_build_is_found_by_tag_and_id,
            every_tag_of_a_build_points_at_it,
            a_tag_points_at_the_image,
            tagging_a_missing_image_is_not_found,
            removing_a_tag_keeps_the_others,
            removing_a_missing_tag_is_not_found,
            removing_the_last_tag_removes_the_image,
            a_listing_by_label_finds_the_build,
            removing_by_id_removes_the_image_and_its_tag,
            a_build_for_a_platform_is_of_that_platform,
        );
    };
    (@cases $engine:expr, $unique:expr; $($case:ident,)+) => {
        $(
            #[tokio::test]
            async fn $case() {
                let Some(engine) = $engine else {
                    return;
                };
                let unique: String = $unique;
                $crate::testing::conformance::$case(&engine, &unique).await;
            }
        )+
    };
}
