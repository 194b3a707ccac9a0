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
//! Several processes may write at once: each file is replaced whole by a rename, so a reader
//! sees one complete version. A file that does not parse, has another schema, or names another
//! fingerprint than its file name is reported as an error, which callers treat as a miss.

use std::fs;
use std::path::{Path, PathBuf};

use kiln_core::fingerprint::{Fingerprint, InputsManifest};
use kiln_core::{BuilderKind, Error, ImageId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::dir::{cache_error, read_json, write_json};

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
struct TagPointer {
    schema: u32,
    tag: String,
    fingerprint: Fingerprint,
}

/// The build records of one cache directory.
#[derive(Debug, Clone)]
pub struct RecordStore {
    root: PathBuf,
}

impl RecordStore {
    /// The records under `cache_dir`. Nothing is created until something is written.
    pub fn new(cache_dir: &Path) -> Self {
        RecordStore {
            root: cache_dir.to_owned(),
        }
    }

    /// The cache directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where stat indexes live.
    pub fn stat_dir(&self) -> PathBuf {
        self.root.join("stat")
    }

    fn record_path(&self, fingerprint: &Fingerprint) -> PathBuf {
        self.root
            .join("records")
            .join(format!("{fingerprint}.json"))
    }

    fn manifest_path(&self, fingerprint: &Fingerprint) -> PathBuf {
        self.root
            .join("manifests")
            .join(format!("{fingerprint}.json"))
    }

    fn tag_path(&self, tag: &str) -> PathBuf {
        let key = hex::encode(Sha256::digest(tag.as_bytes()));
        self.root.join("tags").join(format!("{}.json", &key[..32]))
    }

    /// The record of `fingerprint`, if one was written.
    pub fn get(&self, fingerprint: &Fingerprint) -> Result<Option<BuildRecord>, Error> {
        let path = self.record_path(fingerprint);
        let Some(record) = read_json::<BuildRecord>(&path)? else {
            return Ok(None);
        };
        if record.schema != RECORD_SCHEMA || record.fingerprint != *fingerprint {
            return Err(cache_error(
                "read",
                &path,
                "a record of another schema or fingerprint",
            ));
        }
        Ok(Some(record))
    }

    /// The inputs recorded with `fingerprint`.
    pub fn manifest(&self, fingerprint: &Fingerprint) -> Result<Option<InputsManifest>, Error> {
        let path = self.manifest_path(fingerprint);
        let manifest = read_json::<InputsManifest>(&path)?;
        match manifest {
            Some(manifest) if manifest.fingerprint() != *fingerprint => Err(cache_error(
                "read",
                &path,
                "a manifest that does not hash to its name",
            )),
            other => Ok(other),
        }
    }

    /// Writes a record with its manifest and points each of its tags at it.
    pub fn put(&self, record: &BuildRecord, manifest: &InputsManifest) -> Result<(), Error> {
        write_json(&self.manifest_path(&record.fingerprint), manifest)?;
        write_json(&self.record_path(&record.fingerprint), record)?;
        for tag in &record.tags {
            self.point_tag(tag, &record.fingerprint)?;
        }
        Ok(())
    }

    /// Remembers that `tag` was last built or reused from `fingerprint`.
    pub fn point_tag(&self, tag: &str, fingerprint: &Fingerprint) -> Result<(), Error> {
        let pointer = TagPointer {
            schema: RECORD_SCHEMA,
            tag: tag.to_owned(),
            fingerprint: fingerprint.clone(),
        };
        write_json(&self.tag_path(tag), &pointer)
    }

    /// The fingerprint `tag` was last built or reused from.
    pub fn last_for_tag(&self, tag: &str) -> Result<Option<Fingerprint>, Error> {
        let path = self.tag_path(tag);
        match read_json::<TagPointer>(&path)? {
            Some(pointer) if pointer.schema == RECORD_SCHEMA && pointer.tag == tag => {
                Ok(Some(pointer.fingerprint))
            }
            Some(_) => Err(cache_error(
                "read",
                &path,
                "a tag pointer for another tag or schema",
            )),
            None => Ok(None),
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::fingerprint::FINGERPRINT_SCHEMA;
    use std::collections::BTreeMap;

    fn manifest(dockerfile: &str) -> InputsManifest {
        InputsManifest {
            schema: FINGERPRINT_SCHEMA,
            dockerfile: dockerfile.into(),
            files: vec![],
            build_args: BTreeMap::new(),
            target: None,
            platform: "linux/amd64".into(),
            build_mode: String::new(),
            runtime_mode: "minimal".into(),
            builder: BuilderKind::Classic,
            base_images: BTreeMap::new(),
            labels: BTreeMap::new(),
        }
    }

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
    fn corrupt_and_foreign_entries_are_errors_not_panics() {
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
        let error = store.get(&second.fingerprint()).unwrap_err();
        assert!(
            error.to_string().contains("another schema or fingerprint"),
            "{error}"
        );
        fs::write(store.record_path(&first.fingerprint()), "{not json").unwrap();
        assert!(store.get(&first.fingerprint()).is_err());
        assert_eq!(store.all().0.len(), 0);
        assert_eq!(store.all().1, 2);
    }
}
