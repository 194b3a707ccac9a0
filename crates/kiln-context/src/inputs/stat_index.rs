//! The stat index: what each file looked like when it was last hashed, so that an unchanged
//! tree is checked with a `stat` per file and no read.
//!
//! An entry is trusted when size, modification and change times (to the nanosecond), inode and
//! device all match — and only if the file's modification time is older than the moment the
//! scan that recorded it began (the racy-timestamp rule git follows): a file written while it
//! was being recorded is hashed again next time.

use std::cmp::Ordering;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::inputs::hashing::DigestBytes;
use crate::inputs::stat_index_file;
use crate::walk::ContextEntry;

/// A file-system timestamp: seconds and nanoseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Timestamp {
    /// Seconds.
    pub secs: i64,
    /// Nanoseconds within the second.
    pub nanos: i64,
}

/// One file as recorded; its path is `paths[previous record's path_end..path_end]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Record {
    pub(super) path_end: usize,
    pub(super) size: u64,
    pub(super) mtime: Timestamp,
    pub(super) ctime: Timestamp,
    pub(super) ino: u64,
    pub(super) dev: u64,
    pub(super) digest: DigestBytes,
}

/// Path → (stat, digest) for the files of one context directory, in walk order (see
/// [`walk_order`]): one block of paths and one buffer of fixed-size records encoded as in the
/// file, so that loading it allocates twice however many files there are and decodes only what a
/// lookup reads, and checking a walk against it is a merge.
#[derive(Debug, Clone, Default)]
pub struct StatIndex {
    scan_started: Timestamp,
    /// The records from `records_start` on (a loaded index keeps the file's header before them).
    records: Vec<u8>,
    records_start: usize,
    paths: Vec<u8>,
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

/// The order of the walk (depth first, names in byte order) on `/`-separated relative paths:
/// byte order with `/` sorting before every other byte, which compares component by component
/// since no name holds a `/` or a NUL.
pub fn walk_order(a: &[u8], b: &[u8]) -> Ordering {
    let key = |byte: &u8| if *byte == b'/' { 0 } else { *byte };
    a.iter().map(key).cmp(b.iter().map(key))
}

impl StatIndex {
    /// An empty index for a scan that began at `scan_started` (file-system time).
    pub fn new(scan_started: Timestamp) -> Self {
        StatIndex {
            scan_started,
            ..StatIndex::default()
        }
    }

    /// Loads the index at `path`. A missing file is an empty index; a corrupt one, or one
    /// written by another version, is an error the caller reports as a warning before
    /// continuing with an empty index.
    pub fn load(path: &Path) -> Result<StatIndex, IndexLoadError> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Ok(StatIndex::default());
            }
            Err(error) => return Err(error.into()),
        };
        let decoded = stat_index_file::decode(bytes)?;
        Ok(StatIndex {
            scan_started: decoded.scan_started,
            records: decoded.bytes,
            records_start: decoded.records_start,
            paths: decoded.paths,
        })
    }

    /// A cursor that answers for entries given in walk order.
    pub fn lookup(&self) -> Lookup<'_> {
        Lookup {
            index: self,
            next: 0,
        }
    }

    /// Records `entry` with its `digest`. Entries must come in walk order (as the walk gives
    /// them); one out of order is recorded but never found again.
    pub fn insert(&mut self, entry: &ContextEntry, digest: DigestBytes) {
        debug_assert!(
            self.is_empty()
                || walk_order(self.path(self.len() - 1), entry.path_bytes()) == Ordering::Less,
            "stat index entries in walk order"
        );
        self.paths.extend_from_slice(entry.path_bytes());
        let record = Record {
            path_end: self.paths.len(),
            size: entry.size,
            mtime: mtime_of(entry),
            ctime: ctime_of(entry),
            ino: entry.ino,
            dev: entry.dev,
            digest,
        };
        stat_index_file::encode_record(&mut self.records, &record);
    }

    /// The number of files recorded.
    pub fn len(&self) -> usize {
        (self.records.len() - self.records_start) / stat_index_file::RECORD_LEN
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The encoded record at `position`.
    fn record_bytes(&self, position: usize) -> &[u8] {
        let start = self.records_start + position * stat_index_file::RECORD_LEN;
        &self.records[start..start + stat_index_file::RECORD_LEN]
    }

    /// The path of record `position` (the offsets were checked when the index was loaded).
    fn path(&self, position: usize) -> &[u8] {
        let start = match position {
            0 => 0,
            _ => stat_index_file::path_end(self.record_bytes(position - 1)),
        };
        &self.paths[start..stat_index_file::path_end(self.record_bytes(position))]
    }

    /// Writes the index to `path` atomically (a temporary file renamed over it), readable by
    /// the owner only.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let bytes = stat_index_file::encode(
            self.scan_started,
            self.len(),
            &self.records[self.records_start..],
            &self.paths,
        );
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

/// Answers from a [`StatIndex`] for the entries of a walk, in the walk's order: it moves past
/// recorded files the walk no longer has, so a whole walk costs one pass over the index.
#[derive(Debug)]
pub struct Lookup<'a> {
    index: &'a StatIndex,
    next: usize,
}

impl Lookup<'_> {
    /// The recorded digest of `entry`, if its stat matches and it was not racy when recorded.
    /// `entry` must come after the entries asked about before it, in walk order.
    pub fn digest_of(&mut self, entry: &ContextEntry) -> Option<DigestBytes> {
        let wanted = entry.path_bytes();
        let index = self.index;
        while self.next < index.len() {
            let position = self.next;
            let recorded = index.path(position);
            // Nearly always equal on an unchanged tree: compare bytes before ordering them.
            let order = if recorded == wanted {
                Ordering::Equal
            } else {
                walk_order(recorded, wanted)
            };
            match order {
                Ordering::Less => self.next += 1,
                Ordering::Greater => return None,
                Ordering::Equal => {
                    self.next += 1;
                    let known = stat_index_file::decode_record(index.record_bytes(position));
                    let unchanged = known.size == entry.size
                        && known.mtime == mtime_of(entry)
                        && known.ctime == ctime_of(entry)
                        && known.ino == entry.ino
                        && known.dev == entry.dev;
                    return (unchanged && known.mtime < index.scan_started).then_some(known.digest);
                }
            }
        }
        None
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

    /// A file entry at `path` whose stat is made of `seed`, older than [`RECORDED_AT`].
    fn file(path: &str, seed: u64) -> ContextEntry {
        ContextEntry {
            path: path.into(),
            kind: crate::walk::EntryKind::File,
            mode: 0o644,
            size: seed,
            mtime: 1,
            mtime_nsec: seed as i64,
            ctime: 1,
            ctime_nsec: 0,
            ino: seed,
            dev: 1,
            nlink: 1,
            rdev: 0,
        }
    }

    const RECORDED_AT: Timestamp = Timestamp { secs: 10, nanos: 0 };

    /// An index of `paths` (in walk order), each file's digest its position.
    fn index_of(paths: &[&str]) -> StatIndex {
        let mut index = StatIndex::new(RECORDED_AT);
        for (position, path) in paths.iter().enumerate() {
            index.insert(&file(path, 7), [position as u8; 32]);
        }
        index
    }

    /// Looks up `walked` (in walk order) in an index of `recorded`: the paths found.
    fn found(recorded: &[&str], walked: &[&str]) -> Vec<String> {
        let index = index_of(recorded);
        let mut lookup = index.lookup();
        walked
            .iter()
            .filter(|path| {
                let digest = lookup.digest_of(&file(path, 7));
                let position = recorded.iter().position(|r| r == *path);
                assert_eq!(digest, position.map(|p| [p as u8; 32]), "{path}");
                digest.is_some()
            })
            .map(|path| (*path).to_owned())
            .collect()
    }

    #[test]
    fn walk_order_is_the_order_of_the_walk() {
        let dir = tempfile::tempdir().unwrap();
        for dir_name in ["a", "a/x", "a.b", "0"] {
            fs::create_dir(dir.path().join(dir_name)).unwrap();
        }
        for name in [
            "a-b",
            "a/x/y",
            "a/x-y",
            "a.b/c",
            "b",
            "a/x/\u{e9}",
            "A",
            "0/1",
        ] {
            fs::write(dir.path().join(name), name).unwrap();
        }
        let walked = entries(dir.path());
        let paths: Vec<&[u8]> = walked.iter().map(ContextEntry::path_bytes).collect();
        assert_eq!(paths.len(), 12);
        for pair in paths.windows(2) {
            assert_eq!(walk_order(pair[0], pair[1]), Ordering::Less, "{pair:?}");
        }
        assert_eq!(walk_order(b"a/x", b"a-b"), Ordering::Less);
        assert_eq!(walk_order(b"a", b"a/x"), Ordering::Less);
        assert_eq!(walk_order(b"a/x", b"a/x"), Ordering::Equal);
    }

    #[test]
    fn lookups_merge_past_added_removed_and_renamed_files() {
        let recorded = ["a/1", "a/2", "a/3", "b/1", "b/2", "c"];
        // Unchanged.
        assert_eq!(found(&recorded, &recorded), recorded);
        // Added in the middle, at the start and at the end.
        assert_eq!(
            found(
                &recorded,
                &["0", "a/1", "a/2", "a/2b", "a/3", "b/1", "b/2", "c", "d"]
            ),
            recorded
        );
        // Removed in the middle, at the start and at the end.
        assert_eq!(found(&recorded, &["a/2", "b/1"]), ["a/2", "b/1"]);
        // Renamed: a/2 -> a/2x (same place), b/1 -> a/9 (earlier), a/3 -> c0 (later).
        assert_eq!(
            found(&recorded, &["a/1", "a/2x", "a/9", "b/2", "c", "c0"]),
            ["a/1", "b/2", "c"]
        );
        // A directory's files against a sibling whose name sorts between them in byte order.
        assert_eq!(found(&["a/x", "a-b"], &["a/x", "a-b"]), ["a/x", "a-b"]);
        assert_eq!(found(&[], &["a"]), Vec::<String>::new());
        assert_eq!(found(&["a"], &[]), Vec::<String>::new());
    }

    #[test]
    fn a_changed_stat_is_not_trusted() {
        let index = index_of(&["f"]);
        assert_eq!(index.lookup().digest_of(&file("f", 7)), Some([0; 32]));
        for changed in [
            ContextEntry {
                size: 8,
                ..file("f", 7)
            },
            ContextEntry {
                mtime_nsec: 8,
                ..file("f", 7)
            },
            ContextEntry {
                ctime: 2,
                ..file("f", 7)
            },
            ContextEntry {
                ino: 8,
                ..file("f", 7)
            },
            ContextEntry {
                dev: 8,
                ..file("f", 7)
            },
        ] {
            assert_eq!(index.lookup().digest_of(&changed), None, "{changed:?}");
        }
    }

    #[test]
    fn truncated_or_extended_files_are_corrupt() {
        let cache = tempfile::tempdir().unwrap();
        let path = cache.path().join("x.idx");
        index_of(&["a/1", "a/2", "b"]).save(&path).unwrap();
        let bytes = fs::read(&path).unwrap();
        assert_eq!(StatIndex::load(&path).unwrap().len(), 3);
        for length in 0..bytes.len() {
            fs::write(&path, &bytes[..length]).unwrap();
            assert!(
                matches!(StatIndex::load(&path), Err(IndexLoadError::Corrupt)),
                "truncated to {length} bytes"
            );
        }
        fs::write(&path, [&bytes[..], b"x"].concat()).unwrap();
        assert!(matches!(
            StatIndex::load(&path),
            Err(IndexLoadError::Corrupt)
        ));
    }

    #[test]
    fn other_versions_and_bad_offsets_are_corrupt() {
        let cache = tempfile::tempdir().unwrap();
        let path = cache.path().join("x.idx");
        index_of(&["a", "b"]).save(&path).unwrap();
        let good = fs::read(&path).unwrap();
        let corrupt = |bytes: &[u8]| {
            fs::write(&path, bytes).unwrap();
            matches!(StatIndex::load(&path), Err(IndexLoadError::Corrupt))
        };
        let mut version = good.clone();
        version[16] = 1;
        assert!(corrupt(&version), "another layout version");
        // Version 1 was postcard: a varint length, then the magic text.
        assert!(corrupt(
            &[&[15u8][..], b"kiln-stat-index", &[1, 0, 0, 0]].concat()
        ));
        // The first record's path ends where the second's does, or before the block.
        let mut backwards = good.clone();
        backwards[56] = 2;
        assert!(corrupt(&backwards), "an empty path");
        backwards[56] = 0;
        assert!(corrupt(&backwards), "an empty first path");
        let mut past = good.clone();
        past[56 + 96] = 3;
        assert!(corrupt(&past), "a path ending past the block");
        assert!(!corrupt(&good));
    }

    proptest::proptest! {
        /// Whatever was recorded and whatever is walked, a lookup finds exactly the files in
        /// both, with their own digests.
        #[test]
        fn lookups_find_exactly_the_files_in_both(
            recorded in proptest::collection::btree_set("[ab./-]{1,2}(/[ab.-]{1,2}){0,2}", 0..24),
            walked in proptest::collection::btree_set("[ab./-]{1,2}(/[ab.-]{1,2}){0,2}", 0..24),
        ) {
            let sorted = |set: std::collections::BTreeSet<String>| {
                let mut paths: Vec<String> = set
                    .into_iter()
                    .filter(|path| !path.starts_with('/') && !path.contains("//"))
                    .collect();
                paths.sort_by(|a, b| walk_order(a.as_bytes(), b.as_bytes()));
                paths
            };
            let (recorded, walked) = (sorted(recorded), sorted(walked));
            let recorded: Vec<&str> = recorded.iter().map(String::as_str).collect();
            let walked: Vec<&str> = walked.iter().map(String::as_str).collect();
            let expected: Vec<&str> =
                walked.iter().copied().filter(|path| recorded.contains(path)).collect();
            proptest::prop_assert_eq!(found(&recorded, &walked), expected);
        }
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
        assert_eq!(racy.lookup().digest_of(&before[0]), None);

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
        assert_eq!(loaded.lookup().digest_of(&before[0]), Some([1; 32]));

        fs::write(dir.path().join("a"), "b").unwrap();
        let after = entries(dir.path());
        assert_eq!(
            loaded.lookup().digest_of(&after[0]),
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
