//! Forgetting builds whose images are gone: each record with its inputs manifest, a base
//! tier's verification and every tag pointer that names it, as [`crate::prune`] removes them,
//! chosen by fingerprint.
//!
//! A tag pointer that names another build (the tag was rebuilt since) stays: it is how the
//! next build of that tag explains what changed.

use std::collections::BTreeSet;
use std::fs;

use kiln_core::{Error, Fingerprint};

use crate::dir::read_json;
use crate::prune::{json_files, remove};
use crate::records::{RecordStore, TagPointer};

/// Removes the records of `fingerprints` with their manifests, verifications and the tag
/// pointers that name them; returns the bytes removed. Files already gone (another process) are skipped.
pub fn forget(store: &RecordStore, fingerprints: &BTreeSet<Fingerprint>) -> Result<u64, Error> {
    if fingerprints.is_empty() {
        return Ok(0);
    }
    let mut files = Vec::new();
    for fingerprint in fingerprints {
        files.push(store.record_path(fingerprint));
        files.push(store.manifest_path(fingerprint));
        files.push(store.verification_path(fingerprint));
    }
    for (path, _) in json_files(&store.root().join("tags")) {
        // An unreadable pointer is not this function's business: `kiln cache prune` removes it.
        if let Ok(Some(pointer)) = read_json::<TagPointer>(&path)
            && fingerprints.contains(&pointer.fingerprint)
            && store.tag_path(&pointer.tag) == path
        {
            files.push(path);
        }
    }
    let mut bytes = 0;
    for file in files {
        let Ok(metadata) = fs::metadata(&file) else {
            continue;
        };
        remove(&file)?;
        bytes += metadata.len();
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{BuildRecord, RECORD_SCHEMA};
    use kiln_core::BuilderKind;
    use kiln_core::testing::{image_id, manifest};

    fn put(store: &RecordStore, dockerfile: &str, tag: &str) -> Fingerprint {
        let manifest = manifest(dockerfile);
        let record = BuildRecord {
            schema: RECORD_SCHEMA,
            fingerprint: manifest.fingerprint(),
            image_id: image_id(dockerfile),
            tags: vec![tag.to_owned()],
            size_bytes: 1,
            built_at: 1,
            duration_ms: 1,
            builder: BuilderKind::Classic,
            platform: "linux/amd64".into(),
        };
        store.put(&record, &manifest).unwrap();
        record.fingerprint
    }

    #[test]
    fn a_forgotten_build_leaves_no_file_and_the_others_stay() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecordStore::new(dir.path());
        let old = put(&store, "FROM scratch\n# old", "app:1");
        let new = put(&store, "FROM scratch\n# new", "app:1");
        let other = put(&store, "FROM scratch\n# other", "other:1");
        store.point_tag("app:retagged", &old).unwrap();
        let verification = store.verification_path(&old);
        fs::create_dir_all(verification.parent().unwrap()).unwrap();
        fs::write(&verification, "{}").unwrap();

        let bytes = forget(&store, &BTreeSet::from([old.clone()])).unwrap();
        assert!(bytes > 0);
        assert!(
            !verification.exists(),
            "a base tier's verification goes too"
        );
        assert_eq!(store.get(&old).unwrap(), None);
        assert_eq!(store.manifest(&old).unwrap(), None);
        assert_eq!(store.last_for_tag("app:retagged").unwrap(), None);
        assert_eq!(
            store.last_for_tag("app:1").unwrap(),
            Some(new.clone()),
            "the pointer of the newer build stays"
        );
        assert!(store.get(&new).unwrap().is_some());
        assert!(store.get(&other).unwrap().is_some());
        assert_eq!(
            forget(&store, &BTreeSet::from([old])).unwrap(),
            0,
            "again: nothing"
        );
        assert_eq!(forget(&store, &BTreeSet::new()).unwrap(), 0);
    }
}
