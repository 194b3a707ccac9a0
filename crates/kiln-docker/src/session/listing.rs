//! What one `DiffCopy` call sends: the stat of every entry in fsutil's walk order (each
//! directory before what it holds, names in byte order, so paths compare element by element),
//! and the files the daemon may then ask for, by the number of their stat.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bollard_buildkit_proto::fsutil::types::Stat;
use kiln_context::dockerignore::go_path::dir;
use kiln_context::{ContextEntry, EntryKind};
use kiln_core::Error;

use super::include::{IncludeFilter, is_below};
use super::stat::{carries_data, directory_stat, entry_stat, memory_file_stat};

/// Where the contents of a file the daemon may ask for come from.
#[derive(Debug, Clone)]
pub(crate) enum FileSource {
    /// A file on disk, read when asked for; `size` is its size when the context was read,
    /// which is what its stat said and exactly what is sent.
    Disk {
        /// The file.
        path: PathBuf,
        /// Its size in the stat.
        size: u64,
    },
    /// Contents kiln holds (the Dockerfile as it read it).
    Memory {
        /// Its name in the served directory.
        name: String,
        /// The contents.
        contents: Arc<[u8]>,
    },
}

/// The stats to send, in order, and the files by the number of their stat.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// Every stat, in fsutil's walk order.
    pub(crate) stats: Vec<Stat>,
    /// The regular files the daemon may ask for (hard links to an earlier path included, as
    /// fsutil numbers them), by the index of their stat in `stats`.
    pub(crate) files: HashMap<u32, FileSource>,
}

impl FileSource {
    /// What tells this file from every other the session serves (a disk file's path is
    /// absolute, an in-memory file's name is not).
    pub(crate) fn identity(&self) -> &Path {
        match self {
            FileSource::Disk { path, .. } => path,
            FileSource::Memory { name, .. } => Path::new(name),
        }
    }
}

impl Listing {
    fn push(&mut self, stat: Stat, source: Option<FileSource>) {
        let id = u32::try_from(self.stats.len()).unwrap_or(u32::MAX);
        if let Some(source) = source.filter(|_| carries_data(stat.mode)) {
            self.files.insert(id, source);
        }
        self.stats.push(stat);
    }
}

/// The listing of the directory `root` whose entries (in walk order, with `.dockerignore`
/// applied) are `entries`, narrowed by `filter`.
///
/// A directory that is not itself an entry but holds entries (an excluded directory walked
/// for a `!` pattern) is sent before them with its own metadata: fsutil's receiver refuses an
/// entry whose parent it has not seen.
pub(crate) fn directory_listing<'a>(
    root: &Path,
    entries: impl IntoIterator<Item = &'a ContextEntry>,
    mut filter: IncludeFilter,
) -> Result<Listing, Error> {
    let mut listing = Listing::default();
    // The directories sent that hold the current entry, innermost last.
    let mut open: Vec<String> = Vec::new();
    // A directory the filter refused: nothing below it is sent.
    let mut refused: Option<String> = None;
    let mut first_link_of: HashMap<(u64, u64), String> = HashMap::new();
    'entries: for entry in entries {
        let path = utf8_path(root, &entry.path)?;
        if refused.as_deref().is_some_and(|dir| is_below(&path, dir)) {
            continue;
        }
        while open.last().is_some_and(|dir| !is_below(&path, dir)) {
            open.pop();
        }
        let parent = dir(&path);
        if parent != "." && open.last().map(String::as_str) != Some(&*parent) {
            let depth = open.len();
            let missing: Vec<&str> = ancestors(&parent).skip(depth).collect();
            for ancestor in missing {
                if !filter.admits(ancestor, true) {
                    refused = Some(ancestor.to_owned());
                    continue 'entries;
                }
                let absolute = root.join(ancestor);
                let metadata = fs::symlink_metadata(&absolute)
                    .map_err(|error| Error::context(&absolute, error))?;
                listing.push(directory_stat(ancestor.to_owned(), &metadata), None);
                open.push(ancestor.to_owned());
            }
        }
        let is_dir = entry.kind == EntryKind::Dir;
        if !filter.admits(&path, is_dir) {
            if is_dir {
                refused = Some(path);
            }
            continue;
        }
        let mut hard_link_to = None;
        if entry.kind == EntryKind::File && entry.nlink > 1 {
            match first_link_of.get(&(entry.dev, entry.ino)) {
                Some(first) => hard_link_to = Some(first.clone()),
                None => {
                    first_link_of.insert((entry.dev, entry.ino), path.clone());
                }
            }
        }
        if let EntryKind::Symlink(target) = &entry.kind
            && target.to_str().is_none()
        {
            return Err(not_utf8(&root.join(&entry.path), "the target of the link"));
        }
        let source =
            (entry.kind == EntryKind::File && hard_link_to.is_none()).then(|| FileSource::Disk {
                path: root.join(&entry.path),
                size: entry.size,
            });
        let stat = entry_stat(path.clone(), entry, hard_link_to);
        listing.push(stat, source);
        if is_dir {
            open.push(path);
        }
    }
    Ok(listing)
}

/// The listing of a directory holding one file kept in memory, `name`, narrowed by `filter`.
/// Its modification time is derived from the contents (see [`memory_file_stat`]).
pub(crate) fn memory_file_listing(
    name: &str,
    contents: Arc<[u8]>,
    mut filter: IncludeFilter,
) -> Listing {
    let mut listing = Listing::default();
    if filter.admits(name, false) {
        let digest = <sha2::Sha256 as sha2::Digest>::digest(&contents);
        let mut stamp = [0u8; 8];
        stamp.copy_from_slice(&digest[..8]);
        // A positive time: some receivers treat negative ones as unset.
        let stamp = i64::from_be_bytes(stamp) & i64::MAX;
        listing.push(
            memory_file_stat(name.to_owned(), contents.len(), stamp),
            Some(FileSource::Memory {
                name: name.to_owned(),
                contents,
            }),
        );
    }
    listing
}

/// Every ancestor of `path` that is a directory below the root, outermost first, `path`
/// included (`a/b/c` gives `a`, `a/b`, `a/b/c`).
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/')
        .map(|(index, _)| &path[..index])
        .chain(std::iter::once(path))
}

fn utf8_path(root: &Path, relative: &Path) -> Result<String, Error> {
    relative
        .to_str()
        .map(str::to_owned)
        .ok_or_else(|| not_utf8(&root.join(relative), "its name"))
}

fn not_utf8(path: &Path, what: &str) -> Error {
    Error::InvalidPath {
        what: "context entry",
        path: path.to_owned(),
        problem: format!(
            "has {what} in bytes that are not UTF-8, which BuildKit's session cannot carry \
             (the classic builder can: --builder classic)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_context::dockerignore::PatternMatcher;
    use kiln_context::walk::walk;
    use std::os::unix::fs::symlink;

    fn tree(paths: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for path in paths {
            let absolute = dir.path().join(path);
            if let Some(directory) = path.strip_suffix('/') {
                fs::create_dir_all(dir.path().join(directory)).unwrap();
            } else {
                fs::create_dir_all(absolute.parent().unwrap()).unwrap();
                fs::write(&absolute, path.as_bytes()).unwrap();
            }
        }
        dir
    }

    fn listed(root: &Path, patterns: &[&str], filter: IncludeFilter) -> Listing {
        let matcher = PatternMatcher::new(patterns).unwrap();
        let entries = walk(root, &matcher).unwrap().entries;
        directory_listing(root, &entries, filter).unwrap()
    }

    fn paths(listing: &Listing) -> Vec<&str> {
        listing
            .stats
            .iter()
            .map(|stat| stat.path.as_str())
            .collect()
    }

    /// fsutil's `ComparePath`: byte order, except that `/` sorts before every other byte.
    fn fsutil_order(a: &str, b: &str) -> std::cmp::Ordering {
        let key = |path: &str| -> Vec<u16> {
            path.bytes()
                .map(|byte| if byte == b'/' { 0 } else { u16::from(byte) + 1 })
                .collect()
        };
        key(a).cmp(&key(b))
    }

    #[test]
    fn the_walk_is_in_fsutil_order() {
        let dir = tree(&[
            "a-b", "a/x", "a/y/z", "a.c", "A", "b/", "a0", "a/y-1", "\u{e9}", "z/a/b/c",
        ]);
        let listing = listed(dir.path(), &[], IncludeFilter::default());
        let paths = paths(&listing);
        // Known order: element by element, so `a/...` comes before `a-b` although `-` < `/`.
        assert_eq!(
            paths,
            [
                "A", "a", "a/x", "a/y", "a/y/z", "a/y-1", "a-b", "a.c", "a0", "b", "z", "z/a",
                "z/a/b", "z/a/b/c", "\u{e9}"
            ]
        );
        for pair in paths.windows(2) {
            assert_eq!(
                fsutil_order(pair[0], pair[1]),
                std::cmp::Ordering::Less,
                "{pair:?}"
            );
        }
    }

    #[test]
    fn files_are_numbered_by_their_stat() {
        let dir = tree(&["d/", "f1", "g/f2"]);
        symlink("f1", dir.path().join("link")).unwrap();
        fs::hard_link(dir.path().join("f1"), dir.path().join("hard")).unwrap();
        let listing = listed(dir.path(), &[], IncludeFilter::default());
        assert_eq!(paths(&listing), ["d", "f1", "g", "g/f2", "hard", "link"]);
        let mut ids: Vec<u32> = listing.files.keys().copied().collect();
        ids.sort_unstable();
        // `hard` is a link to `f1`: numbered, but the receiver links it rather than asks.
        assert_eq!(ids, [1, 3]);
        assert_eq!(listing.stats[4].linkname, "f1");
        assert_eq!(listing.stats[5].linkname, "f1");
        assert_ne!(
            listing.stats[5].mode & super::super::stat::GO_MODE_SYMLINK,
            0
        );
    }

    #[test]
    fn excluded_parents_of_reincluded_entries_are_sent_first() {
        let dir = tree(&["drop/a", "drop/keep/k", "other"]);
        let listing = listed(
            dir.path(),
            &["drop", "!drop/keep/k"],
            IncludeFilter::default(),
        );
        assert_eq!(
            paths(&listing),
            ["drop", "drop/keep", "drop/keep/k", "other"]
        );
        assert_ne!(listing.stats[0].mode & super::super::stat::GO_MODE_DIR, 0);
    }

    #[test]
    fn include_patterns_narrow_the_listing() {
        let dir = tree(&[".dockerignore", "src/a.c", "src/b.h", "docs/x"]);
        let includes = ["src/*.c".to_owned()];
        let listing = listed(dir.path(), &[], IncludeFilter::new(Some(&includes), None));
        assert_eq!(paths(&listing), ["src", "src/a.c"]);
        assert_eq!(listing.files.keys().copied().collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn a_name_that_is_not_utf8_is_refused_naming_it() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tree(&["fine"]);
        let name = std::ffi::OsStr::from_bytes(b"bad\xff");
        fs::write(dir.path().join(name), "x").unwrap();
        let matcher = PatternMatcher::new::<&str>(&[]).unwrap();
        let entries = walk(dir.path(), &matcher).unwrap().entries;
        let error = directory_listing(dir.path(), &entries, IncludeFilter::default()).unwrap_err();
        match &error {
            Error::InvalidPath { path, problem, .. } => {
                assert_eq!(path, &dir.path().join(name));
                assert!(problem.contains("--builder classic"), "{problem}");
            }
            other => panic!("an invalid path, not {other:?}"),
        }
    }

    #[test]
    fn a_memory_file_is_stamped_by_its_contents() {
        let listing = |text: &str| {
            memory_file_listing(
                "Dockerfile",
                Arc::from(text.as_bytes()),
                IncludeFilter::default(),
            )
        };
        let (one, same, other) = (
            listing("FROM a\n"),
            listing("FROM a\n"),
            listing("FROM b\n"),
        );
        assert_eq!(one.stats[0].mod_time, same.stats[0].mod_time);
        assert_ne!(one.stats[0].mod_time, other.stats[0].mod_time);
        assert!(one.stats[0].mod_time > 0);
        assert_eq!(one.stats[0].size, 7);
        let includes = ["Dockerfile.dockerignore".to_owned()];
        let narrowed = memory_file_listing(
            "Dockerfile",
            Arc::from(&b"x"[..]),
            IncludeFilter::new(Some(&includes), None),
        );
        assert!(narrowed.stats.is_empty());
    }
}
