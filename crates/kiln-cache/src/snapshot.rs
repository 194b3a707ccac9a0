//! The L1 cache between processes: its answers saved in the cache directory, with their
//! original times, so a new process starts warm — and a stale answer stays stale.

use std::path::{Path, PathBuf};

use kiln_core::Error;
use serde::{Deserialize, Serialize};

use crate::dir::{Durability, read_json_or_repair, write_json};
use crate::l1::{Answer, ExistenceCache};

/// Version of the snapshot file's layout.
pub const SNAPSHOT_SCHEMA: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct SnapshotFile {
    schema: u32,
    saved_at_ms: u64,
    answers: Vec<(String, Answer)>,
}

/// Where the snapshot lives in a cache directory.
pub fn snapshot_path(cache_dir: &Path) -> PathBuf {
    cache_dir.join("l1.json")
}

/// Loads the snapshot into `cache`. A missing file loads nothing; a corrupt or foreign one is
/// removed and is an error (the caller warns and starts cold).
pub async fn load(cache: &ExistenceCache, path: &Path) -> Result<usize, Error> {
    let read = read_json_or_repair(path, "existence snapshot", |file: &SnapshotFile| {
        if file.schema == SNAPSHOT_SCHEMA {
            Ok(())
        } else {
            Err("a snapshot of another schema")
        }
    });
    let Some(file) = read? else {
        return Ok(0);
    };
    let count = file.answers.len();
    cache.restore(file.answers).await;
    Ok(count)
}

/// Saves every answer of `cache` atomically.
pub async fn save(cache: &ExistenceCache, path: &Path) -> Result<(), Error> {
    let file = SnapshotFile {
        schema: SNAPSHOT_SCHEMA,
        saved_at_ms: cache.clock().now_ms(),
        answers: cache.answers().await,
    };
    write_json(path, &file, Durability::Flushed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::l1::{L1Settings, Lookup};
    use kiln_core::testing::{image_details, image_id};
    use kiln_core::{Clock, ManualClock};
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn a_new_process_starts_warm_and_stale_stays_stale() {
        let dir = tempfile::tempdir().unwrap();
        let path = snapshot_path(dir.path());
        let clock = Arc::new(ManualClock::default());
        let first = ExistenceCache::new(L1Settings::default(), clock.clone() as Arc<dyn Clock>);
        let details = image_details(image_id("1"), &kiln_core::Platform::linux_amd64());
        first.insert("app".into(), Some(details.clone())).await;
        save(&first, &path).await.unwrap();

        let second = ExistenceCache::new(L1Settings::default(), clock.clone() as Arc<dyn Clock>);
        assert_eq!(load(&second, &path).await.unwrap(), 1);
        assert_eq!(
            second.lookup("app").await,
            Lookup::Fresh(Some(details.clone()))
        );
        clock.advance(Duration::from_secs(600));
        let third = ExistenceCache::new(L1Settings::default(), clock as Arc<dyn Clock>);
        load(&third, &path).await.unwrap();
        assert_eq!(third.lookup("app").await, Lookup::Stale(Some(details)));
    }

    #[tokio::test]
    async fn a_corrupt_snapshot_is_an_error_not_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let path = snapshot_path(dir.path());
        std::fs::write(
            &path,
            "{\"schema\": 99, \"saved_at_ms\": 0, \"answers\": []}",
        )
        .unwrap();
        let cache = ExistenceCache::new(L1Settings::default(), Arc::new(ManualClock::default()));
        let error = load(&cache, &path).await.unwrap_err().to_string();
        assert!(
            error.contains("another schema") && error.contains("removed it"),
            "{error}"
        );
        assert!(!path.exists());
        std::fs::write(&path, "garbage").unwrap();
        assert!(load(&cache, &path).await.is_err());
        assert!(!path.exists());
        assert_eq!(load(&cache, &path).await.unwrap(), 0);
    }
}
