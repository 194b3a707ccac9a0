//! The context's part of a build's inputs: every entry after `.dockerignore`, with the digest of
//! every file — taken from the stat index where the file is unchanged, hashed otherwise.

pub mod hashing;
pub mod stat_index;
mod stat_index_file;

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use kiln_core::fingerprint::{FileInput, FileKind, InputStats, Sha256Digest, escape_path};

use crate::error::ContextError;
use crate::prepare::PreparedContext;
use crate::walk::EntryKind;
use hashing::hash_files;
use stat_index::{StatIndex, Timestamp};

/// The context's inputs, and the stat index to keep for next time.
#[derive(Debug)]
pub struct ContextInputs {
    /// Entries sorted by path, as the fingerprint wants them.
    pub files: Vec<FileInput>,
    /// The work done.
    pub stats: InputStats,
    /// The index of the files as they are now, when it differs from the one given (and is
    /// worth saving).
    pub new_index: Option<StatIndex>,
}

/// Lists the inputs of `context`, reusing the digests `previous` can vouch for.
///
/// `scan_started` is the file-system time taken before the context was walked; files modified
/// at or after it are hashed again next time.
pub fn context_inputs(
    context: &PreparedContext,
    previous: &StatIndex,
    scan_started: Timestamp,
) -> Result<ContextInputs, ContextError> {
    let entries = context.entries();
    let mut digests: Vec<Option<[u8; 32]>> = Vec::with_capacity(entries.len());
    let mut to_hash: Vec<usize> = Vec::new();
    let mut lookup = previous.lookup();
    for (index, entry) in entries.iter().enumerate() {
        if entry.kind != EntryKind::File {
            digests.push(None);
            continue;
        }
        let known = lookup.digest_of(entry);
        if known.is_none() {
            to_hash.push(index);
        }
        digests.push(known);
    }

    let paths: Vec<&Path> = to_hash.iter().map(|&i| entries[i].path.as_path()).collect();
    let hashed = hash_files(context.root(), &paths)?;
    let mut stats = InputStats {
        entries: entries.len(),
        hashed_files: to_hash.len(),
        hashed_bytes: 0,
    };
    for (&index, digest) in to_hash.iter().zip(hashed) {
        stats.hashed_bytes += entries[index].size;
        digests[index] = Some(digest);
    }

    let index_changed = stats.hashed_files > 0 || stats_files(&digests) != previous.len();
    let mut index = index_changed.then(|| StatIndex::new(scan_started));
    let mut files = Vec::with_capacity(entries.len());
    for (entry, digest) in entries.iter().zip(&digests) {
        if let (Some(index), Some(digest)) = (index.as_mut(), digest) {
            index.insert(entry, *digest);
        }
        let (kind, target) = match &entry.kind {
            EntryKind::File => (FileKind::File, None),
            EntryKind::Dir => (FileKind::Dir, None),
            EntryKind::Symlink(target) => (
                FileKind::Symlink,
                Some(escape_path(target.as_os_str().as_bytes())),
            ),
            EntryKind::Fifo => (FileKind::Fifo, None),
            EntryKind::CharDevice => (FileKind::CharDevice, None),
            EntryKind::BlockDevice => (FileKind::BlockDevice, None),
        };
        files.push(FileInput {
            path: escape_path(entry.path.as_os_str().as_bytes()),
            kind,
            mode: entry.mode,
            digest: digest.map(Sha256Digest),
            target,
        });
    }
    files.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok(ContextInputs {
        files,
        stats,
        new_index: index,
    })
}

/// The number of regular files (those with a digest).
fn stats_files(digests: &[Option<[u8; 32]>]) -> usize {
    digests.iter().filter(|digest| digest.is_some()).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn prepare(dir: &Path) -> PreparedContext {
        PreparedContext::prepare(dir, None).unwrap()
    }

    /// The file system's time once its coarse clock is past `after`, polled for at most 10 s.
    fn file_system_time_after(dir: &Path, after: Timestamp) -> Timestamp {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let now = stat_index::file_system_now(dir).unwrap();
            if now > after {
                return now;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the file system's clock did not move past {after:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    #[test]
    fn unchanged_files_are_not_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("sub/a"), "aaa").unwrap();
        std::os::unix::fs::symlink("sub/a", dir.path().join("link")).unwrap();

        let cold = context_inputs(
            &prepare(dir.path()),
            &StatIndex::default(),
            Timestamp::default(),
        )
        .unwrap();
        assert_eq!(cold.stats.hashed_files, 2);
        assert_eq!(cold.stats.hashed_bytes, 13 + 3);
        let paths: Vec<&str> = cold.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["Dockerfile", "link", "sub", "sub/a"]);
        assert_eq!(cold.files[1].target.as_deref(), Some("sub/a"));

        // A scan that started after the files were written trusts them next time. File times
        // come from the kernel's coarse clock: wait until it has ticked past them.
        let written = stat_index::file_system_now(cache.path()).unwrap();
        let scan_started = file_system_time_after(cache.path(), written);
        let recorded =
            context_inputs(&prepare(dir.path()), &StatIndex::default(), scan_started).unwrap();
        let index = recorded.new_index.expect("a first scan makes an index");
        let warm = context_inputs(&prepare(dir.path()), &index, scan_started).unwrap();
        assert_eq!(warm.stats.hashed_files, 0);
        assert!(warm.new_index.is_none(), "nothing new to save");
        assert_eq!(warm.files, cold.files);
    }
}
