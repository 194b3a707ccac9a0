//! The key secret build args are hashed with: random bytes in `<cache>/secret.key`, made on
//! first use and readable by the owner only.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use kiln_core::{Error, SecretKey};

use crate::dir::{cache_error, create_private_dir};

/// Where the key of the cache directory `root` lives.
pub fn secret_key_path(root: &Path) -> PathBuf {
    root.join("secret.key")
}

/// The key of the cache directory `root`, made (mode 0600) when there is none yet. Two
/// processes making it at once agree: the first file to be linked into place wins. A key file
/// that is not [`SecretKey::LEN`] bytes is an error (the caller hashes with a key of its own
/// for this run and warns).
pub fn load_or_create(root: &Path) -> Result<SecretKey, Error> {
    let path = secret_key_path(root);
    if let Some(key) = read(&path)? {
        return Ok(key);
    }
    create_private_dir(root)?;
    let bytes = SecretKey::random_bytes()
        .ok_or_else(|| cache_error("create", &path, "no random bytes from the system"))?;
    let written = (|| {
        // tempfile creates its files 0600.
        let mut temporary = crate::dir::temporary_in(root)?;
        temporary.write_all(&bytes)?;
        temporary.as_file().sync_all()?;
        temporary
            .persist_noclobber(&path)
            .map_err(|error| error.error)
    })();
    match written {
        Ok(_) => Ok(SecretKey::from_bytes(&bytes)),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => read(&path)?
            .ok_or_else(|| cache_error("read", &path, "the key file vanished while made")),
        Err(error) => Err(cache_error("create", &path, error)),
    }
}

fn read(path: &Path) -> Result<Option<SecretKey>, Error> {
    match fs::read(path) {
        Ok(bytes) if bytes.len() == SecretKey::LEN => Ok(Some(SecretKey::from_bytes(&bytes))),
        Ok(bytes) => Err(cache_error(
            "read",
            path,
            format!(
                "the key file holds {} bytes, not {}",
                bytes.len(),
                SecretKey::LEN
            ),
        )),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(cache_error("read", path, error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::fingerprint::ArgInput;
    use std::os::unix::fs::PermissionsExt;

    fn hash(key: &SecretKey) -> ArgInput {
        ArgInput::new("s3cr3t", Some(key))
    }

    #[test]
    fn the_key_is_made_once_private_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("cache");
        let first = load_or_create(&root).unwrap();
        let path = secret_key_path(&root);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(fs::read(&path).unwrap().len(), SecretKey::LEN);
        let again = load_or_create(&root).unwrap();
        assert_eq!(hash(&first), hash(&again));

        let elsewhere = load_or_create(&dir.path().join("other")).unwrap();
        assert_ne!(hash(&first), hash(&elsewhere), "keys are random");
    }

    #[test]
    fn a_damaged_key_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(secret_key_path(dir.path()), b"short").unwrap();
        let error = load_or_create(dir.path()).unwrap_err().to_string();
        assert!(error.contains("secret.key"), "{error}");
        assert!(error.contains("5 bytes, not 32"), "{error}");
    }
}
