//! The context's side of a plan: walked and hashed on a blocking thread, the stat index kept.
//!
//! The stat index is read on a thread of its own while the context is walked. Each phase is
//! logged at `debug` with its duration (`KILN_LOG=kiln=debug`).

use std::path::Path;
use std::time::Instant;

use kiln_cache::RecordStore;
use kiln_context::PreparedContext;
use kiln_context::inputs::stat_index::{self, IndexLoadError, StatIndex, Timestamp};
use kiln_context::inputs::{ContextInputs, context_inputs};
use kiln_core::{BuildSpec, Result};

/// The context walked and its inputs computed.
pub(crate) struct ScannedContext {
    pub(crate) context: PreparedContext,
    pub(crate) inputs: ContextInputs,
    pub(crate) warnings: Vec<String>,
}

/// Prepares `spec`'s context and computes its inputs, hashing only files whose stat changed
/// since the index kept under `records` (every file when there is none). Blocking.
pub(crate) fn scan(spec: &BuildSpec, records: Option<&RecordStore>) -> Result<ScannedContext> {
    let mut warnings = Vec::new();
    let stat_dir = records.map(RecordStore::stat_dir);
    // Taken before the walk: files modified from here on are hashed again next time.
    let started = Instant::now();
    let scan_started = match &stat_dir {
        Some(dir) => stat_index::file_system_now(dir).unwrap_or_else(|error| {
            warnings.push(format!(
                "stat index disabled: cannot read the file-system clock: {error}"
            ));
            Timestamp::default()
        }),
        None => Timestamp::default(),
    };
    tracing::debug!(
        micros = micros_since(started),
        "scan: file-system clock read"
    );
    // The index is named after the canonical context directory, which the walk canonicalises
    // the same way; should the two differ (the path changed meanwhile), it is read again.
    let early_path = stat_dir.as_deref().and_then(|dir| {
        let root = std::fs::canonicalize(&spec.context).ok()?;
        Some(stat_index::index_path(dir, &root))
    });
    let (context, early) = std::thread::scope(|scope| {
        let loading = early_path.clone().map(|path| {
            scope.spawn(move || {
                let started = Instant::now();
                let loaded = StatIndex::load(&path);
                tracing::debug!(
                    micros = micros_since(started),
                    files = loaded.as_ref().map_or(0, StatIndex::len),
                    "scan: stat index loaded"
                );
                (path, loaded)
            })
        });
        let started = Instant::now();
        let context = PreparedContext::prepare(&spec.context, spec.dockerfile.as_deref());
        tracing::debug!(
            micros = micros_since(started),
            entries = context
                .as_ref()
                .map_or(0, |context| context.entries().len()),
            "scan: context walked"
        );
        let early = loading.map(|handle| handle.join().expect("loading the stat index"));
        (context, early)
    });
    let context = context?;
    let index_path = stat_dir
        .as_deref()
        .map(|dir| stat_index::index_path(dir, context.root()));
    let previous = match &index_path {
        Some(path) => {
            let loaded = match early {
                Some((early_path, loaded)) if early_path == *path => loaded,
                _ => StatIndex::load(path),
            };
            usable(loaded, path, &mut warnings)
        }
        None => StatIndex::default(),
    };
    let started = Instant::now();
    let inputs = context_inputs(&context, &previous, scan_started)?;
    tracing::debug!(
        micros = micros_since(started),
        hashed = inputs.stats.hashed_files,
        "scan: inputs listed"
    );
    if let (Some(path), Some(index)) = (&index_path, &inputs.new_index)
        && scan_started != Timestamp::default()
    {
        let started = Instant::now();
        if let Err(error) = index.save(path) {
            warnings.push(format!(
                "cannot save the stat index {}: {error}",
                path.display()
            ));
        }
        tracing::debug!(micros = micros_since(started), "scan: stat index saved");
    }
    for socket in context.skipped_sockets() {
        warnings.push(format!(
            "socket {} left out of the build context",
            socket.display()
        ));
    }
    Ok(ScannedContext {
        context,
        inputs,
        warnings,
    })
}

/// The loaded index, or an empty one with a warning when it cannot be used.
fn usable(
    loaded: std::result::Result<StatIndex, IndexLoadError>,
    path: &Path,
    warnings: &mut Vec<String>,
) -> StatIndex {
    loaded.unwrap_or_else(|error| {
        warnings.push(format!("{error}; hashing every file ({})", path.display()));
        StatIndex::default()
    })
}

/// Microseconds since `started`, for the phase logs.
pub(crate) fn micros_since(started: Instant) -> u128 {
    started.elapsed().as_micros()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A context of three files and a record store, both in temporary directories.
    fn context_and_store() -> (tempfile::TempDir, tempfile::TempDir, BuildSpec, RecordStore) {
        let context = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        fs::write(context.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        fs::create_dir(context.path().join("sub")).unwrap();
        fs::write(context.path().join("sub/a"), "a").unwrap();
        fs::write(context.path().join("sub-b"), "b").unwrap();
        let spec = BuildSpec::new("app", context.path());
        let store = RecordStore::new(cache.path());
        (context, cache, spec, store)
    }

    #[test]
    fn an_unreadable_index_is_a_warning_and_every_file_is_hashed() {
        let (context, _cache, spec, store) = context_and_store();
        let root = fs::canonicalize(context.path()).unwrap();
        let index = stat_index::index_path(&store.stat_dir(), &root);
        fs::create_dir_all(index.parent().unwrap()).unwrap();
        for (contents, name) in [
            (&b"\x0fkiln-stat-index\x01"[..], "an index of version 1"),
            (&b"kiln-stat-index\0\x02\0\0\0"[..], "a truncated index"),
        ] {
            fs::write(&index, contents).unwrap();
            let scanned = scan(&spec, Some(&store)).unwrap();
            assert_eq!(scanned.inputs.stats.hashed_files, 3, "{name}");
            assert!(
                scanned.warnings.iter().any(|warning| warning
                    .contains("corrupt or of another kiln version; hashing every file")),
                "{name}: {:?}",
                scanned.warnings
            );
            // Written again, whole: the next scan can read it.
            assert_eq!(StatIndex::load(&index).unwrap().len(), 3, "{name}");
        }
    }

    #[test]
    fn the_index_read_alongside_the_walk_is_used() {
        let (_context, _cache, spec, store) = context_and_store();
        let first = scan(&spec, Some(&store)).unwrap();
        assert_eq!(first.inputs.stats.hashed_files, 3);
        // Files written in the same tick of the file-system clock as the first scan began are
        // racy and hashed again; wait until the clock has moved past them.
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        let written = stat_index::file_system_now(&store.stat_dir()).unwrap();
        while stat_index::file_system_now(&store.stat_dir()).unwrap() <= written {
            assert!(
                Instant::now() < deadline,
                "the file-system clock stands still"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let _ = scan(&spec, Some(&store)).unwrap();
        let warm = scan(&spec, Some(&store)).unwrap();
        assert_eq!(warm.inputs.stats.hashed_files, 0, "{:?}", warm.warnings);
        assert!(warm.warnings.is_empty(), "{:?}", warm.warnings);
        assert_eq!(warm.inputs.files, first.inputs.files);
    }
}
