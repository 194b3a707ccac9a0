//! Context entries as fsutil's `Stat`: Go's `os.FileMode` bits instead of `st_mode`, times in
//! nanoseconds, owner root, a hard link's second path pointing at its first, device numbers
//! split the way fsutil splits them.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;

use bollard_buildkit_proto::fsutil::types::Stat;
use kiln_context::{ContextEntry, EntryKind};

/// Go's `os.ModeDir`.
pub(crate) const GO_MODE_DIR: u32 = 1 << 31;
/// Go's `os.ModeSymlink`.
pub(crate) const GO_MODE_SYMLINK: u32 = 1 << 27;
/// Go's `os.ModeDevice`.
pub(crate) const GO_MODE_DEVICE: u32 = 1 << 26;
/// Go's `os.ModeNamedPipe`.
pub(crate) const GO_MODE_NAMED_PIPE: u32 = 1 << 25;
/// Go's `os.ModeSetuid`.
pub(crate) const GO_MODE_SETUID: u32 = 1 << 23;
/// Go's `os.ModeSetgid`.
pub(crate) const GO_MODE_SETGID: u32 = 1 << 22;
/// Go's `os.ModeCharDevice` (always with [`GO_MODE_DEVICE`]).
pub(crate) const GO_MODE_CHAR_DEVICE: u32 = 1 << 21;
/// Go's `os.ModeSticky`.
pub(crate) const GO_MODE_STICKY: u32 = 1 << 20;
/// Go's `os.ModeType`: the bits that say an entry is not a regular file.
const GO_MODE_TYPE: u32 = GO_MODE_DIR
    | GO_MODE_SYMLINK
    | (1 << 24) // socket
    | GO_MODE_DEVICE
    | GO_MODE_NAMED_PIPE
    | GO_MODE_CHAR_DEVICE
    | (1 << 19); // irregular

/// The `os.FileMode` Go's `os.Lstat` gives an entry of `kind` whose `st_mode & 0o7777` is
/// `permissions`.
pub(crate) fn go_mode(kind: &EntryKind, permissions: u32) -> u32 {
    let mut mode = permissions & 0o777;
    for (unix, go) in [
        (0o4000, GO_MODE_SETUID),
        (0o2000, GO_MODE_SETGID),
        (0o1000, GO_MODE_STICKY),
    ] {
        if permissions & unix != 0 {
            mode |= go;
        }
    }
    mode | match kind {
        EntryKind::File => 0,
        EntryKind::Dir => GO_MODE_DIR,
        EntryKind::Symlink(_) => GO_MODE_SYMLINK,
        EntryKind::Fifo => GO_MODE_NAMED_PIPE,
        EntryKind::CharDevice => GO_MODE_DEVICE | GO_MODE_CHAR_DEVICE,
        EntryKind::BlockDevice => GO_MODE_DEVICE,
    }
}

/// Whether the receiver may ask for an entry's contents (fsutil's `fileCanRequestData`, which
/// sender and receiver must agree on): regular files, hard links included.
pub(crate) fn carries_data(go_mode: u32) -> bool {
    go_mode & GO_MODE_TYPE == 0
}

/// fsutil's split of `st_rdev` (Linux's old 8:8 layout widened, as fsutil has it).
fn device_numbers(rdev: u64) -> (i64, i64) {
    let major = (rdev >> 8) & 0xfff;
    let minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
    (major as i64, minor as i64)
}

/// The stat fsutil's walker sends for `entry` at `path` (`/`-separated, relative to the
/// served directory): owner root, as the Docker CLI maps it. `hard_link_to` is, for a later
/// path of a file with several hard links, the first path sent (the receiver links instead of
/// asking for the contents again).
pub(crate) fn entry_stat(path: String, entry: &ContextEntry, hard_link_to: Option<String>) -> Stat {
    let mode = go_mode(&entry.kind, entry.mode);
    let (linkname, size) = match (&entry.kind, hard_link_to) {
        (EntryKind::Symlink(target), _) => {
            let target = target.to_string_lossy().into_owned();
            // `lstat` of a link gives the length of its target.
            let length = target.len() as u64;
            (target, length)
        }
        (EntryKind::File, Some(first)) => (first, 0),
        (EntryKind::File, None) => (String::new(), entry.size),
        _ => (String::new(), 0),
    };
    let (devmajor, devminor) = match entry.kind {
        EntryKind::CharDevice | EntryKind::BlockDevice => device_numbers(entry.rdev),
        _ => (0, 0),
    };
    Stat {
        path,
        mode,
        uid: 0,
        gid: 0,
        size: i64::try_from(size).unwrap_or(i64::MAX),
        mod_time: nanoseconds(entry.mtime, entry.mtime_nsec),
        linkname,
        devmajor,
        devminor,
        xattrs: Default::default(),
    }
}

/// The stat of a directory that is not itself in the context but holds entries that are (an
/// excluded directory walked for a `!` pattern): fsutil's receiver needs every parent first.
pub(crate) fn directory_stat(path: String, metadata: &Metadata) -> Stat {
    Stat {
        path,
        mode: go_mode(&EntryKind::Dir, metadata.mode() & 0o7777),
        mod_time: nanoseconds(metadata.mtime(), metadata.mtime_nsec()),
        ..Stat::default()
    }
}

/// A regular file that exists only in memory (the Dockerfile as kiln read it): mode 0644, and a
/// modification time taken from `stamp` so that other contents never look unchanged to a
/// receiver that compares size and time.
pub(crate) fn memory_file_stat(path: String, size: usize, stamp: i64) -> Stat {
    Stat {
        path,
        mode: 0o644,
        size: i64::try_from(size).unwrap_or(i64::MAX),
        mod_time: stamp,
        ..Stat::default()
    }
}

fn nanoseconds(seconds: i64, nanos: i64) -> i64 {
    seconds.saturating_mul(1_000_000_000).saturating_add(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn entry(kind: EntryKind, mode: u32) -> ContextEntry {
        ContextEntry {
            path: PathBuf::from("x"),
            kind,
            mode,
            size: 0,
            mtime: 1_700_000_000,
            mtime_nsec: 123_456_789,
            ctime: 0,
            ctime_nsec: 0,
            ino: 1,
            dev: 1,
            nlink: 1,
            rdev: 0,
        }
    }

    /// The values Go's `uint32(fi.Mode())` gives on Linux (`fmt.Printf("%d", ...)` of
    /// `os.Lstat` results, e.g. `drwxr-xr-x` is 2147484141).
    #[test]
    fn modes_are_go_file_modes() {
        let cases = [
            (EntryKind::File, 0o644, 420),
            (EntryKind::File, 0o755, 493),
            (EntryKind::Dir, 0o755, 2_147_484_141),
            (EntryKind::Dir, 0o1777, 2_148_532_735),
            (EntryKind::Symlink("t".into()), 0o777, 134_218_239),
            (EntryKind::Fifo, 0o644, 33_554_852),
            (EntryKind::CharDevice, 0o666, 69_206_454),
            (EntryKind::BlockDevice, 0o660, 67_109_296),
            (EntryKind::File, 0o4755, 8_389_101),
            (EntryKind::File, 0o2755, 4_194_797),
        ];
        for (kind, permissions, expected) in cases {
            assert_eq!(
                go_mode(&kind, permissions),
                expected,
                "{kind:?} {permissions:o}"
            );
        }
    }

    #[test]
    fn only_regular_files_carry_data() {
        assert!(carries_data(go_mode(&EntryKind::File, 0o4755)));
        for kind in [
            EntryKind::Dir,
            EntryKind::Symlink("t".into()),
            EntryKind::Fifo,
            EntryKind::CharDevice,
            EntryKind::BlockDevice,
        ] {
            assert!(!carries_data(go_mode(&kind, 0o644)), "{kind:?}");
        }
    }

    #[test]
    fn stats_carry_what_fsutil_compares() {
        let mut file = entry(EntryKind::File, 0o600);
        file.size = 12;
        let stat = entry_stat("a/b".into(), &file, None);
        assert_eq!(
            (
                stat.path.as_str(),
                stat.size,
                stat.mod_time,
                stat.uid,
                stat.gid
            ),
            ("a/b", 12, 1_700_000_000_123_456_789, 0, 0)
        );
        let link = entry_stat("a/c".into(), &file, Some("a/b".into()));
        assert_eq!((link.linkname.as_str(), link.size), ("a/b", 0));

        let symlink = entry_stat(
            "l".into(),
            &entry(EntryKind::Symlink("../target".into()), 0o777),
            None,
        );
        assert_eq!((symlink.linkname.as_str(), symlink.size), ("../target", 9));

        let mut device = entry(EntryKind::CharDevice, 0o666);
        // /dev/null: major 1, minor 3.
        device.rdev = 0x103;
        let stat = entry_stat("null".into(), &device, None);
        assert_eq!((stat.devmajor, stat.devminor), (1, 3));
    }
}
