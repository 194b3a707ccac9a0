//! The cache directory: where it is, and files in it written atomically and privately.

use std::fs::{self, DirBuilder, File};
use std::io::{self, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use kiln_core::{Env, Error, ErrorSource};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The cache directory: `KILN_CACHE_DIR`, else `$XDG_CACHE_HOME/kiln`, else `~/.cache/kiln`.
pub fn default_cache_dir(env: &dyn Env) -> Option<PathBuf> {
    env.path("KILN_CACHE_DIR")
        .or_else(|| env.path("XDG_CACHE_HOME").map(|dir| dir.join("kiln")))
        .or_else(|| {
            env.path("HOME")
                .map(|home| home.join(".cache").join("kiln"))
        })
}

/// Creates `dir` (and parents) readable by the owner only.
pub fn create_private_dir(dir: &Path) -> Result<(), Error> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|error| cache_error("create", dir, error))
}

/// The one place a cache error is made: [`Error::Cache`] for `operation` on `path`, caused by
/// `error` (an I/O or JSON error, or a sentence for a file that is readable but not what it
/// should be).
pub(crate) fn cache_error(
    operation: &'static str,
    path: &Path,
    error: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> Error {
    Error::Cache {
        operation,
        path: path.to_owned(),
        source: ErrorSource::boxed(error),
    }
}

/// Whether a file must be on the disk before it replaces the old one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Synced before the rename (and the directory after it): records, manifests, tag
    /// pointers — what later builds rely on.
    Synced,
    /// Renamed once written and flushed: files that are only an optimisation (the L1
    /// snapshot, the counts), where an fsync per process would cost more than a loss.
    Flushed,
}

/// Writes `value` as JSON to `path` atomically: a private temporary file in the same
/// directory, written, flushed and checked (and synced when `durability` says so), then
/// renamed over the target. Readers see the old file or the new one, never a part; when any
/// step fails — a full disk, say — the old file stays and the error says why.
pub fn write_json<T: Serialize>(
    path: &Path,
    value: &T,
    durability: Durability,
) -> Result<(), Error> {
    let bytes = serde_json::to_vec(value).map_err(|error| cache_error("write", path, error))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    replace_file(path, &bytes, durability, direct)
        .map_err(|error| cache_error("write", path, error))
}

/// How the temporary file is written to: directly, except in tests that inject a failure.
type WriterFor = for<'f> fn(&'f mut File) -> Box<dyn Write + 'f>;

fn direct(file: &mut File) -> Box<dyn Write + '_> {
    Box::new(file)
}

fn replace_file(
    path: &Path,
    bytes: &[u8],
    durability: Durability,
    writer: WriterFor,
) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    // Dropped on any early return, which removes the temporary file.
    let mut temporary = temporary_in(dir)?;
    {
        let mut out = writer(temporary.as_file_mut());
        out.write_all(bytes)?;
        out.flush()?;
    }
    if durability == Durability::Synced {
        temporary.as_file().sync_all()?;
    }
    temporary.persist(path).map_err(|error| error.error)?;
    if durability == Durability::Synced {
        // Makes the rename itself durable; the file is already complete either way.
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// The prefix of the temporary files this process writes: `.tmp-<pid>-`.
fn temporary_prefix() -> String {
    format!(".tmp-{}-", std::process::id())
}

/// A private temporary file in `dir`, named after this process (`.tmp-<pid>-…`), so that
/// [`sweep_orphans`] can tell the files of a killed process from those of a running one.
pub fn temporary_in(dir: &Path) -> io::Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(&temporary_prefix())
        .tempfile_in(dir)
}

/// Removes from `dir` the temporary files of processes that no longer run (killed between
/// creating a file and renaming it into place); returns how many. Files of running
/// processes, and names kiln does not make, are left alone.
pub fn sweep_orphans(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.strip_prefix(".tmp-"))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !process_runs(pid) && fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Whether process `pid` runs (on Linux, from `/proc`; elsewhere every process is assumed to).
fn process_runs(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}

/// Reads JSON from `path`: `Ok(None)` when it does not exist, an error when it cannot be read
/// or parsed (callers treat that as a miss and warn).
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, Error> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|error| cache_error("parse", path, error)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(cache_error("read", path, error)),
    }
}

/// What [`read_checked`] found.
#[derive(Debug)]
pub enum Found<T> {
    /// No file.
    Missing,
    /// A good file.
    Value(T),
    /// A corrupt file, removed: the error says what was wrong and what became of it.
    Repaired(Error),
}

/// Reads `what` from `path` as [`read_json`] does, and repairs a corrupt file: one that does
/// not parse or that `check` refuses is removed (so the next write starts clean and no later
/// reader trips on it again). A file that cannot be read at all (permissions, I/O) is left
/// alone and is the error.
pub fn read_checked<T: DeserializeOwned>(
    path: &Path,
    what: &str,
    check: impl FnOnce(&T) -> Result<(), &'static str>,
) -> Result<Found<T>, Error> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Found::Missing),
        Err(error) => return Err(cache_error("read", path, error)),
    };
    let problem = match serde_json::from_slice::<T>(&bytes) {
        Ok(value) => match check(&value) {
            Ok(()) => return Ok(Found::Value(value)),
            Err(problem) => problem.to_owned(),
        },
        Err(error) => error.to_string(),
    };
    let repair = match remove_if_unchanged(path, &bytes) {
        Ok(true) => "removed it".to_owned(),
        Ok(false) => "another process replaced it meanwhile".to_owned(),
        Err(error) => format!("cannot remove it: {error}"),
    };
    Ok(Found::Repaired(cache_error(
        "read",
        path,
        format!("corrupt {what} ({problem}); {repair}"),
    )))
}

/// [`read_checked`] for callers that treat a corrupt file as an error to warn about.
pub fn read_json_or_repair<T: DeserializeOwned>(
    path: &Path,
    what: &str,
    check: impl FnOnce(&T) -> Result<(), &'static str>,
) -> Result<Option<T>, Error> {
    match read_checked(path, what, check)? {
        Found::Missing => Ok(None),
        Found::Value(value) => Ok(Some(value)),
        Found::Repaired(error) => Err(error),
    }
}

/// Removes `path` unless a writer has renamed another version over it since it read as
/// `bytes` (a narrow window, but a good file is never removed for a bad one knowingly).
fn remove_if_unchanged(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    match fs::read(path) {
        Ok(now) if now == bytes => {}
        Ok(_) => return Ok(false),
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(true),
        Err(error) => return Err(error),
    }
    match fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::MapEnv;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn sweeping_removes_only_the_temporary_files_of_processes_gone() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join(".tmp-4000000000-abc");
        let mine = temporary_in(dir.path()).unwrap();
        let foreign = dir.path().join(".tmpXYZ");
        let record = dir.path().join("r.json");
        for path in [&gone, &foreign, &record] {
            fs::write(path, b"x").unwrap();
        }
        assert_eq!(sweep_orphans(dir.path()), 1);
        assert!(!gone.exists());
        assert!(mine.path().exists(), "this process's file stays");
        assert!(
            foreign.exists() && record.exists(),
            "names kiln does not make stay"
        );
    }

    #[test]
    fn cache_dir_precedence() {
        let env = MapEnv::new().with("HOME", "/home/u");
        assert_eq!(
            default_cache_dir(&env),
            Some(PathBuf::from("/home/u/.cache/kiln"))
        );
        let env = env.with("XDG_CACHE_HOME", "/xdg");
        assert_eq!(default_cache_dir(&env), Some(PathBuf::from("/xdg/kiln")));
        let env = env.with("KILN_CACHE_DIR", "/explicit");
        assert_eq!(default_cache_dir(&env), Some(PathBuf::from("/explicit")));
    }

    #[test]
    fn files_are_private_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/value.json");
        write_json(&path, &vec![1, 2, 3], Durability::Synced).unwrap();
        assert_eq!(read_json::<Vec<i32>>(&path).unwrap(), Some(vec![1, 2, 3]));
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
        assert_eq!(
            read_json::<Vec<i32>>(&dir.path().join("none.json")).unwrap(),
            None
        );
        fs::write(&path, "{broken").unwrap();
        assert!(read_json::<Vec<i32>>(&path).is_err());
    }

    /// A disk that fills up: writes land in the file until `room` bytes, then fail, and a
    /// flush fails when anything was left unwritten — the shape of ENOSPC through a buffer.
    struct FullDisk<'f> {
        file: &'f mut File,
        room: usize,
        lost: bool,
    }

    impl Write for FullDisk<'_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                self.lost = true;
                return Err(io::Error::new(
                    io::ErrorKind::StorageFull,
                    "No space left on device",
                ));
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            self.file.write(&buf[..n])
        }

        fn flush(&mut self) -> io::Result<()> {
            if self.lost {
                return Err(io::Error::new(
                    io::ErrorKind::StorageFull,
                    "No space left on device",
                ));
            }
            self.file.flush()
        }
    }

    fn no_room(file: &mut File) -> Box<dyn Write + '_> {
        Box::new(FullDisk {
            file,
            room: 0,
            lost: false,
        })
    }

    fn some_room(file: &mut File) -> Box<dyn Write + '_> {
        Box::new(FullDisk {
            file,
            room: 4,
            lost: false,
        })
    }

    /// A buffer that takes every write and fails only when flushed, as a `BufWriter` does
    /// when its last flush hits a full disk (the error a by-value `BufWriter` used to lose).
    struct Buffered<'f>(FullDisk<'f>);

    impl Write for Buffered<'_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            self.0.flush()
        }
    }

    fn fails_on_flush(file: &mut File) -> Box<dyn Write + '_> {
        Box::new(Buffered(FullDisk {
            file,
            room: 0,
            lost: true,
        }))
    }

    #[test]
    fn a_full_disk_keeps_the_old_file_and_says_why() {
        let writers: [(&str, WriterFor); 3] = [
            ("no room at all", no_room),
            ("room for a part", some_room),
            ("fails on flush", fails_on_flush),
        ];
        for (case, writer) in writers {
            for durability in [Durability::Synced, Durability::Flushed] {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("record.json");
                write_json(&path, &"old", Durability::Synced).unwrap();
                let error =
                    replace_file(&path, b"\"a new value\"", durability, writer).expect_err(case);
                assert_eq!(error.kind(), io::ErrorKind::StorageFull, "{case}");
                assert_eq!(fs::read_to_string(&path).unwrap(), "\"old\"", "{case}");
                let left: Vec<_> = fs::read_dir(dir.path())
                    .unwrap()
                    .map(|entry| entry.unwrap().file_name())
                    .collect();
                assert_eq!(left, ["record.json"], "{case}: temporary files left");
                let message = cache_error("write", &path, error).to_string();
                assert!(
                    message.contains("record.json") && message.contains("No space left"),
                    "{case}: {message}"
                );
            }
        }
    }

    #[test]
    fn corrupt_files_are_removed_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tag.json");
        let never = |_: &Vec<i32>| Err("it names another tag");
        let always = |_: &Vec<i32>| Ok(());
        assert_eq!(read_json_or_repair(&path, "list", always).unwrap(), None);
        for (content, expected) in [
            ("", "EOF while parsing"),
            ("[1, oops", "expected value"),
            ("[1]", "it names another tag"),
        ] {
            fs::write(&path, content).unwrap();
            let error = read_json_or_repair(&path, "list", never)
                .unwrap_err()
                .to_string();
            assert!(
                error.contains("corrupt list")
                    && error.contains(expected)
                    && error.contains("removed it"),
                "{content:?}: {error}"
            );
            assert!(!path.exists(), "{content:?} was not removed");
        }
        fs::write(&path, "[1, 2]").unwrap();
        assert_eq!(
            read_json_or_repair(&path, "list", always).unwrap(),
            Some(vec![1, 2])
        );
        assert!(path.exists());
    }

    #[test]
    fn a_file_replaced_meanwhile_is_not_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tag.json");
        fs::write(&path, "[9]").unwrap();
        assert!(!remove_if_unchanged(&path, b"garbage").unwrap());
        assert!(path.exists());
        assert!(remove_if_unchanged(&path, b"[9]").unwrap());
        assert!(!path.exists());
    }
}
