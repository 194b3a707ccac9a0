//! The stat index: what each file looked like when it was last hashed, so that an unchanged
//! tree is checked with a `stat` per file and no read.
//!
//! An entry is trusted when size, modification and change times (to the nanosecond), inode and
//! device all match — and only if the file's modification time is older than the moment the
//! scan that recorded it began (the racy-timestamp rule git follows): a file written while it
//! was being recorded is hashed again next time.

use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::inputs::hashing::DigestBytes;
use crate::walk::ContextEntry;

const MAGIC: &str = "kiln-stat-index";
const VERSION: u32 = 1;

/// A file-system timestamp: seconds and nanoseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
pub struct Timestamp {
    /// Seconds.
    pub secs: i64,
    /// Nanoseconds within the second.
    pub nanos: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct IndexEntry {
    size: u64,
    mtime: Timestamp,
    ctime: Timestamp,
    ino: u64,
    dev: u64,
    digest: DigestBytes,
}

#[derive(Debug, Serialize, Deserialize)]
struct IndexFile {
    magic: String,
    version: u32,
    scan_started: Timestamp,
    entries: Vec<(Vec<u8>, IndexEntry)>,
}

/// Path → (stat, digest) for the files of one context directory.
#[derive(Debug, Clone, Default)]
pub struct StatIndex {
    scan_started: Timestamp,
    entries: FxHashMap<Vec<u8>, IndexEntry>,
}

/// Why a stored index could not be used (it is then treated as empty).
#[derive(Debug, thiserror::Error)]
pub enum IndexLoadError {
    /// Reading failed.
    #[error("cannot read the stat index: {0}")]
    Io(#[from] io::Error),
    /// The file is not an index of this version.
    #[error("the stat index is corrupt or of another kiln version")]
    Corrupt,
}

fn mtime_of(entry: &ContextEntry) -> Timestamp {
    Timestamp {
        secs: entry.mtime,
        nanos: entry.mtime_nsec,
    }
}

fn ctime_of(entry: &ContextEntry) -> Timestamp {
    Timestamp {
        secs: entry.ctime,
        nanos: entry.ctime_nsec,
    }
}

impl StatIndex {
    /// An empty index for a scan that began at `scan_started` (file-system time).
    pub fn new(scan_started: Timestamp) -> Self {
        StatIndex {
            scan_started,
            entries: FxHashMap::default(),
        }
    }

    /// Loads the index at `path`. A missing file is an empty index; a corrupt one is an error
    /// the caller reports as a warning before continuing with an empty index.
    pub fn load(path: &Path) -> Result<StatIndex, IndexLoadError> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Ok(StatIndex::default());
            }
            Err(error) => return Err(error.into()),
        };
        let file: IndexFile = postcard::from_bytes(&bytes).map_err(|_| IndexLoadError::Corrupt)?;
        if file.magic != MAGIC || file.version != VERSION {
            return Err(IndexLoadError::Corrupt);
        }
        Ok(StatIndex {
            scan_started: file.scan_started,
            entries: file.entries.into_iter().collect(),
        })
    }

    /// The recorded digest of `entry`, if its stat matches and it was not racy when recorded.
    pub fn digest_of(&self, entry: &ContextEntry) -> Option<DigestBytes> {
        let known = self.entries.get(entry.path_bytes())?;
        let unchanged = known.size == entry.size
            && known.mtime == mtime_of(entry)
            && known.ctime == ctime_of(entry)
            && known.ino == entry.ino
            && known.dev == entry.dev;
        (unchanged && known.mtime < self.scan_started).then_some(known.digest)
    }

    /// Records `entry` with its `digest`.
    pub fn insert(&mut self, entry: &ContextEntry, digest: DigestBytes) {
        self.entries.insert(
            entry.path_bytes().to_vec(),
            IndexEntry {
                size: entry.size,
                mtime: mtime_of(entry),
                ctime: ctime_of(entry),
                ino: entry.ino,
                dev: entry.dev,
                digest,
            },
        );
    }

    /// The number of files recorded.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Writes the index to `path` atomically (a temporary file renamed over it), readable by
    /// the owner only.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let mut entries: Vec<(Vec<u8>, IndexEntry)> = self
            .entries
            .iter()
            .map(|(path, entry)| (path.clone(), entry.clone()))
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let file = IndexFile {
            magic: MAGIC.to_owned(),
            version: VERSION,
            scan_started: self.scan_started,
            entries,
        };
        let bytes = postcard::to_stdvec(&file).map_err(io::Error::other)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        create_private_dir(dir)?;
        // Named after the process as the cache's own temporary files are
        // (`kiln_cache::dir::temporary_in`), so a killed writer's file is swept later.
        let mut temporary = tempfile::Builder::new()
            .prefix(&format!(".tmp-{}-", std::process::id()))
            .tempfile_in(dir)?;
        io::Write::write_all(&mut temporary, &bytes)?;
        temporary.persist(path).map_err(|error| error.error)?;
        Ok(())
    }
}

/// The file system's current time, read by touching a probe file in `dir`: file times come
/// from the kernel's coarse clock, which can lag the system clock, so the racy-timestamp rule
/// must compare against the same clock.
pub fn file_system_now(dir: &Path) -> io::Result<Timestamp> {
    create_private_dir(dir)?;
    let probe = dir.join(".clock");
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&probe)?;
    let metadata = fs::metadata(&probe)?;
    Ok(Timestamp {
        secs: metadata.mtime(),
        nanos: metadata.mtime_nsec(),
    })
}

/// Creates `dir` and the parents it lacks, readable by the owner only (the cache directory's
/// rule).
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// The index file for the context rooted at `root` inside the cache directory `dir`.
pub fn index_path(dir: &Path, root: &Path) -> std::path::PathBuf {
    use sha2::{Digest, Sha256};
    let key = hex::encode(Sha256::digest(root.as_os_str().as_bytes()));
    dir.join(format!("{}.idx", &key[..32]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerignore::PatternMatcher;
    use crate::walk::walk;

    fn entries(root: &Path) -> Vec<ContextEntry> {
        walk(root, &PatternMatcher::new::<&str>(&[]).unwrap())
            .unwrap()
            .entries
    }

    #[test]
    fn round_trip_and_racy_rule() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a"), "a").unwrap();
        let before = entries(dir.path());

        // Recorded by a scan that began before the file was written: racy, not trusted.
        let mut racy = StatIndex::new(Timestamp::default());
        racy.insert(&before[0], [1; 32]);
        assert_eq!(racy.digest_of(&before[0]), None);

        let later = file_system_now(cache.path()).unwrap();
        let mut index = StatIndex::new(Timestamp {
            secs: later.secs + 1,
            nanos: 0,
        });
        index.insert(&before[0], [1; 32]);
        let path = cache.path().join("x.idx");
        index.save(&path).unwrap();
        let loaded = StatIndex::load(&path).unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded.digest_of(&before[0]), Some([1; 32]));

        fs::write(dir.path().join("a"), "b").unwrap();
        let after = entries(dir.path());
        assert_eq!(
            loaded.digest_of(&after[0]),
            None,
            "a changed file is not trusted"
        );
    }

    #[test]
    fn missing_is_empty_and_corrupt_is_an_error() {
        let cache = tempfile::tempdir().unwrap();
        assert!(
            StatIndex::load(&cache.path().join("none"))
                .unwrap()
                .is_empty()
        );
        fs::write(cache.path().join("bad"), b"\xff\xff not an index").unwrap();
        assert!(matches!(
            StatIndex::load(&cache.path().join("bad")),
            Err(IndexLoadError::Corrupt)
        ));
    }

    #[test]
    fn the_index_directory_and_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let cache = tempfile::tempdir().unwrap();
        let dir = cache.path().join("kiln").join("stat");
        file_system_now(&dir).unwrap();
        let path = index_path(&dir, Path::new("/ctx"));
        StatIndex::default().save(&path).unwrap();
        let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&cache.path().join("kiln")), 0o700);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(".clock")), 0o600);
        assert_eq!(mode(&path), 0o600);
    }
}
