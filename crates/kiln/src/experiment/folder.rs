//! An experiment's folder: its id, `experiment.json`, the owner lock the kernel releases when
//! its process dies, and the paths of everything else it keeps.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use kiln_core::{Error, Result};
use serde::{Deserialize, Serialize};

use kiln_core::rfc3339;

use super::labels::Owner;

/// What `experiment.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExperimentInfo {
    /// The id (also the folder's name).
    pub id: String,
    /// The name it was given.
    pub name: String,
    /// The kiln version that ran it.
    pub kiln_version: String,
    /// `host:pid:started` of the process that ran it.
    pub owner: String,
    /// When it started (RFC 3339).
    pub created: String,
    /// `running`, `passed`, `failed`, `interrupted`.
    pub status: String,
}

/// An experiment's folder, with its owner lock held while this value lives.
#[derive(Debug)]
pub struct ExperimentDir {
    path: PathBuf,
    info: ExperimentInfo,
    _owner: File,
}

impl ExperimentDir {
    /// Makes the folder of a new experiment named `name` under `root`
    /// (`<root>/<UTC time>-<name>-<4 hex>`), takes its owner lock and writes
    /// `experiment.json` (status `running`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a name that cannot be part of a resource name;
    /// [`Error::Cache`] when the folder cannot be made.
    pub fn create(
        root: &Path,
        name: &str,
        owner: &Owner,
        now: SystemTime,
    ) -> Result<ExperimentDir> {
        check_name(name)?;
        // `2026-12-06T21:33:00…Z` → `20261206T213300Z`.
        let stamp = format!("{}Z", rfc3339(now)[..19].replace(['-', ':'], ""));
        let id = format!("{stamp}-{name}-{}", random_hex());
        let path = root.join(&id);
        kiln_cache::dir::create_private_dir(&path)?;
        let lock =
            File::create(path.join("owner.lock")).map_err(|error| cache_error(&path, error))?;
        lock.try_lock()
            .map_err(|error| cache_error(&path, std::io::Error::other(error.to_string())))?;
        let info = ExperimentInfo {
            id,
            name: name.to_owned(),
            kiln_version: crate::VERSION.to_owned(),
            owner: owner.label(),
            created: rfc3339(now),
            status: "running".to_owned(),
        };
        let dir = ExperimentDir {
            path,
            info,
            _owner: lock,
        };
        dir.save_info()?;
        Ok(dir)
    }

    /// The experiment's id.
    pub fn id(&self) -> &str {
        &self.info.id
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records the experiment's status (`passed`, `failed`, `interrupted`).
    pub fn set_status(&mut self, status: &str) -> Result<()> {
        status.clone_into(&mut self.info.status);
        self.save_info()
    }

    fn save_info(&self) -> Result<()> {
        kiln_cache::dir::write_json(
            &self.path.join("experiment.json"),
            &self.info,
            kiln_cache::dir::Durability::Synced,
        )
    }
}

/// Whether the experiment in `folder` has a live owner: its owner lock is held.
pub fn owner_alive(folder: &Path) -> bool {
    match File::open(folder.join("owner.lock")) {
        Ok(file) => match file.try_lock() {
            Ok(()) => false,
            Err(std::fs::TryLockError::WouldBlock) => true,
            Err(std::fs::TryLockError::Error(_)) => false,
        },
        Err(_) => false,
    }
}

/// Reads `experiment.json` in `folder`.
pub fn read_info(folder: &Path) -> Result<Option<ExperimentInfo>> {
    kiln_cache::dir::read_json(&folder.join("experiment.json"))
}

/// The experiments' root under the cache directory.
pub fn experiments_root(cache_dir: &Path) -> PathBuf {
    cache_dir.join("experiments")
}

/// Every experiment folder under `root`, oldest first (ids start with their time).
pub fn folders(root: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.join("experiment.json").is_file())
        .collect();
    found.sort();
    found
}

fn check_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 40
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(Error::invalid_input(
            "experiment name",
            name,
            "lower-case letters, digits, '-' or '_', starting with a letter or digit, at most 40",
        ))
    }
}

/// Four hex digits that tell apart two experiments of the same name started the same second.
fn random_hex() -> String {
    let mut bytes = [0u8; 2];
    let random = File::open("/dev/urandom")
        .and_then(|mut file| std::io::Read::read_exact(&mut file, &mut bytes));
    if random.is_err() {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_nanos());
        bytes = (u16::try_from(nanos % 65_536).unwrap_or(0)
            ^ u16::try_from(std::process::id() % 65_536).unwrap_or(0))
        .to_be_bytes();
    }
    hex::encode(bytes)
}

fn cache_error(path: &Path, error: std::io::Error) -> Error {
    Error::Cache {
        operation: "create the experiment folder",
        path: path.to_owned(),
        source: kiln_core::ErrorSource::boxed(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_experiment_holds_its_owner_lock_until_dropped() {
        let root = tempfile::tempdir().unwrap();
        let owner = Owner::this_process();
        let mut dir =
            ExperimentDir::create(root.path(), "interop", &owner, SystemTime::now()).unwrap();
        assert!(dir.id().contains("-interop-"), "{}", dir.id());
        let folder = dir.path().to_owned();
        assert!(owner_alive(&folder), "its owner runs");
        dir.set_status("passed").unwrap();
        assert_eq!(read_info(&folder).unwrap().unwrap().status, "passed");
        assert_eq!(folders(root.path()), std::slice::from_ref(&folder));
        drop(dir);
        assert!(!owner_alive(&folder), "the lock went with its owner");
    }

    #[test]
    fn names_that_cannot_name_resources_are_refused() {
        let root = tempfile::tempdir().unwrap();
        for name in ["", "Interop", "a b", "-x"] {
            let error =
                ExperimentDir::create(root.path(), name, &Owner::this_process(), SystemTime::now())
                    .unwrap_err();
            assert!(error.to_string().contains(&format!("{name:?}")), "{error}");
        }
    }
}
