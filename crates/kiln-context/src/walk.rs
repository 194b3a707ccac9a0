//! Walking a context directory the way the Docker CLI does, keeping what `.dockerignore` keeps.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::FileType;

use crate::dockerignore::{MatchInfo, PatternMatcher};
use crate::error::ContextError;
use crate::listing::{DirListing, EntryStat};
use crate::parallel::map_on_cores;

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
    fn from_stat(path: PathBuf, stat: &EntryStat, kind: EntryKind) -> Self {
        ContextEntry {
            size: if kind == EntryKind::File {
                stat.size
            } else {
                0
            },
            path,
            kind,
            mode: stat.mode,
            mtime: stat.mtime,
            mtime_nsec: stat.mtime_nsec,
            ctime: stat.ctime,
            ctime_nsec: stat.ctime_nsec,
            ino: stat.ino,
            dev: stat.dev,
            nlink: stat.nlink,
            rdev: stat.rdev,
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

impl WalkResult {
    fn append(&mut self, mut other: WalkResult) {
        self.entries.append(&mut other.entries);
        self.skipped_sockets.append(&mut other.skipped_sockets);
    }
}

/// A directory to walk: where it is, its path in the context, and how its parent matched.
struct Subtree {
    absolute: PathBuf,
    relative: PathBuf,
    matched: MatchInfo,
}

/// One child of a directory: its entry (unless excluded), and whether to walk below it.
struct Child {
    entry: Option<ContextEntry>,
    socket: Option<PathBuf>,
    descend: Option<Subtree>,
}

/// Walks `root`, keeping what `matcher` does not exclude.
///
/// Reproduces the CLI's walk: names in byte order, depth first; an excluded directory is skipped
/// whole unless an exclusion pattern (`!dir/...`) could re-include something below it, in which
/// case it is walked but not archived itself. The top-level directories are walked on all
/// cores; the result is in the same order as a sequential walk.
pub fn walk(root: &Path, matcher: &PatternMatcher) -> Result<WalkResult, ContextError> {
    enum Segment {
        Done(WalkResult),
        Pending(usize),
    }
    let mut segments = Vec::new();
    let mut subtrees = Vec::new();
    for child in children(root, Path::new(""), &MatchInfo::default(), matcher)? {
        segments.push(Segment::Done(WalkResult {
            entries: child.entry.into_iter().collect(),
            skipped_sockets: child.socket.into_iter().collect(),
        }));
        if let Some(subtree) = child.descend {
            segments.push(Segment::Pending(subtrees.len()));
            subtrees.push(subtree);
        }
    }
    let mut walked = walk_subtrees(&subtrees, matcher)?;
    let mut result = WalkResult::default();
    for segment in segments {
        match segment {
            Segment::Done(part) => result.append(part),
            Segment::Pending(index) => result.append(std::mem::take(&mut walked[index])),
        }
    }
    Ok(result)
}

/// Walks each subtree, on as many threads as there are cores (at most one per subtree).
fn walk_subtrees(
    subtrees: &[Subtree],
    matcher: &PatternMatcher,
) -> Result<Vec<WalkResult>, ContextError> {
    map_on_cores(
        subtrees,
        || (),
        |(), subtree| walk_sequential(subtree, matcher),
    )
}

fn walk_sequential(
    subtree: &Subtree,
    matcher: &PatternMatcher,
) -> Result<WalkResult, ContextError> {
    let mut result = WalkResult::default();
    let mut stack = vec![
        children(
            &subtree.absolute,
            &subtree.relative,
            &subtree.matched,
            matcher,
        )?
        .into_iter(),
    ];
    while let Some(level) = stack.last_mut() {
        let Some(child) = level.next() else {
            stack.pop();
            continue;
        };
        result.entries.extend(child.entry);
        result.skipped_sockets.extend(child.socket);
        if let Some(below) = child.descend {
            stack.push(
                children(&below.absolute, &below.relative, &below.matched, matcher)?.into_iter(),
            );
        }
    }
    Ok(result)
}

/// The children of one directory, in byte order of their names, with the CLI's decisions.
fn children(
    dir: &Path,
    relative_dir: &Path,
    dir_match: &MatchInfo,
    matcher: &PatternMatcher,
) -> Result<Vec<Child>, ContextError> {
    let listing = DirListing::read(dir).map_err(|error| ContextError::io(dir, error))?;
    let mut children = Vec::with_capacity(listing.len());
    for name in listing.names() {
        let relative = child_path(relative_dir, name);
        let stat = listing
            .stat(name)
            .map_err(|error| ContextError::io(dir.join(name), error))?;
        let is_dir = stat.file_type == FileType::Directory;
        let (excluded, matched) = if matcher.is_empty() {
            (false, MatchInfo::default())
        } else {
            matcher.matches_using_parent_results(&relative.to_string_lossy(), dir_match)
        };
        let descend = |matched| Subtree {
            absolute: dir.join(name),
            relative: relative.clone(),
            matched,
        };
        if excluded {
            let walk_below = is_dir
                && matcher.exclusions()
                && matcher.dir_may_contain_reincluded(&relative.to_string_lossy());
            children.push(Child {
                entry: None,
                socket: None,
                descend: walk_below.then(|| descend(matched)),
            });
            continue;
        }
        let kind = match kind_of(stat.file_type, &listing, name)
            .map_err(|error| ContextError::io(dir.join(name), error))?
        {
            Some(kind) => kind,
            None => {
                children.push(Child {
                    entry: None,
                    socket: Some(relative),
                    descend: None,
                });
                continue;
            }
        };
        let below = is_dir.then(|| descend(matched));
        children.push(Child {
            entry: Some(ContextEntry::from_stat(relative, &stat, kind)),
            socket: None,
            descend: below,
        });
    }
    Ok(children)
}

/// `relative_dir/name` (`name` alone at the root), allocated once at its final size.
fn child_path(relative_dir: &Path, name: &OsStr) -> PathBuf {
    let dir = relative_dir.as_os_str();
    if dir.is_empty() {
        return PathBuf::from(name);
    }
    let mut path = std::ffi::OsString::with_capacity(dir.len() + 1 + name.len());
    path.push(dir);
    path.push("/");
    path.push(name);
    PathBuf::from(path)
}

/// The entry kind, or `None` for a socket (which a tar archive cannot hold).
fn kind_of(
    file_type: FileType,
    listing: &DirListing,
    name: &OsStr,
) -> std::io::Result<Option<EntryKind>> {
    Ok(Some(match file_type {
        FileType::RegularFile => EntryKind::File,
        FileType::Directory => EntryKind::Dir,
        FileType::Symlink => EntryKind::Symlink(listing.read_link(name)?),
        FileType::Fifo => EntryKind::Fifo,
        FileType::CharacterDevice => EntryKind::CharDevice,
        FileType::BlockDevice => EntryKind::BlockDevice,
        FileType::Socket | FileType::Unknown => return Ok(None),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
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
    fn the_parallel_walk_keeps_the_sequential_order() {
        let files: Vec<String> = (0..40)
            .flat_map(|d| (0..3).map(move |f| format!("d{d:02}/s{}/f{f}", d % 3)))
            .chain(["top-file".to_owned(), "z/last".to_owned()])
            .collect();
        let refs: Vec<&str> = files.iter().map(String::as_str).collect();
        let dir = tree(&refs);
        let matcher = PatternMatcher::new(&["d1*/s1", "!d13/s1/f2"]).unwrap();
        let parallel = walk(dir.path(), &matcher).unwrap().entries;
        let root = Subtree {
            absolute: dir.path().to_owned(),
            relative: PathBuf::new(),
            matched: MatchInfo::default(),
        };
        let sequential = walk_sequential(&root, &matcher).unwrap().entries;
        assert_eq!(parallel, sequential);
        assert!(parallel.iter().any(|e| e.path == Path::new("d13/s1/f2")));
        assert!(!parallel.iter().any(|e| e.path == Path::new("d13/s1/f1")));
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
