//! Cache statistics: hits and misses kept across processes, and what each level holds.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use kiln_core::Error;
use serde::{Deserialize, Serialize};

use crate::dir::{Durability, Found, cache_error, create_private_dir, read_checked, write_json};
use crate::l1::ExistenceCache;
use crate::records::RecordStore;

const COUNTS_SCHEMA: u32 = 1;

/// Hits and misses of one level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Answers given from the cache.
    pub hits: u64,
    /// Lookups the cache could not answer.
    pub misses: u64,
}

impl Counts {
    fn add(self, other: Counts) -> Counts {
        Counts {
            hits: self.hits + other.hits,
            misses: self.misses + other.misses,
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CountsFile {
    schema: u32,
    l1: Counts,
    l2: Counts,
}

/// Adds this process's counts to the ones kept in `cache_dir` (under a lock, so concurrent
/// processes add up instead of overwriting each other).
pub fn add_counts(cache_dir: &Path, l1: Counts, l2: Counts) -> Result<(), Error> {
    if l1 == Counts::default() && l2 == Counts::default() {
        return Ok(());
    }
    create_private_dir(cache_dir)?;
    let lock_path = cache_dir.join("stats.lock");
    let lock = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&lock_path)
        .map_err(|error| cache_error("lock", &lock_path, error))?;
    lock.lock()
        .map_err(|error| cache_error("lock", &lock_path, error))?;
    let path = cache_dir.join("stats.json");
    let kept = kept_counts(&path)?.unwrap_or_default();
    write_json(
        &path,
        &CountsFile {
            schema: COUNTS_SCHEMA,
            l1: kept.l1.add(l1),
            l2: kept.l2.add(l2),
        },
        Durability::Flushed,
    )
}

/// The counts kept in `cache_dir`, for L1 and L2. A corrupt counts file is removed with a
/// warning and counts as zero; one that cannot be read is an error.
pub fn read_counts(cache_dir: &Path) -> Result<(Counts, Counts), Error> {
    let kept = kept_counts(&cache_dir.join("stats.json"))?;
    Ok(kept.map_or_else(Default::default, |file| (file.l1, file.l2)))
}

/// The counts file at `path`: a corrupt one is removed and warned about (counts are only
/// statistics: starting them again is the repair).
fn kept_counts(path: &Path) -> Result<Option<CountsFile>, Error> {
    let found = read_checked(path, "counts file", |file: &CountsFile| {
        if file.schema == COUNTS_SCHEMA {
            Ok(())
        } else {
            Err("a counts file of another schema")
        }
    })?;
    Ok(match found {
        Found::Missing => None,
        Found::Value(file) => Some(file),
        Found::Repaired(error) => {
            tracing::warn!("{error}; counting from zero");
            None
        }
    })
}

/// What one cache level holds and how well it serves.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LevelStats {
    /// Answers given from the cache (all processes).
    pub hits: u64,
    /// Lookups it could not answer (all processes).
    pub misses: u64,
    /// `hits / (hits + misses)`, when there was a lookup.
    pub hit_rate: Option<f64>,
    /// Entries held.
    pub entries: usize,
    /// Bytes they take (serialised, for L1; on disk, for L2).
    pub bytes: u64,
    /// Age of the oldest entry, in seconds.
    pub age_s: Option<u64>,
    /// Entries that can be used as they are: within the TTL (L1); readable records of the
    /// current schema (L2).
    pub fresh: usize,
}

impl LevelStats {
    /// The statistics of a level that holds nothing.
    pub fn empty(counts: Counts) -> Self {
        LevelStats {
            hits: counts.hits,
            misses: counts.misses,
            hit_rate: hit_rate(counts),
            entries: 0,
            bytes: 0,
            age_s: None,
            fresh: 0,
        }
    }
}

fn hit_rate(counts: Counts) -> Option<f64> {
    let total = counts.hits + counts.misses;
    (total > 0).then(|| counts.hits as f64 / total as f64)
}

/// L1's statistics.
pub async fn l1_stats(cache: &ExistenceCache, counts: Counts) -> LevelStats {
    let answers = cache.answers().await;
    let now = cache.clock().now_ms();
    let bytes = answers
        .iter()
        .map(|(key, answer)| {
            key.len() as u64 + serde_json::to_vec(answer).map_or(0, |v| v.len() as u64)
        })
        .sum();
    LevelStats {
        hits: counts.hits,
        misses: counts.misses,
        hit_rate: hit_rate(counts),
        entries: answers.len(),
        bytes,
        age_s: answers
            .iter()
            .map(|(_, answer)| now.saturating_sub(answer.stored_at_ms) / 1000)
            .max(),
        fresh: answers
            .iter()
            .filter(|(_, answer)| cache.is_fresh(answer))
            .count(),
    }
}

/// L2's statistics.
pub fn l2_stats(store: &RecordStore, counts: Counts, now_s: u64) -> LevelStats {
    let (records, unreadable) = store.all();
    let bytes = ["records", "manifests", "tags", "stat", "bases"]
        .iter()
        .map(|dir| dir_bytes(&store.root().join(dir)))
        .sum();
    LevelStats {
        hits: counts.hits,
        misses: counts.misses,
        hit_rate: hit_rate(counts),
        entries: records.len() + unreadable,
        bytes,
        age_s: records
            .iter()
            .map(|record| now_s.saturating_sub(record.built_at))
            .max(),
        fresh: records.len(),
    }
}

fn dir_bytes(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|entry| entry.metadata().ok())
                .filter(|metadata| metadata.is_file())
                .map(|metadata| metadata.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Empties both levels on disk: records, manifests, tag pointers, stat indexes, base tiers'
/// verifications, the L1 snapshot and the counts. Build locks stay (a running build may hold one).
pub fn clear(cache_dir: &Path) -> Result<(), Error> {
    for dir in ["records", "manifests", "tags", "stat", "bases"] {
        let path = cache_dir.join(dir);
        match fs::remove_dir_all(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(cache_error("clear", &path, error)),
        }
    }
    for file in ["l1.json", "stats.json"] {
        let path = cache_dir.join(file);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(cache_error("clear", &path, error)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_across_processes() {
        let dir = tempfile::tempdir().unwrap();
        add_counts(
            dir.path(),
            Counts { hits: 2, misses: 1 },
            Counts { hits: 0, misses: 1 },
        )
        .unwrap();
        add_counts(
            dir.path(),
            Counts { hits: 1, misses: 0 },
            Counts { hits: 1, misses: 0 },
        )
        .unwrap();
        let (l1, l2) = read_counts(dir.path()).unwrap();
        let mode = |name: &str| {
            use std::os::unix::fs::PermissionsExt;
            fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!((mode("stats.lock"), mode("stats.json")), (0o600, 0o600));
        assert_eq!(l1, Counts { hits: 3, misses: 1 });
        assert_eq!(l2, Counts { hits: 1, misses: 1 });
        assert_eq!(hit_rate(l1), Some(0.75));
        clear(dir.path()).unwrap();
        assert_eq!(
            read_counts(dir.path()).unwrap(),
            (Counts::default(), Counts::default())
        );
    }

    #[test]
    fn a_corrupt_counts_file_is_removed_and_counting_starts_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stats.json");
        fs::write(&path, "").unwrap();
        assert_eq!(
            read_counts(dir.path()).unwrap(),
            (Counts::default(), Counts::default())
        );
        assert!(!path.exists());
        fs::write(&path, "{\"schema\": 7}").unwrap();
        let one = Counts { hits: 1, misses: 0 };
        add_counts(dir.path(), one, Counts::default()).unwrap();
        assert_eq!(read_counts(dir.path()).unwrap(), (one, Counts::default()));
    }
}
