//! Walking a context directory the way the Docker CLI does, keeping what `.dockerignore` keeps.

use std::fs::{self, Metadata};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::dockerignore::{MatchInfo, PatternMatcher};
use crate::error::ContextError;

/// The type of a context entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link and its target, as stored (never followed).
    Symlink(PathBuf),
    /// A named pipe.
    Fifo,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
}

/// One file, directory or link of a context, with the metadata the archive and the fingerprint
/// need. Taken with `lstat`: links are not followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextEntry {
    /// The path relative to the context root, `/`-separated, without a leading `./`.
    pub path: PathBuf,
    /// What it is.
    pub kind: EntryKind,
    /// Permission bits, with setuid, setgid and sticky (`st_mode & 0o7777`).
    pub mode: u32,
    /// Size in bytes (regular files only; 0 otherwise).
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Nanoseconds of the modification time.
    pub mtime_nsec: i64,
    /// Status change time, seconds since the epoch.
    pub ctime: i64,
    /// Nanoseconds of the status change time.
    pub ctime_nsec: i64,
    /// Inode number.
    pub ino: u64,
    /// Device number of the file system holding the entry.
    pub dev: u64,
    /// Number of hard links.
    pub nlink: u64,
    /// Device number for character and block devices.
    pub rdev: u64,
}

impl ContextEntry {
    fn from_metadata(path: PathBuf, metadata: &Metadata, kind: EntryKind) -> Self {
        ContextEntry {
            size: if kind == EntryKind::File {
                metadata.size()
            } else {
                0
            },
            path,
            kind,
            mode: metadata.mode() & 0o7777,
            mtime: metadata.mtime(),
            mtime_nsec: metadata.mtime_nsec(),
            ctime: metadata.ctime(),
            ctime_nsec: metadata.ctime_nsec(),
            ino: metadata.ino(),
            dev: metadata.dev(),
            nlink: metadata.nlink(),
            rdev: metadata.rdev(),
        }
    }

    /// The relative path as bytes.
    pub fn path_bytes(&self) -> &[u8] {
        self.path.as_os_str().as_bytes()
    }
}

/// What the walk found: the entries to send, and the sockets it had to leave out.
#[derive(Debug, Clone, Default)]
pub struct WalkResult {
    /// Entries in the order the Docker CLI would archive them (depth first, names sorted).
    pub entries: Vec<ContextEntry>,
    /// Sockets found and skipped (a tar archive cannot hold them).
    pub skipped_sockets: Vec<PathBuf>,
}

/// Walks `root`, keeping what `matcher` does not exclude.
///
/// Reproduces the CLI's walk: names in byte order, depth first; an excluded directory is skipped
/// whole unless an exclusion pattern (`!dir/...`) could re-include something below it, in which
/// case it is walked but not archived itself.
pub fn walk(root: &Path, matcher: &PatternMatcher) -> Result<WalkResult, ContextError> {
    let mut result = WalkResult::default();
    let mut walker = Walker {
        matcher,
        result: &mut result,
    };
    walker.walk_dir(root, Path::new(""), &MatchInfo::default())?;
    Ok(result)
}

struct Walker<'a> {
    matcher: &'a PatternMatcher,
    result: &'a mut WalkResult,
}

impl Walker<'_> {
    fn walk_dir(
        &mut self,
        dir: &Path,
        relative_dir: &Path,
        dir_match: &MatchInfo,
    ) -> Result<(), ContextError> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .map_err(|error| ContextError::io(dir, error))?
            .map(|entry| entry.map(|entry| entry.file_name()))
            .collect::<Result<_, _>>()
            .map_err(|error| ContextError::io(dir, error))?;
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));

        for name in names {
            let absolute = dir.join(&name);
            let relative = relative_dir.join(&name);
            let metadata = fs::symlink_metadata(&absolute)
                .map_err(|error| ContextError::io(&absolute, error))?;
            let is_dir = metadata.is_dir();

            let (excluded, info) = if self.matcher.is_empty() {
                (false, MatchInfo::default())
            } else {
                let text = relative.to_string_lossy();
                self.matcher.matches_using_parent_results(&text, dir_match)
            };

            if excluded {
                let descend = is_dir
                    && self.matcher.exclusions()
                    && self
                        .matcher
                        .dir_may_contain_reincluded(&relative.to_string_lossy());
                if descend {
                    self.walk_dir(&absolute, &relative, &info)?;
                }
                continue;
            }

            let Some(kind) = self.kind_of(&absolute, &relative, &metadata)? else {
                continue;
            };
            self.result.entries.push(ContextEntry::from_metadata(
                relative.clone(),
                &metadata,
                kind,
            ));
            if is_dir {
                self.walk_dir(&absolute, &relative, &info)?;
            }
        }
        Ok(())
    }

    fn kind_of(
        &mut self,
        absolute: &Path,
        relative: &Path,
        metadata: &Metadata,
    ) -> Result<Option<EntryKind>, ContextError> {
        let file_type = metadata.file_type();
        let kind = if file_type.is_file() {
            EntryKind::File
        } else if file_type.is_dir() {
            EntryKind::Dir
        } else if file_type.is_symlink() {
            let target =
                fs::read_link(absolute).map_err(|error| ContextError::io(absolute, error))?;
            EntryKind::Symlink(target)
        } else if file_type.is_fifo() {
            EntryKind::Fifo
        } else if file_type.is_char_device() {
            EntryKind::CharDevice
        } else if file_type.is_block_device() {
            EntryKind::BlockDevice
        } else {
            self.result.skipped_sockets.push(relative.to_owned());
            return Ok(None);
        };
        Ok(Some(kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree(files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for file in files {
            let path = dir.path().join(file);
            if let Some(stripped) = file.strip_suffix('/') {
                fs::create_dir_all(dir.path().join(stripped)).unwrap();
            } else {
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(&path, file.as_bytes()).unwrap();
            }
        }
        dir
    }

    fn walked(dir: &Path, patterns: &[&str]) -> Vec<String> {
        let matcher = PatternMatcher::new(patterns).unwrap();
        walk(dir, &matcher)
            .unwrap()
            .entries
            .into_iter()
            .map(|entry| {
                let mut path = entry.path.to_string_lossy().into_owned();
                if entry.kind == EntryKind::Dir {
                    path.push('/');
                }
                path
            })
            .collect()
    }

    #[test]
    fn walks_depth_first_in_byte_order() {
        let dir = tree(&["b", "a/z", "a/y", "A", "c/"]);
        assert_eq!(
            walked(dir.path(), &[]),
            ["A", "a/", "a/y", "a/z", "b", "c/"]
        );
    }

    #[test]
    fn excluded_directories_are_skipped_whole() {
        let dir = tree(&["keep", "drop/a", "drop/b/c"]);
        assert_eq!(walked(dir.path(), &["drop"]), ["keep"]);
    }

    #[test]
    fn reinclusion_under_an_excluded_directory_walks_without_the_directory() {
        let dir = tree(&["drop/a", "drop/keep", "other"]);
        assert_eq!(
            walked(dir.path(), &["drop", "!drop/keep"]),
            ["drop/keep", "other"]
        );
    }

    #[test]
    fn double_star_reinclusion_does_not_reach_into_excluded_directories() {
        let dir = tree(&["drop/keep", "keep"]);
        assert_eq!(walked(dir.path(), &["drop", "!**/keep"]), ["keep"]);
    }

    #[test]
    fn symlinks_are_recorded_not_followed() {
        let dir = tree(&["target/file"]);
        symlink("target", dir.path().join("link")).unwrap();
        let matcher = PatternMatcher::new::<&str>(&[]).unwrap();
        let entries = walk(dir.path(), &matcher).unwrap().entries;
        let link = entries
            .iter()
            .find(|e| e.path == Path::new("link"))
            .unwrap();
        assert_eq!(link.kind, EntryKind::Symlink(PathBuf::from("target")));
        assert_eq!(entries.len(), 3, "{entries:?}");
    }

    #[test]
    fn unreadable_directory_is_an_error_naming_it() {
        let dir = tree(&["ok"]);
        let error = walk(
            &dir.path().join("missing"),
            &PatternMatcher::new::<&str>(&[]).unwrap(),
        )
        .unwrap_err();
        assert!(error.to_string().contains("missing"), "{error}");
    }
}
