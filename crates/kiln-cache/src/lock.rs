//! One build per fingerprint across processes: an advisory lock file per fingerprint.
//!
//! The lock is `flock`-style (`std::fs::File::lock`): the kernel releases it when its holder
//! exits, however it exits, so a killed or crashed holder never blocks the next build.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
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
        .open(path)
        .map_err(|error| cache_error("lock", path, error))
}

impl BuildLock {
    /// Takes the lock for `fingerprint` if nobody holds it.
    pub fn try_acquire(cache_dir: &Path, fingerprint: &Fingerprint) -> Result<TryLock, Error> {
        let path = lock_path(cache_dir, fingerprint);
        let mut file = open(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(TryLock::Acquired(BuildLock::held(file, path)?)),
            Err(fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                Ok(TryLock::Busy {
                    holder: text.trim().parse().ok(),
                })
            }
            Err(fs::TryLockError::Error(error)) => Err(cache_error("lock", &path, error)),
        }
    }

    /// Waits until the lock for `fingerprint` is free and takes it (blocking: call it on a
    /// blocking thread).
    pub fn acquire(cache_dir: &Path, fingerprint: &Fingerprint) -> Result<BuildLock, Error> {
        let path = lock_path(cache_dir, fingerprint);
        let file = open(&path)?;
        file.lock()
            .map_err(|error| cache_error("lock", &path, error))?;
        BuildLock::held(file, path)
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
}
