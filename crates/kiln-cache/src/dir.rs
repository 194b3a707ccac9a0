//! The cache directory: where it is, and files in it written atomically and privately.

use std::fs::{self, DirBuilder};
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

/// [`Error::Cache`] for `operation` on `path`, caused by `error` (an I/O or JSON error, or a
/// sentence for a file that is readable but not what it should be).
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

/// Writes `value` as JSON to `path` atomically: a private temporary file in the same
/// directory, renamed over the target. Readers see the old file or the new one, never a part.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    let write = || -> io::Result<()> {
        let mut temporary = tempfile::NamedTempFile::new_in(dir)?;
        serde_json::to_writer(io::BufWriter::new(temporary.as_file_mut()), value)?;
        temporary.as_file_mut().flush()?;
        temporary.persist(path).map_err(|error| error.error)?;
        Ok(())
    };
    write().map_err(|error| cache_error("write", path, error))
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

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::MapEnv;
    use std::os::unix::fs::PermissionsExt;

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
        write_json(&path, &vec![1, 2, 3]).unwrap();
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
}
