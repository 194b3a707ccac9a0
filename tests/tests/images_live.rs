//! `kiln images ls` and `kiln images prune` against the real daemon: five builds of one tag
//! (the oldest used by a stopped container) listed with their use, a dry run that removes
//! nothing, a prune that keeps the two newest and the one in use and forgets the records of
//! what it removed; and BuildKit's labelled images listed without any record.
//!
//! Every command names the test's own repository, so images of other tests and processes on
//! the same daemon are never listed or touched; guards remove the container and every image the
//! test made, also when it fails.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use kiln_cache::RecordStore;
use kiln_tests::docker_cli::{docker, image_id, run};
use kiln_tests::images::busybox;
use kiln_tests::output::{json, stderr, stdout};
use kiln_tests::{ImageCleanup, kiln, labelled_context, live_docker, unique};
use serde_json::Value;

/// Removes a container when dropped.
struct ContainerGuard(String);

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.0])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Runs kiln with the test's cache directory and checks that it succeeded.
fn kiln_ok(cache: &Path, args: &[&str]) -> Output {
    let output = kiln(args).env("KILN_CACHE_DIR", cache).output().unwrap();
    assert!(
        output.status.success(),
        "kiln {args:?} failed ({:?}):\n{}\n{}",
        output.status.code(),
        stdout(&output),
        stderr(&output)
    );
    output
}

/// Builds `context` under `tag` with `VERSION=version` and returns the image id.
fn build(cache: &Path, context: &Path, tag: &str, version: &str, builder: &str) -> String {
    let version = format!("VERSION={version}");
    let output = kiln_ok(
        cache,
        &[
            "build",
            context.to_str().unwrap(),
            "--tag",
            tag,
            "--build-arg",
            &version,
            "--builder",
            builder,
            "--json",
        ],
    );
    json(&output)["image_id"].as_str().unwrap().to_owned()
}

/// The `id` of each image in a JSON list.
fn ids(images: &Value) -> Vec<String> {
    images
        .as_array()
        .unwrap()
        .iter()
        .map(|image| image["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn ls_and_prune_keep_the_newest_and_what_a_container_uses() {
    if live_docker("ls_and_prune_keep_the_newest_and_what_a_container_uses").is_none() {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let repository = unique("kiln-images");
    let tag = format!("{repository}:1");
    let (context, _images) = labelled_context(&format!(
        "FROM {}\nARG VERSION\nRUN echo \"$VERSION\" > /version\n",
        busybox()
    ));
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);

    let used = build(cache.path(), context.path(), &tag, "0", "classic");
    let created = run(docker(&["create", &used, "/bin/true"])).unwrap();
    let _container = ContainerGuard(stdout(&created).trim().to_owned());
    let mut versions = Vec::new();
    for version in ["1", "2", "3", "4"] {
        // The daemon tells creation times in seconds: one build per second orders them.
        std::thread::sleep(Duration::from_millis(1100));
        versions.push(build(
            cache.path(),
            context.path(),
            &tag,
            version,
            "classic",
        ));
    }
    let all: BTreeSet<&String> = versions.iter().chain([&used]).collect();
    assert_eq!(all.len(), 5, "five images: {versions:?} {used}");

    let listing = json(&kiln_ok(
        cache.path(),
        &["images", "ls", &repository, "--json"],
    ));
    let images = &listing["images"];
    let mut newest_first: Vec<String> = versions.iter().rev().cloned().collect();
    newest_first.push(used.clone());
    assert_eq!(ids(images), newest_first, "{listing:#}");
    for image in images.as_array().unwrap() {
        assert_eq!(image["name"], tag.as_str(), "{image}");
        assert!(
            image["fingerprint"].is_string(),
            "from the records: {image}"
        );
        assert!(image["size_bytes"].as_u64().unwrap() > 0, "{image}");
        let in_use = if image["id"] == used.as_str() { 1 } else { 0 };
        assert_eq!(image["containers"], in_use, "{image}");
    }
    assert_eq!(images[0]["tags"], serde_json::json!([tag]));
    assert_eq!(images[1]["tags"], serde_json::json!([]), "its tag moved on");
    let table = stdout(&kiln_ok(cache.path(), &["images", "ls", &repository]));
    assert!(
        table.starts_with("IMAGE ID") && table.contains("1 container"),
        "{table}"
    );

    let dry = json(&kiln_ok(
        cache.path(),
        &[
            "images",
            "prune",
            &repository,
            "--keep",
            "2",
            "--dry-run",
            "--json",
        ],
    ));
    let doomed = vec![versions[1].clone(), versions[0].clone()];
    assert_eq!(ids(&dry["removed"]), doomed, "{dry:#}");
    assert_eq!(dry["records_removed"], 2);
    for id in &all {
        assert!(image_id(id).is_some(), "a dry run removed {id}");
    }

    let pruned = json(&kiln_ok(
        cache.path(),
        &["images", "prune", &repository, "--keep", "2", "--json"],
    ));
    assert_eq!(ids(&pruned["removed"]), doomed, "{pruned:#}");
    assert_eq!(pruned["failed"], serde_json::json!([]), "{pruned:#}");
    let kept: Vec<(String, String)> = pruned["kept"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kept| {
            (
                kept["id"].as_str().unwrap().to_owned(),
                kept["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kept,
        vec![
            (versions[3].clone(), "newest".to_owned()),
            (versions[2].clone(), "newest".to_owned()),
            (used.clone(), "in_use".to_owned()),
        ]
    );
    for id in &doomed {
        assert_eq!(image_id(id), None, "{id} was removed");
    }
    for id in [&used, &versions[2], &versions[3]] {
        assert!(image_id(id).is_some(), "{id} was kept");
    }
    let (records, _) = RecordStore::new(cache.path()).all();
    let recorded: BTreeSet<String> = records
        .iter()
        .map(|record| record.image_id.to_string())
        .collect();
    let expected: BTreeSet<String> = [&used, &versions[2], &versions[3]]
        .into_iter()
        .cloned()
        .collect();
    assert_eq!(recorded, expected, "the records of removed images are gone");

    let again = json(&kiln_ok(
        cache.path(),
        &["images", "prune", &repository, "--keep", "2", "--json"],
    ));
    assert_eq!(again["removed"], serde_json::json!([]), "{again:#}");
}

#[test]
fn labelled_images_are_listed_without_records() {
    if live_docker("labelled_images_are_listed_without_records").is_none() {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let repository = unique("kiln-images-labelled");
    let tag = format!("{repository}:1");
    let (context, _images) = labelled_context(&format!(
        "FROM {}\nARG VERSION\nRUN echo \"$VERSION\" > /version\n",
        busybox()
    ));
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);
    let old = build(cache.path(), context.path(), &tag, "1", "buildkit");
    let new = build(cache.path(), context.path(), &tag, "2", "buildkit");
    assert_ne!(old, new);
    std::fs::remove_dir_all(cache.path().join("records")).unwrap();

    // The current image by its tag; the superseded one has neither tag nor record, so no name
    // a selection could match: it is listed with every image kiln built.
    let named = json(&kiln_ok(
        cache.path(),
        &["images", "ls", &repository, "--json"],
    ));
    assert_eq!(ids(&named["images"]), vec![new.clone()], "{named:#}");
    assert_eq!(named["images"][0]["name"], tag.as_str());
    assert!(named["images"][0]["fingerprint"].is_string());
    let everything = json(&kiln_ok(cache.path(), &["images", "ls", "--json"]));
    let old_entry = everything["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|image| image["id"] == old.as_str())
        .unwrap_or_else(|| panic!("{old} is listed: {everything:#}"));
    assert_eq!(old_entry["name"], Value::Null, "{old_entry}");
    assert_eq!(old_entry["tags"], serde_json::json!([]), "{old_entry}");
    assert!(
        old_entry["fingerprint"].is_string(),
        "its label: {old_entry}"
    );
}
