//! Pruning L2: records removed by age or to fit a total size, each with its manifest, a base
//! tier's verification and the tag pointers that name it, and build locks nobody holds.
//!
//! Age comes from the record's `built_at`; size counts every file under `records/`,
//! `manifests/`, `bases/` and `tags/`. Corrupt records go first, then the oldest. A manifest,
//! verification or tag pointer whose record is gone goes too (a manifest or verification only
//! after [`ORPHAN_GRACE_S`], since a writer puts the manifest before the record, and a tier is
//! verified right after its build). A lock file goes only when it can be taken
//! without waiting, which no running build allows; lockers check that the file they locked is
//! still the one at the path, so a removal never lets two builds hold "the same" lock.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use kiln_core::{Error, Fingerprint};
use serde::Serialize;

use crate::dir::{cache_error, read_json};
use crate::lock::{self, TryLock};
use crate::records::{BuildRecord, RecordStore, TagPointer, record_problem};

/// The size bound kept by default after each write of a record: 512 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 512 * 1024 * 1024;

/// How old a manifest without its record must be to be pruned: a writer may be between
/// the two.
pub const ORPHAN_GRACE_S: u64 = 600;

/// What to prune. With neither limit, only corrupt entries, orphans and free locks go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneLimits {
    /// Records built at least this many seconds ago go.
    pub older_than_s: Option<u64>,
    /// The oldest records go until the store takes at most this many bytes.
    pub max_bytes: Option<u64>,
}

/// Why a record was pruned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PruneReason {
    /// It did not parse or named another fingerprint.
    Corrupt,
    /// It was older than `--older-than`.
    Age,
    /// The store was over `--max-size` and it was among the oldest.
    Size,
}

impl PruneReason {
    /// The name JSON gives it: `corrupt`, `age` or `size`.
    pub fn as_str(self) -> &'static str {
        match self {
            PruneReason::Corrupt => "corrupt",
            PruneReason::Age => "age",
            PruneReason::Size => "size",
        }
    }
}

/// One record pruned (or, in a dry run, that would be).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrunedRecord {
    /// Its fingerprint (the file's name).
    pub fingerprint: String,
    /// The tags it was built under (none when corrupt).
    pub tags: Vec<String>,
    /// When it was built, seconds since the epoch (unknown when corrupt).
    pub built_at: Option<u64>,
    /// Its record, manifest and tag pointers, in bytes.
    pub bytes: u64,
    /// Why it goes.
    pub reason: PruneReason,
}

/// What a prune removed, or would remove in a dry run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    /// Whether nothing was removed, only listed.
    pub dry_run: bool,
    /// The records, oldest first.
    pub removed: Vec<PrunedRecord>,
    /// Manifests and tag pointers removed because their record is gone, or corrupt.
    pub orphans: usize,
    /// Lock files removed (none was held).
    pub locks: usize,
    /// Lock files kept because a running build holds them.
    pub locks_held: usize,
    /// Bytes freed by all of it.
    pub freed_bytes: u64,
    /// Records kept.
    pub kept: usize,
    /// Bytes the store takes afterwards.
    pub kept_bytes: u64,
}

impl PruneReport {
    /// The report of a prune that found nothing.
    pub fn empty(dry_run: bool) -> Self {
        PruneReport {
            dry_run,
            removed: Vec::new(),
            orphans: 0,
            locks: 0,
            locks_held: 0,
            freed_bytes: 0,
            kept: 0,
            kept_bytes: 0,
        }
    }
}

/// A record on disk, readable or not, with the files that go with it.
struct Entry {
    fingerprint: String,
    record: Option<BuildRecord>,
    files: Vec<PathBuf>,
    bytes: u64,
}

/// Bytes taken by records, manifests, verifications and tag pointers (one `stat` per file).
pub fn stored_bytes(store: &RecordStore) -> u64 {
    ["records", "manifests", "bases", "tags"]
        .iter()
        .flat_map(|dir| files_in(&store.root().join(dir)))
        .map(|(_, bytes)| bytes)
        .sum()
}

/// Prunes `store` to `limits` at time `now_s` (seconds since the epoch); lists only when
/// `dry_run`. Entries that vanish meanwhile (another prune) are skipped.
pub fn prune(
    store: &RecordStore,
    limits: PruneLimits,
    now_s: u64,
    dry_run: bool,
) -> Result<PruneReport, Error> {
    let mut tags = tag_pointers(store);
    let mut entries = entries(store, &mut tags);
    let mut orphans = std::mem::take(&mut tags.orphans);
    orphans.extend(orphans_without_record(store, &entries, "manifests"));
    orphans.extend(orphans_without_record(store, &entries, "bases"));
    let total: u64 = entries.iter().map(|entry| entry.bytes).sum::<u64>()
        + orphans.iter().map(|(_, bytes)| bytes).sum::<u64>();
    let mut kept_bytes = total;
    for (file, bytes) in &orphans {
        if !dry_run {
            remove(file)?;
        }
        kept_bytes -= bytes;
    }
    // Corrupt first, then oldest first.
    entries.sort_by_key(|entry| {
        (
            entry.record.as_ref().map(|record| record.built_at),
            entry.fingerprint.clone(),
        )
    });
    let mut removed = Vec::new();
    let mut kept = 0;
    for entry in entries {
        let reason = match &entry.record {
            None => Some(PruneReason::Corrupt),
            Some(record)
                if limits
                    .older_than_s
                    .is_some_and(|limit| now_s.saturating_sub(record.built_at) >= limit) =>
            {
                Some(PruneReason::Age)
            }
            Some(_) if limits.max_bytes.is_some_and(|limit| kept_bytes > limit) => {
                Some(PruneReason::Size)
            }
            Some(_) => None,
        };
        let Some(reason) = reason else {
            kept += 1;
            continue;
        };
        if !dry_run {
            for file in &entry.files {
                remove(file)?;
            }
        }
        kept_bytes -= entry.bytes;
        removed.push(PrunedRecord {
            tags: entry
                .record
                .as_ref()
                .map_or_else(Vec::new, |record| record.tags.clone()),
            built_at: entry.record.as_ref().map(|record| record.built_at),
            fingerprint: entry.fingerprint,
            bytes: entry.bytes,
            reason,
        });
    }
    let (locks, locks_held) = prune_locks(store.root(), dry_run)?;
    Ok(PruneReport {
        dry_run,
        freed_bytes: total - kept_bytes,
        removed,
        orphans: orphans.len(),
        locks,
        locks_held,
        kept,
        kept_bytes,
    })
}

/// Tag pointers by the fingerprint they name, and the corrupt ones.
struct TagPointers {
    by_fingerprint: BTreeMap<String, Vec<(PathBuf, u64)>>,
    orphans: Vec<(PathBuf, u64)>,
}

fn tag_pointers(store: &RecordStore) -> TagPointers {
    let mut pointers = TagPointers {
        by_fingerprint: BTreeMap::new(),
        orphans: Vec::new(),
    };
    for (path, bytes) in json_files(&store.root().join("tags")) {
        match read_json::<TagPointer>(&path) {
            Ok(Some(pointer)) if store.tag_path(&pointer.tag) == path => pointers
                .by_fingerprint
                .entry(pointer.fingerprint.to_string())
                .or_default()
                .push((path, bytes)),
            Ok(None) => {}
            _ => pointers.orphans.push((path, bytes)),
        }
    }
    pointers
}

/// Every record file with its manifest, verification and tag pointers; tag pointers of no
/// record are left in `tags.orphans`.
fn entries(store: &RecordStore, tags: &mut TagPointers) -> Vec<Entry> {
    let mut entries = Vec::new();
    for (path, bytes) in json_files(&store.root().join("records")) {
        let name = stem(&path);
        let fingerprint = Fingerprint::parse(&name);
        let record = fingerprint.as_ref().and_then(|fingerprint| {
            read_json::<BuildRecord>(&path)
                .ok()
                .flatten()
                .filter(|record| record_problem(record, fingerprint).is_ok())
        });
        let mut entry = Entry {
            files: vec![path],
            bytes,
            record,
            fingerprint: name.clone(),
        };
        if let Some(fingerprint) = &fingerprint {
            for file in [
                store.manifest_path(fingerprint),
                store.verification_path(fingerprint),
            ] {
                if let Ok(metadata) = fs::metadata(&file) {
                    entry.bytes += metadata.len();
                    entry.files.push(file);
                }
            }
        }
        for (pointer, bytes) in tags.by_fingerprint.remove(&name).unwrap_or_default() {
            entry.bytes += bytes;
            entry.files.push(pointer);
        }
        entries.push(entry);
    }
    tags.orphans
        .extend(tags.by_fingerprint.values_mut().flat_map(std::mem::take));
    entries
}

/// The files of `dir` (`manifests` or `bases`) with no record file, older than
/// [`ORPHAN_GRACE_S`].
fn orphans_without_record(
    store: &RecordStore,
    entries: &[Entry],
    dir: &str,
) -> Vec<(PathBuf, u64)> {
    let known: Vec<&str> = entries
        .iter()
        .map(|entry| entry.fingerprint.as_str())
        .collect();
    let grace = SystemTime::now() - Duration::from_secs(ORPHAN_GRACE_S);
    json_files(&store.root().join(dir))
        .into_iter()
        .filter(|(path, _)| !known.contains(&stem(path).as_str()))
        .filter(|(path, _)| {
            fs::metadata(path)
                .and_then(|metadata| metadata.modified())
                .is_ok_and(|modified| modified < grace)
        })
        .collect()
}

/// Removes every lock file nobody holds; returns how many went and how many are held.
fn prune_locks(cache_dir: &Path, dry_run: bool) -> Result<(usize, usize), Error> {
    let (mut removed, mut held) = (0, 0);
    for (path, _) in files_in(&cache_dir.join("locks")) {
        if path.extension().is_none_or(|extension| extension != "lock") {
            continue;
        }
        match lock::try_lock_file(&path)? {
            Some(TryLock::Acquired(lock)) => {
                if !dry_run {
                    // Removed while held: a locker that opened it meanwhile sees the path
                    // gone once it gets the lock, and starts again on a new file.
                    remove(&path)?;
                }
                drop(lock);
                removed += 1;
            }
            Some(TryLock::Busy { .. }) => held += 1,
            None => {}
        }
    }
    Ok((removed, held))
}

pub(crate) fn remove(path: &Path) -> Result<(), Error> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(cache_error("prune", path, error))
        }
        _ => Ok(()),
    }
}

/// Regular files in `dir` with their sizes (none when it does not exist).
fn files_in(dir: &Path) -> Vec<(PathBuf, u64)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let metadata = entry.metadata().ok()?;
            metadata.is_file().then(|| (entry.path(), metadata.len()))
        })
        .collect()
}

/// `*.json` files in `dir`, leaving out writers' temporary files.
pub(crate) fn json_files(dir: &Path) -> Vec<(PathBuf, u64)> {
    files_in(dir)
        .into_iter()
        .filter(|(path, _)| {
            let name = path.file_name().map_or(&[][..], |name| name.as_bytes());
            !name.starts_with(b".tmp") && name.ends_with(b".json")
        })
        .collect()
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Parses an age such as `30d`, `12h`, `45m`, `90s` or `2w` into seconds.
pub fn parse_age(what: &'static str, input: &str) -> Result<u64, Error> {
    let expected = "a whole number followed by s, m, h, d or w (e.g. 30d, 12h)";
    let text = input.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| Error::invalid_input(what, input, expected))?;
    let (number, unit) = text.split_at(split);
    let unit_s: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(Error::invalid_input(what, input, expected)),
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|number| number.checked_mul(unit_s))
        .ok_or_else(|| Error::invalid_input(what, input, expected))
}

/// Parses a size such as `500MiB`, `2GiB`, `100MB`, `64KiB` or `1048576` (bytes).
pub fn parse_size(what: &'static str, input: &str) -> Result<u64, Error> {
    let expected = "a whole number of bytes, optionally followed by KiB, MiB, GiB, TiB, KB, MB, \
                    GB or TB (e.g. 500MiB)";
    let text = input.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit_bytes: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        _ => return Err(Error::invalid_input(what, input, expected)),
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|number| number.checked_mul(unit_bytes))
        .ok_or_else(|| Error::invalid_input(what, input, expected))
}

#[cfg(test)]
mod tests;
