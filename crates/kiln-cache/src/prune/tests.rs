//! Pruning by age, by size, by default after writes; corrupt entries, orphans and locks.

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime};

use kiln_core::BuilderKind;
use kiln_core::testing::manifest;

use super::*;
use crate::lock::BuildLock;
use crate::records::RECORD_SCHEMA;

/// Puts a record built at `built_at` under `tag`; returns its fingerprint.
fn put(store: &RecordStore, name: &str, built_at: u64, tag: &str) -> Fingerprint {
    let manifest = manifest(name);
    let record = BuildRecord {
        schema: RECORD_SCHEMA,
        fingerprint: manifest.fingerprint(),
        image_id: kiln_core::testing::image_id(name),
        tags: vec![tag.to_owned()],
        size_bytes: 10,
        built_at,
        duration_ms: 2,
        builder: BuilderKind::Classic,
        platform: "linux/amd64".into(),
    };
    store.put(&record, &manifest).unwrap();
    record.fingerprint
}

fn unbounded(dir: &Path) -> RecordStore {
    RecordStore::new(dir).with_max_bytes(None)
}

fn names(report: &PruneReport) -> Vec<(String, PruneReason)> {
    report
        .removed
        .iter()
        .map(|record| (record.tags.join(","), record.reason))
        .collect()
}

#[test]
fn by_age_removes_records_with_their_manifests_and_tags_after_a_dry_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = unbounded(dir.path());
    let old = put(&store, "old", 100, "old:1");
    let middle = put(&store, "middle", 200, "middle:1");
    let new = put(&store, "new", 300, "new:1");
    let limits = PruneLimits {
        older_than_s: Some(200),
        max_bytes: None,
    };
    let before = stored_bytes(&store);

    let dry = prune(&store, limits, 400, true).unwrap();
    assert!(dry.dry_run);
    assert_eq!(
        names(&dry),
        [
            ("old:1".into(), PruneReason::Age),
            ("middle:1".into(), PruneReason::Age)
        ]
    );
    assert_eq!(stored_bytes(&store), before, "a dry run removed something");
    assert!(store.get(&old).unwrap().is_some());

    let report = prune(&store, limits, 400, false).unwrap();
    assert_eq!(names(&report), names(&dry));
    assert_eq!(report.freed_bytes, dry.freed_bytes);
    assert_eq!((report.kept, report.kept_bytes), (1, stored_bytes(&store)));
    assert_eq!(report.freed_bytes + report.kept_bytes, before);
    for gone in [&old, &middle] {
        assert_eq!(store.get(gone).unwrap(), None);
        assert_eq!(store.manifest(gone).unwrap(), None);
    }
    assert_eq!(store.last_for_tag("old:1").unwrap(), None);
    assert_eq!(store.last_for_tag("middle:1").unwrap(), None);
    assert_eq!(store.last_for_tag("new:1").unwrap(), Some(new.clone()));
    assert!(store.manifest(&new).unwrap().is_some());
}

#[test]
fn by_size_removes_the_oldest_until_it_fits() {
    let dir = tempfile::tempdir().unwrap();
    let store = unbounded(dir.path());
    put(&store, "first", 100, "a:1");
    let one = stored_bytes(&store);
    put(&store, "secnd", 300, "b:1");
    put(&store, "third", 200, "c:1");
    let limits = PruneLimits {
        older_than_s: None,
        max_bytes: Some(one + 1),
    };
    let report = prune(&store, limits, 400, false).unwrap();
    assert_eq!(
        names(&report),
        [
            ("a:1".into(), PruneReason::Size),
            ("c:1".into(), PruneReason::Size)
        ]
    );
    assert_eq!(report.kept, 1);
    assert!(stored_bytes(&store) <= one + 1);
    assert!(store.last_for_tag("b:1").unwrap().is_some());
}

#[test]
fn a_tag_moved_to_a_newer_record_stays() {
    let dir = tempfile::tempdir().unwrap();
    let store = unbounded(dir.path());
    put(&store, "old", 100, "app:latest");
    let new = put(&store, "new", 300, "app:latest");
    let limits = PruneLimits {
        older_than_s: Some(100),
        max_bytes: None,
    };
    let report = prune(&store, limits, 250, false).unwrap();
    assert_eq!(report.removed.len(), 1);
    assert_eq!(store.last_for_tag("app:latest").unwrap(), Some(new));
}

#[test]
fn corrupt_records_and_orphans_go_without_limits() {
    let dir = tempfile::tempdir().unwrap();
    let store = unbounded(dir.path());
    let kept = put(&store, "kept", 100, "kept:1");
    let corrupt = put(&store, "corrupt", 100, "corrupt:1");
    fs::write(store.record_path(&corrupt), "").unwrap();
    // A tag pointer whose record is gone, and an old manifest without a record.
    let gone = put(&store, "gone", 100, "gone:1");
    fs::remove_file(store.record_path(&gone)).unwrap();
    let old = SystemTime::now() - Duration::from_secs(ORPHAN_GRACE_S + 60);
    File::options()
        .write(true)
        .open(store.manifest_path(&gone))
        .unwrap()
        .set_modified(old)
        .unwrap();
    // A manifest just written, whose record is not yet: it stays.
    let fresh = manifest("fresh");
    crate::dir::write_json(
        &store.manifest_path(&fresh.fingerprint()),
        &fresh,
        crate::dir::Durability::Flushed,
    )
    .unwrap();

    let report = prune(&store, PruneLimits::default(), 200, false).unwrap();
    assert_eq!(names(&report), [(String::new(), PruneReason::Corrupt)]);
    assert_eq!(report.removed[0].fingerprint, corrupt.to_string());
    assert_eq!(report.orphans, 2);
    assert!(!store.manifest_path(&corrupt).exists());
    assert!(!store.tag_path("corrupt:1").exists());
    assert!(!store.tag_path("gone:1").exists());
    assert!(!store.manifest_path(&gone).exists());
    assert!(store.manifest_path(&fresh.fingerprint()).exists());
    assert!(store.get(&kept).unwrap().is_some());
    assert_eq!(report.kept, 1);
}

#[test]
fn a_tier_verification_goes_with_its_record_or_alone_after_the_grace() {
    let dir = tempfile::tempdir().unwrap();
    let store = unbounded(dir.path());
    let old = put(&store, "old-tier", 100, "tier:1");
    let new = put(&store, "new-tier", 300, "tier:2");
    let verify = |fingerprint: &Fingerprint| {
        let path = store.verification_path(fingerprint);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, "{}").unwrap();
        path
    };
    let (old_verification, new_verification) = (verify(&old), verify(&new));
    // A verification whose record is gone, old enough to be an orphan; one just written stays.
    let orphan = verify(&manifest("gone").fingerprint());
    File::options()
        .write(true)
        .open(&orphan)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(ORPHAN_GRACE_S + 60))
        .unwrap();
    let fresh = verify(&manifest("fresh").fingerprint());
    let before = stored_bytes(&store);

    let limits = PruneLimits {
        older_than_s: Some(150),
        max_bytes: None,
    };
    let report = prune(&store, limits, 400, false).unwrap();
    assert_eq!(names(&report), [("tier:1".to_owned(), PruneReason::Age)]);
    assert!(!old_verification.exists());
    assert!(new_verification.exists());
    assert!(!orphan.exists());
    assert!(fresh.exists());
    assert_eq!(report.orphans, 1);
    assert_eq!(stored_bytes(&store), before - report.freed_bytes);
}

#[test]
fn free_locks_go_and_held_ones_stay() {
    let dir = tempfile::tempdir().unwrap();
    let store = unbounded(dir.path());
    let held_fingerprint = put(&store, "held", 100, "held:1");
    let free_fingerprint = put(&store, "free", 100, "free:1");
    let held = BuildLock::acquire(dir.path(), &held_fingerprint).unwrap();
    let free = BuildLock::acquire(dir.path(), &free_fingerprint).unwrap();
    let free_path = free.path().to_owned();
    drop(free);
    let mode = fs::metadata(held.path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let dry = prune(&store, PruneLimits::default(), 200, true).unwrap();
    assert_eq!((dry.locks, dry.locks_held), (1, 1));
    assert!(free_path.exists());

    let report = prune(&store, PruneLimits::default(), 200, false).unwrap();
    assert_eq!((report.locks, report.locks_held), (1, 1));
    assert!(!free_path.exists());
    assert!(held.path().exists(), "a held lock was removed");
    // The held lock still excludes others, and a removed one is made again.
    assert!(matches!(
        BuildLock::try_acquire(dir.path(), &held_fingerprint).unwrap(),
        TryLock::Busy { .. }
    ));
    let again = BuildLock::acquire(dir.path(), &free_fingerprint).unwrap();
    assert!(again.path().exists());
}

#[test]
fn writes_keep_the_default_bound() {
    let dir = tempfile::tempdir().unwrap();
    let probe = unbounded(dir.path());
    put(&probe, "probe", 1, "probe:1");
    let one = stored_bytes(&probe);
    fs::remove_dir_all(dir.path()).unwrap();

    let store = RecordStore::new(dir.path()).with_max_bytes(Some(one * 5 / 2));
    let first = put(&store, "first", 100, "a:1");
    let second = put(&store, "second", 200, "b:1");
    assert!(store.get(&first).unwrap().is_some());
    let third = put(&store, "third", 300, "c:1");
    // Past the bound: the oldest go until the store fits nine tenths of it.
    assert_eq!(store.get(&first).unwrap(), None);
    assert!(store.get(&second).unwrap().is_some());
    assert!(store.get(&third).unwrap().is_some());
    assert!(stored_bytes(&store) <= one * 5 / 2 / 10 * 9);
    assert_eq!(
        RecordStore::new(dir.path()).max_bytes(),
        Some(DEFAULT_MAX_BYTES)
    );
}

#[test]
fn ages_and_sizes_parse_or_say_what_was_expected() {
    for (input, seconds) in [("30d", 30 * 86_400), ("12h", 43_200), ("45m", 2700)] {
        assert_eq!(parse_age("--older-than", input).unwrap(), seconds);
    }
    assert_eq!(parse_age("--older-than", "2w").unwrap(), 14 * 86_400);
    assert_eq!(parse_age("--older-than", "0s").unwrap(), 0);
    for bad in ["", "30", "d", "3x", "-1d", "1.5h", "99999999999999999999d"] {
        let error = parse_age("--older-than", bad).unwrap_err().to_string();
        assert!(
            error.contains("--older-than") && error.contains("30d"),
            "{error}"
        );
    }
    for (input, bytes) in [
        ("500MiB", 500 << 20),
        ("2GiB", 2 << 30),
        ("100MB", 100_000_000),
        ("64 KiB", 64 << 10),
        ("1048576", 1 << 20),
        ("0", 0),
    ] {
        assert_eq!(parse_size("--max-size", input).unwrap(), bytes, "{input}");
    }
    for bad in ["", "MiB", "5 parsecs", "1.5GiB", "-3", "99999999999TiB"] {
        let error = parse_size("--max-size", bad).unwrap_err().to_string();
        assert!(
            error.contains("--max-size") && error.contains("MiB"),
            "{error}"
        );
    }
}
