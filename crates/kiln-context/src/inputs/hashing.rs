//! Hashing file contents on every core: the cold path of a fingerprint.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::ContextError;
use crate::parallel::map_on_cores;

/// The 32 bytes of a SHA-256 digest.
pub type DigestBytes = [u8; 32];

/// Bytes read per `read` call.
const READ_CHUNK: usize = 1 << 20;

/// Hashes the files at `root.join(path)` for every path, on as many threads as there are cores
/// (and never more threads than files). Results come back in the order of `paths`.
pub fn hash_files(root: &Path, paths: &[&Path]) -> Result<Vec<DigestBytes>, ContextError> {
    map_on_cores(
        paths,
        || vec![0u8; READ_CHUNK],
        |buffer, path| {
            let absolute = root.join(path);
            hash_file(&absolute, buffer).map_err(|error| ContextError::io(absolute, error))
        },
    )
}

/// SHA-256 of `bytes` as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// SHA-256 of one file's contents.
pub fn hash_file(path: &Path, buffer: &mut [u8]) -> io::Result<DigestBytes> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    loop {
        let read = match file.read(buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        hasher.update(&buffer[..read]);
    }
    Ok(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn digests_come_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<String> = (0..50).map(|n| format!("f{n}")).collect();
        for (n, name) in names.iter().enumerate() {
            fs::write(dir.path().join(name), vec![n as u8; n * 1000]).unwrap();
        }
        let paths: Vec<&Path> = names.iter().map(Path::new).collect();
        let digests = hash_files(dir.path(), &paths).unwrap();
        for (n, digest) in digests.iter().enumerate() {
            let expected: DigestBytes = Sha256::digest(vec![n as u8; n * 1000]).into();
            assert_eq!(*digest, expected, "file {n}");
        }
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let error = hash_files(dir.path(), &[Path::new("gone")]).unwrap_err();
        assert!(error.to_string().contains("gone"), "{error}");
    }
}
