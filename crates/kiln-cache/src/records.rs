//! L2: build records on disk — fingerprint → image, and the inputs that made it.
//!
//! Layout under the cache directory (every file JSON, private, written atomically):
//!
//! ```text
//! records/<fingerprint>.json     BuildRecord: image id, tags, size, when, builder, platform
//! manifests/<fingerprint>.json   InputsManifest: the inputs, to explain the next miss
//! tags/<sha256(tag)[..32]>.json  the fingerprint last built or reused under that tag
//! ```
//!
//! Several processes may write at once: each file is replaced whole by a rename (synced first),
//! so a reader sees one complete version. A file that does not parse, has another schema, or
//! names another fingerprint or tag than its file name is corrupt: it is removed and reported
//! as an error, which callers warn about and treat as a miss.
//!
//! The records are bounded in size: after a write takes them past [`RecordStore::max_bytes`],
//! the oldest are pruned (see [`crate::prune`]).

use std::fs;
use std::path::{Path, PathBuf};

use kiln_core::fingerprint::{Fingerprint, InputsManifest};
use kiln_core::{BuilderKind, Error, ImageId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::dir::{Durability, read_json_or_repair, write_json};
use crate::prune::{self, PruneLimits};

/// Version of the record files' layout.
pub const RECORD_SCHEMA: u32 = 1;

/// One successful build (or the reuse of one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildRecord {
    /// [`RECORD_SCHEMA`] when written.
    pub schema: u32,
    /// The fingerprint of the inputs.
    pub fingerprint: Fingerprint,
    /// The image built from them.
    pub image_id: ImageId,
    /// The tags it was given.
    pub tags: Vec<String>,
    /// Its size in bytes.
    pub size_bytes: u64,
    /// When it was built, seconds since the epoch.
    pub built_at: u64,
    /// How long the build took.
    pub duration_ms: u64,
    /// The builder that built it.
    pub builder: BuilderKind,
    /// The platform it was built for.
    pub platform: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct TagPointer {
    pub(crate) schema: u32,
    pub(crate) tag: String,
    pub(crate) fingerprint: Fingerprint,
}

/// The build records of one cache directory.
#[derive(Debug, Clone)]
pub struct RecordStore {
    root: PathBuf,
    max_bytes: Option<u64>,
}

impl RecordStore {
    /// The records under `cache_dir`, bounded by [`prune::DEFAULT_MAX_BYTES`]. Nothing is
    /// created until something is written.
    pub fn new(cache_dir: &Path) -> Self {
        RecordStore {
            root: cache_dir.to_owned(),
            max_bytes: Some(prune::DEFAULT_MAX_BYTES),
        }
    }

    /// Bounds the records, manifests and tag pointers to `max_bytes` in all (`None`: no
    /// bound).
    pub fn with_max_bytes(mut self, max_bytes: Option<u64>) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// The size bound kept after each write, if any.
    pub fn max_bytes(&self) -> Option<u64> {
        self.max_bytes
    }

    /// The cache directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where stat indexes live.
    pub fn stat_dir(&self) -> PathBuf {
        self.root.join("stat")
    }

    pub(crate) fn record_path(&self, fingerprint: &Fingerprint) -> PathBuf {
        self.root
            .join("records")
            .join(format!("{fingerprint}.json"))
    }

    pub(crate) fn manifest_path(&self, fingerprint: &Fingerprint) -> PathBuf {
        self.root
            .join("manifests")
            .join(format!("{fingerprint}.json"))
    }

    /// Where `kiln bases verify` keeps the verification of the base tier built as
    /// `fingerprint`; it goes when that build's record is pruned or forgotten.
    pub fn verification_path(&self, fingerprint: &Fingerprint) -> PathBuf {
        self.root.join("bases").join(format!("{fingerprint}.json"))
    }

    pub(crate) fn tag_path(&self, tag: &str) -> PathBuf {
        let key = hex::encode(Sha256::digest(tag.as_bytes()));
        self.root.join("tags").join(format!("{}.json", &key[..32]))
    }

    /// The record of `fingerprint`, if one was written. A corrupt one is removed and is an
    /// error.
    pub fn get(&self, fingerprint: &Fingerprint) -> Result<Option<BuildRecord>, Error> {
        read_json_or_repair(
            &self.record_path(fingerprint),
            "build record",
            |record: &BuildRecord| record_problem(record, fingerprint),
        )
    }

    /// The inputs recorded with `fingerprint`. A corrupt manifest is removed and is an error.
    pub fn manifest(&self, fingerprint: &Fingerprint) -> Result<Option<InputsManifest>, Error> {
        read_json_or_repair(
            &self.manifest_path(fingerprint),
            "inputs manifest",
            |manifest: &InputsManifest| {
                if manifest.fingerprint() == *fingerprint {
                    Ok(())
                } else {
                    Err("it does not hash to its name")
                }
            },
        )
    }

    /// Writes a record with its manifest and points each of its tags at it, then keeps the
    /// size bound (a failure there is logged, never the write's error).
    pub fn put(&self, record: &BuildRecord, manifest: &InputsManifest) -> Result<(), Error> {
        write_json(
            &self.manifest_path(&record.fingerprint),
            manifest,
            Durability::Synced,
        )?;
        write_json(
            &self.record_path(&record.fingerprint),
            record,
            Durability::Synced,
        )?;
        for tag in &record.tags {
            self.point_tag(tag, &record.fingerprint)?;
        }
        if let Some(max_bytes) = self.max_bytes {
            self.keep_bound(max_bytes, record.built_at);
        }
        Ok(())
    }

    /// Prunes the oldest records when the store passed `max_bytes`, down to nine tenths of it
    /// (so the next writes do not prune again at once). Costs one `stat` per file when under.
    fn keep_bound(&self, max_bytes: u64, now_s: u64) {
        if prune::stored_bytes(self) <= max_bytes {
            return;
        }
        let limits = PruneLimits {
            older_than_s: None,
            max_bytes: Some(max_bytes / 10 * 9),
        };
        match prune::prune(self, limits, now_s, false) {
            Ok(report) => tracing::info!(
                records = report.removed.len(),
                freed_bytes = report.freed_bytes,
                max_bytes,
                "pruned the oldest build records past the cache size bound"
            ),
            Err(error) => tracing::warn!("{error}; the cache size bound is not kept"),
        }
    }

    /// Remembers that `tag` was last built or reused from `fingerprint`.
    pub fn point_tag(&self, tag: &str, fingerprint: &Fingerprint) -> Result<(), Error> {
        let pointer = TagPointer {
            schema: RECORD_SCHEMA,
            tag: tag.to_owned(),
            fingerprint: fingerprint.clone(),
        };
        write_json(&self.tag_path(tag), &pointer, Durability::Synced)
    }

    /// The fingerprint `tag` was last built or reused from. A corrupt pointer is removed and
    /// is an error.
    pub fn last_for_tag(&self, tag: &str) -> Result<Option<Fingerprint>, Error> {
        let pointer = read_json_or_repair(
            &self.tag_path(tag),
            "tag pointer",
            |pointer: &TagPointer| {
                if pointer.schema == RECORD_SCHEMA && pointer.tag == tag {
                    Ok(())
                } else {
                    Err("a pointer for another tag or schema")
                }
            },
        )?;
        Ok(pointer.map(|pointer| pointer.fingerprint))
    }

    /// Every readable record, and the number of files that could not be read.
    pub fn all(&self) -> (Vec<BuildRecord>, usize) {
        let mut records = Vec::new();
        let mut unreadable = 0;
        let Ok(entries) = fs::read_dir(self.root.join("records")) else {
            return (records, 0);
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let fingerprint = name
                .to_str()
                .and_then(|name| name.strip_suffix(".json"))
                .and_then(Fingerprint::parse);
            match fingerprint.map(|fingerprint| self.get(&fingerprint)) {
                Some(Ok(Some(record))) => records.push(record),
                // Temporary files of writers in progress are not records.
                None if name.to_string_lossy().starts_with(".tmp") => {}
                _ => unreadable += 1,
            }
        }
        (records, unreadable)
    }
}

/// Why `record` cannot stand under `fingerprint`'s name, if it cannot.
pub(crate) fn record_problem(
    record: &BuildRecord,
    fingerprint: &Fingerprint,
) -> Result<(), &'static str> {
    if record.schema != RECORD_SCHEMA || record.fingerprint != *fingerprint {
        return Err("a record of another schema or fingerprint");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::testing::manifest;

    fn record(manifest: &InputsManifest) -> BuildRecord {
        BuildRecord {
            schema: RECORD_SCHEMA,
            fingerprint: manifest.fingerprint(),
            image_id: kiln_core::testing::image_id("1"),
            tags: vec!["app:latest".into()],
            size_bytes: 10,
            built_at: 1,
            duration_ms: 2,
            builder: BuilderKind::Classic,
            platform: "linux/amd64".into(),
        }
    }

    #[test]
    fn put_get_and_tag_pointers() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecordStore::new(dir.path());
        let manifest = manifest("d");
        let record = record(&manifest);
        assert_eq!(store.get(&record.fingerprint).unwrap(), None);
        store.put(&record, &manifest).unwrap();
        assert_eq!(
            store.get(&record.fingerprint).unwrap(),
            Some(record.clone())
        );
        assert_eq!(store.manifest(&record.fingerprint).unwrap(), Some(manifest));
        assert_eq!(
            store.last_for_tag("app:latest").unwrap(),
            Some(record.fingerprint.clone())
        );
        assert_eq!(store.last_for_tag("other:latest").unwrap(), None);
        assert_eq!(store.all(), (vec![record], 0));
    }

    #[test]
    fn corrupt_and_foreign_records_are_errors_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecordStore::new(dir.path());
        let first = manifest("a");
        let second = manifest("b");
        store.put(&record(&first), &first).unwrap();
        // A record copied under another fingerprint's name is foreign.
        fs::copy(
            store.record_path(&first.fingerprint()),
            store.record_path(&second.fingerprint()),
        )
        .unwrap();
        fs::write(store.record_path(&first.fingerprint()), "{not json").unwrap();
        assert_eq!(store.all(), (vec![], 2));
        assert!(!store.record_path(&second.fingerprint()).exists());
        assert_eq!(store.all(), (vec![], 0));

        fs::write(store.record_path(&first.fingerprint()), "").unwrap();
        let error = store.get(&first.fingerprint()).unwrap_err().to_string();
        assert!(
            error.contains("corrupt build record") && error.contains("removed it"),
            "{error}"
        );
        assert_eq!(store.get(&first.fingerprint()).unwrap(), None);
    }

    #[test]
    fn corrupt_manifests_and_tag_pointers_are_errors_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecordStore::new(dir.path());
        let first = manifest("a");
        let second = manifest("b");
        store.put(&record(&first), &first).unwrap();
        let cases = [
            (store.manifest_path(&first.fingerprint()), "", "EOF"),
            (
                store.manifest_path(&first.fingerprint()),
                &serde_json::to_string(&second).unwrap()[..],
                "does not hash to its name",
            ),
            (store.tag_path("app:latest"), "{\"schema\": 1", "EOF"),
            (
                store.tag_path("app:latest"),
                &fs::read_to_string(store.tag_path("app:latest"))
                    .unwrap()
                    .replace("app:latest", "other:latest")[..],
                "another tag",
            ),
        ];
        for (path, content, expected) in cases {
            fs::write(&path, content).unwrap();
            let error = if path.starts_with(dir.path().join("tags")) {
                store.last_for_tag("app:latest").unwrap_err()
            } else {
                store.manifest(&first.fingerprint()).unwrap_err()
            }
            .to_string();
            assert!(
                error.contains(expected) && error.contains("removed it"),
                "{content:?}: {error}"
            );
            assert!(!path.exists(), "{content:?} stayed");
        }
        assert_eq!(store.manifest(&first.fingerprint()).unwrap(), None);
        assert_eq!(store.last_for_tag("app:latest").unwrap(), None);
        store.put(&record(&first), &first).unwrap();
        assert_eq!(store.manifest(&first.fingerprint()).unwrap(), Some(first));
    }
}
