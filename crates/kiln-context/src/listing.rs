//! One directory of a context, read without an allocation per entry: its names from `getdents`
//! into one block, sorted by their bytes, then each name `lstat`ed relative to the open
//! directory (no path walk from the root).

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawDir};

/// Bytes read per `getdents` call; a directory entry takes at most about 280.
const DIRENT_BUFFER: usize = 32 * 1024;

/// An open directory and the names of its entries (without `.` and `..`) in byte order.
pub(crate) struct DirListing {
    handle: OwnedFd,
    names: Vec<u8>,
    spans: Vec<(usize, usize)>,
}

/// What the walk keeps of an entry's `lstat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EntryStat {
    pub(crate) file_type: FileType,
    pub(crate) mode: u32,
    pub(crate) size: u64,
    pub(crate) mtime: i64,
    pub(crate) mtime_nsec: i64,
    pub(crate) ctime: i64,
    pub(crate) ctime_nsec: i64,
    pub(crate) ino: u64,
    pub(crate) dev: u64,
    pub(crate) nlink: u64,
    pub(crate) rdev: u64,
}

impl DirListing {
    /// Opens `dir` (not through a symbolic link) and reads its names.
    pub(crate) fn read(dir: &Path) -> io::Result<DirListing> {
        let handle = rustix::fs::open(
            dir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        )?;
        let mut names = Vec::new();
        let mut spans = Vec::new();
        let mut buffer: Vec<u8> = Vec::with_capacity(DIRENT_BUFFER);
        let mut entries = RawDir::new(&handle, buffer.spare_capacity_mut());
        while let Some(entry) = entries.next() {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let start = names.len();
            names.extend_from_slice(name);
            spans.push((start, names.len()));
        }
        spans.sort_unstable_by(|a, b| names[a.0..a.1].cmp(&names[b.0..b.1]));
        Ok(DirListing {
            handle,
            names,
            spans,
        })
    }

    /// The names, in byte order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &OsStr> {
        self.spans
            .iter()
            .map(|&(start, end)| OsStr::from_bytes(&self.names[start..end]))
    }

    /// The number of entries.
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// `lstat` of the entry `name`: a symbolic link is described, not followed.
    pub(crate) fn stat(&self, name: &OsStr) -> io::Result<EntryStat> {
        let stat = rustix::fs::statat(&self.handle, name, AtFlags::SYMLINK_NOFOLLOW)?;
        // The kernel's `struct stat` has other field types on other architectures.
        Ok(EntryStat {
            file_type: FileType::from_raw_mode(stat.st_mode),
            mode: stat.st_mode & 0o7777,
            size: number(stat.st_size),
            mtime: number(stat.st_mtime),
            mtime_nsec: number(stat.st_mtime_nsec),
            ctime: number(stat.st_ctime),
            ctime_nsec: number(stat.st_ctime_nsec),
            ino: number(stat.st_ino),
            dev: number(stat.st_dev),
            nlink: number(stat.st_nlink),
            rdev: number(stat.st_rdev),
        })
    }

    /// The target of the symbolic link `name`, as stored.
    pub(crate) fn read_link(&self, name: &OsStr) -> io::Result<PathBuf> {
        let target = rustix::fs::readlinkat(&self.handle, name, Vec::new())?;
        Ok(PathBuf::from(OsString::from_vec(target.into_bytes())))
    }
}

/// A stat field in the entry's type; a value that does not fit (a negative size) reads as 0.
fn number<Field, Value: TryFrom<Field> + Default>(field: Field) -> Value {
    Value::try_from(field).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{MetadataExt, symlink};

    #[test]
    fn names_come_sorted_by_their_bytes_without_dot_entries() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b", "a", "B", "a.b", "ä"] {
            fs::write(dir.path().join(name), name).unwrap();
        }
        let listing = DirListing::read(dir.path()).unwrap();
        let names: Vec<&OsStr> = listing.names().collect();
        assert_eq!(names, ["B", "a", "a.b", "b", "ä"]);
        assert_eq!(listing.len(), 5);
    }

    #[test]
    fn the_stat_is_the_one_std_reads() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("file"), "twelve bytes").unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        symlink("file", dir.path().join("link")).unwrap();
        let listing = DirListing::read(dir.path()).unwrap();
        for name in ["file", "sub", "link"] {
            let stat = listing.stat(OsStr::new(name)).unwrap();
            let std = fs::symlink_metadata(dir.path().join(name)).unwrap();
            let expected = EntryStat {
                file_type: FileType::from_raw_mode(std.mode()),
                mode: std.mode() & 0o7777,
                size: std.size(),
                mtime: std.mtime(),
                mtime_nsec: std.mtime_nsec(),
                ctime: std.ctime(),
                ctime_nsec: std.ctime_nsec(),
                ino: std.ino(),
                dev: std.dev(),
                nlink: std.nlink(),
                rdev: std.rdev(),
            };
            assert_eq!(stat, expected, "{name}");
        }
        assert_eq!(
            listing.read_link(OsStr::new("link")).unwrap(),
            Path::new("file")
        );
    }

    #[test]
    fn a_missing_directory_or_name_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = DirListing::read(&dir.path().join("missing")).err().unwrap();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        let listing = DirListing::read(dir.path()).unwrap();
        let gone = listing.stat(OsStr::new("gone")).unwrap_err();
        assert_eq!(gone.kind(), io::ErrorKind::NotFound);
    }
}
