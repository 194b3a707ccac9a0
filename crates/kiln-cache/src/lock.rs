//! One build per fingerprint across processes: an advisory lock file per fingerprint.
//!
//! The lock is `flock`-style (`std::fs::File::lock`): the kernel releases it when its holder
//! exits, however it exits, so a killed or crashed holder never blocks the next build.
//!
//! Lock files are private (0600) and may be removed by `kiln cache prune` when nobody holds
//! them: a locker therefore checks, once it holds the lock, that the file it locked is still
//! the one at the path, and starts again on the new file when it is not.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use kiln_core::{Error, Fingerprint};

use crate::dir::{cache_error, create_private_dir};

/// A held build lock; released when dropped.
#[derive(Debug)]
pub struct BuildLock {
    file: File,
    path: PathBuf,
}

/// The outcome of trying to take a lock without waiting.
#[derive(Debug)]
pub enum TryLock {
    /// Taken.
    Acquired(BuildLock),
    /// Held by another process, whose id is given when it wrote it.
    Busy {
        /// The holder's process id, if recorded.
        holder: Option<u32>,
    },
}

fn lock_path(cache_dir: &Path, fingerprint: &Fingerprint) -> PathBuf {
    cache_dir.join("locks").join(format!("{fingerprint}.lock"))
}

fn open(path: &Path) -> Result<File, Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|error| cache_error("lock", path, error))
}

/// Whether the locked `file` is still the file at `path` (not removed by a prune meanwhile).
fn still_at(file: &File, path: &Path) -> Result<bool, Error> {
    let locked = file
        .metadata()
        .map_err(|error| cache_error("lock", path, error))?;
    match fs::metadata(path) {
        Ok(current) => Ok(current.dev() == locked.dev() && current.ino() == locked.ino()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(cache_error("lock", path, error)),
    }
}

/// Tries an existing lock file without creating it: `None` when it is gone.
pub(crate) fn try_lock_file(path: &Path) -> Result<Option<TryLock>, Error> {
    let file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(cache_error("lock", path, error)),
    };
    try_lock_open(file, path)
}

/// `None`: the file was removed before the lock was taken.
fn try_lock_open(mut file: File, path: &Path) -> Result<Option<TryLock>, Error> {
    match file.try_lock() {
        Ok(()) if still_at(&file, path)? => Ok(Some(TryLock::Acquired(BuildLock::held(
            file,
            path.to_owned(),
        )?))),
        Ok(()) => Ok(None),
        Err(fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            Ok(Some(TryLock::Busy {
                holder: text.trim().parse().ok(),
            }))
        }
        Err(fs::TryLockError::Error(error)) => Err(cache_error("lock", path, error)),
    }
}

impl BuildLock {
    /// Takes the lock for `fingerprint` if nobody holds it.
    pub fn try_acquire(cache_dir: &Path, fingerprint: &Fingerprint) -> Result<TryLock, Error> {
        let path = lock_path(cache_dir, fingerprint);
        loop {
            if let Some(outcome) = try_lock_open(open(&path)?, &path)? {
                return Ok(outcome);
            }
        }
    }

    /// Waits until the lock for `fingerprint` is free and takes it (blocking: call it on a
    /// blocking thread).
    pub fn acquire(cache_dir: &Path, fingerprint: &Fingerprint) -> Result<BuildLock, Error> {
        let path = lock_path(cache_dir, fingerprint);
        loop {
            let file = open(&path)?;
            file.lock()
                .map_err(|error| cache_error("lock", &path, error))?;
            if still_at(&file, &path)? {
                return BuildLock::held(file, path);
            }
        }
    }

    fn held(mut file: File, path: PathBuf) -> Result<BuildLock, Error> {
        let record = |file: &mut File| -> io::Result<()> {
            file.set_len(0)?;
            file.rewind()?;
            write!(file, "{}", std::process::id())?;
            file.flush()
        };
        // The holder's id only helps the waiter's message; failing to write it is harmless.
        let _ = record(&mut file);
        Ok(BuildLock { file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for BuildLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fingerprint() -> Fingerprint {
        Fingerprint::parse(&"ab".repeat(32)).unwrap()
    }

    #[test]
    fn a_held_lock_is_busy_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let held = BuildLock::acquire(dir.path(), &fingerprint()).unwrap();
        match BuildLock::try_acquire(dir.path(), &fingerprint()).unwrap() {
            TryLock::Busy { holder } => assert_eq!(holder, Some(std::process::id())),
            TryLock::Acquired(_) => panic!("the lock is held"),
        }
        drop(held);
        assert!(matches!(
            BuildLock::try_acquire(dir.path(), &fingerprint()).unwrap(),
            TryLock::Acquired(_)
        ));
    }

    #[test]
    fn a_lock_file_removed_before_it_was_locked_is_not_held() {
        let dir = tempfile::tempdir().unwrap();
        let path = lock_path(dir.path(), &fingerprint());
        let file = open(&path).unwrap();
        assert!(still_at(&file, &path).unwrap());
        fs::remove_file(&path).unwrap();
        assert!(!still_at(&file, &path).unwrap());
        // What a locker that opened the removed file gets: not the lock, so it starts again.
        assert!(try_lock_open(file, &path).unwrap().is_none());
        let replaced = open(&path).unwrap();
        assert!(still_at(&replaced, &path).unwrap());
        assert!(matches!(
            BuildLock::try_acquire(dir.path(), &fingerprint()).unwrap(),
            TryLock::Acquired(_)
        ));
    }
}
