//! `kiln cache prune` as a user runs it, and the cache directory's modes after a first run.
//! No daemon is needed: the cache is read and pruned on disk, and `plan` decides from the
//! records, so these tests point `DOCKER_HOST` at a socket that does not exist.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use kiln_cache::{BuildRecord, RECORD_SCHEMA, RecordStore};
use kiln_core::BuilderKind;
use kiln_core::fingerprint::Fingerprint;
use kiln_tests::kiln;
use kiln_tests::output::{json, stderr, stdout};

const NO_DAEMON: &str = "unix:///nonexistent/kiln-cache-test.sock";

fn kiln_in(cache: &Path, args: &[&str]) -> Command {
    let mut command = kiln(args);
    command
        .env("KILN_CACHE_DIR", cache)
        .env_remove("KILN_CONFIG")
        .env("XDG_CONFIG_HOME", "/nonexistent/kiln-cache-test-config")
        .env("DOCKER_HOST", NO_DAEMON);
    command
}

/// Records a build of `name` under `tag`, `age_s` seconds ago.
fn record(store: &RecordStore, name: &str, tag: &str, age_s: u64) -> Fingerprint {
    let manifest = kiln_core::testing::manifest(&format!("FROM scratch\nLABEL name={name}\n"));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let record = BuildRecord {
        schema: RECORD_SCHEMA,
        fingerprint: manifest.fingerprint(),
        image_id: kiln_core::testing::image_id(name),
        tags: vec![tag.to_owned()],
        size_bytes: 1,
        built_at: now - age_s,
        duration_ms: 1,
        builder: BuilderKind::Classic,
        platform: "linux/amd64".into(),
    };
    store.put(&record, &manifest).unwrap();
    record.fingerprint
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn prune_lists_first_then_removes_old_records_with_their_files() {
    let cache = tempfile::tempdir().unwrap();
    let store = RecordStore::new(cache.path());
    let old = record(&store, "old", "old:latest", 40 * 86_400);
    let new = record(&store, "new", "new:latest", 60);

    let output = kiln_in(
        cache.path(),
        &[
            "cache",
            "prune",
            "--older-than",
            "30d",
            "--dry-run",
            "--json",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(report["dry_run"], true, "{report}");
    assert_eq!(report["removed"][0]["fingerprint"], old.to_string());
    assert_eq!(report["removed"][0]["reason"], "age");
    assert_eq!(report["removed"][0]["tags"][0], "old:latest");
    assert_eq!(report["removed"].as_array().map(Vec::len), Some(1));
    assert_eq!(report["kept"], 1);
    assert!(
        store.get(&old).unwrap().is_some(),
        "a dry run removed a record"
    );

    let output = kiln_in(cache.path(), &["cache", "prune", "--older-than", "30d"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("removed") && text.contains("old:latest") && text.contains("by age"),
        "{text}"
    );
    assert_eq!(store.get(&old).unwrap(), None);
    assert_eq!(store.manifest(&old).unwrap(), None);
    assert_eq!(store.last_for_tag("old:latest").unwrap(), None);
    assert!(store.get(&new).unwrap().is_some());
    assert_eq!(store.last_for_tag("new:latest").unwrap(), Some(new));
}

#[test]
fn prune_by_size_keeps_the_newest() {
    let cache = tempfile::tempdir().unwrap();
    let store = RecordStore::new(cache.path());
    let oldest = record(&store, "a", "a:1", 300);
    let newest = record(&store, "b", "b:1", 100);
    let output = kiln_in(
        cache.path(),
        &["cache", "prune", "--max-size", "1KiB", "--json"],
    )
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(report["removed"][0]["fingerprint"], oldest.to_string());
    assert_eq!(report["removed"][0]["reason"], "size");
    assert!(report["kept_bytes"].as_u64().unwrap() <= 1024, "{report}");
    assert!(store.get(&newest).unwrap().is_some());
}

#[test]
fn bad_prune_limits_are_exit_2_naming_the_flag() {
    let cache = tempfile::tempdir().unwrap();
    for (flag, value) in [("--older-than", "3x"), ("--max-size", "lots")] {
        let output = kiln_in(cache.path(), &["cache", "prune", flag, value, "--json"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        let text = json(&output).to_string();
        assert!(text.contains(flag) && text.contains(value), "{text}");
    }
}

#[test]
fn a_first_run_makes_the_cache_private() {
    let parent = tempfile::tempdir().unwrap();
    let cache = parent.path().join("kiln");
    let output = kiln_in(&cache, &["plan", "examples/hello", "--json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(mode(&cache), 0o700);
    assert_eq!(mode(&cache.join("stat")), 0o700);
    for entry in fs::read_dir(cache.join("stat")).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    assert_eq!(mode(&cache.join("l1.json")), 0o600);
}
