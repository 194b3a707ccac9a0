//! Writing walked context entries as a tar stream, reading each file only as it is written.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use tar::{EntryType, Header};

use crate::walk::{ContextEntry, EntryKind};

/// A file that is not on disk but goes into the archive (the Dockerfile from outside the
/// context, or a rewritten `.dockerignore`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectedFile {
    /// Its name in the archive.
    pub name: String,
    /// Its contents.
    pub contents: Vec<u8>,
}

/// Writes `entries` (read from under `root`) as a tar archive into `out`.
///
/// Ownership is recorded as root (uid and gid 0), as the Docker CLI does; modification times are
/// kept to the second; files with several hard links inside the context are archived once and
/// linked after. An injected file replaces the entry of the same name or is appended at the end.
/// A file that changes size while it is read fails the write rather than corrupting the stream.
pub fn write_archive(
    root: &Path,
    entries: &[ContextEntry],
    injected: &[InjectedFile],
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut builder = tar::Builder::new(out);
    let mut first_link_of: HashMap<(u64, u64), &Path> = HashMap::new();
    let mut injected_written = vec![false; injected.len()];

    for entry in entries {
        let position = injected
            .iter()
            .position(|file| Path::new(&file.name) == entry.path);
        if let Some(index) = position {
            append_injected(&mut builder, &injected[index], Some(entry))?;
            injected_written[index] = true;
            continue;
        }
        let mut header = header_for(entry);
        match &entry.kind {
            EntryKind::File => {
                if entry.nlink > 1 {
                    if let Some(first) = first_link_of.get(&(entry.dev, entry.ino)) {
                        header.set_entry_type(EntryType::Link);
                        header.set_size(0);
                        builder.append_link(&mut header, &entry.path, first)?;
                        continue;
                    }
                    first_link_of.insert((entry.dev, entry.ino), &entry.path);
                }
                let absolute = root.join(&entry.path);
                let file = File::open(&absolute).map_err(|error| with_path(error, &absolute))?;
                let reader = ExactReader {
                    inner: file,
                    remaining: entry.size,
                    path: absolute,
                };
                builder.append_data(&mut header, &entry.path, reader)?;
            }
            EntryKind::Symlink(target) => {
                builder.append_link(&mut header, &entry.path, target)?;
            }
            EntryKind::Dir | EntryKind::Fifo | EntryKind::CharDevice | EntryKind::BlockDevice => {
                builder.append_data(&mut header, &entry.path, io::empty())?;
            }
        }
    }
    for (file, written) in injected.iter().zip(injected_written) {
        if !written {
            append_injected(&mut builder, file, None)?;
        }
    }
    builder.finish()
}

fn header_for(entry: &ContextEntry) -> Header {
    let mut header = Header::new_gnu();
    header.set_mode(entry.mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(u64::try_from(entry.mtime).unwrap_or(0));
    header.set_size(entry.size);
    let entry_type = match entry.kind {
        EntryKind::File => EntryType::Regular,
        EntryKind::Dir => EntryType::Directory,
        EntryKind::Symlink(_) => EntryType::Symlink,
        EntryKind::Fifo => EntryType::Fifo,
        EntryKind::CharDevice => EntryType::Char,
        EntryKind::BlockDevice => EntryType::Block,
    };
    header.set_entry_type(entry_type);
    if matches!(entry.kind, EntryKind::CharDevice | EntryKind::BlockDevice) {
        let (major, minor) = split_device(entry.rdev);
        // Device numbers that do not fit the header are left at zero, as GNU tar does.
        let _ = header.set_device_major(major);
        let _ = header.set_device_minor(minor);
    }
    header
}

/// Linux's encoding of `st_rdev` into major and minor numbers.
fn split_device(rdev: u64) -> (u32, u32) {
    let major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff);
    let minor = (rdev & 0xff) | ((rdev >> 12) & !0xff);
    (
        u32::try_from(major).unwrap_or(0),
        u32::try_from(minor).unwrap_or(0),
    )
}

fn append_injected(
    builder: &mut tar::Builder<&mut dyn Write>,
    file: &InjectedFile,
    replacing: Option<&ContextEntry>,
) -> io::Result<()> {
    let mut header = Header::new_gnu();
    header.set_entry_type(EntryType::Regular);
    header.set_mode(replacing.map_or(0o600, |entry| entry.mode));
    header.set_mtime(replacing.map_or(0, |entry| u64::try_from(entry.mtime).unwrap_or(0)));
    header.set_uid(0);
    header.set_gid(0);
    header.set_size(file.contents.len() as u64);
    builder.append_data(&mut header, &file.name, file.contents.as_slice())
}

fn with_path(error: io::Error, path: &Path) -> io::Error {
    io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

/// Yields exactly `remaining` bytes of `inner`, failing if the file is shorter (it shrank since
/// it was listed) so the tar stream is never left inconsistent with its headers.
struct ExactReader<R> {
    inner: R,
    remaining: u64,
    path: PathBuf,
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let limit = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let read = self.inner.read(&mut buf[..limit])?;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{} shrank while it was being sent ({} bytes missing)",
                    self.path.display(),
                    self.remaining
                ),
            ));
        }
        self.remaining -= read as u64;
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerignore::PatternMatcher;
    use crate::walk::walk;
    use std::fs;

    fn archive_listing(root: &Path, injected: &[InjectedFile]) -> Vec<(String, String, u64)> {
        let entries = walk(root, &PatternMatcher::new::<&str>(&[]).unwrap())
            .unwrap()
            .entries;
        let mut bytes = Vec::new();
        write_archive(root, &entries, injected, &mut bytes).unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        archive
            .entries()
            .unwrap()
            .map(|entry| {
                let mut entry = entry.unwrap();
                let path = entry.path().unwrap().to_string_lossy().into_owned();
                let kind = format!("{:?}", entry.header().entry_type());
                let mut contents = String::new();
                entry.read_to_string(&mut contents).unwrap();
                let uid = entry.header().uid().unwrap();
                assert_eq!(uid, 0);
                (
                    path,
                    format!("{kind} {contents}"),
                    entry.header().size().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn files_links_and_directories_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("sub/file"), "data").unwrap();
        fs::hard_link(dir.path().join("sub/file"), dir.path().join("twin")).unwrap();
        std::os::unix::fs::symlink("sub/file", dir.path().join("link")).unwrap();
        let long_name = "n".repeat(150);
        fs::write(dir.path().join(&long_name), "long").unwrap();

        let listing = archive_listing(dir.path(), &[]);
        let names: Vec<&str> = listing.iter().map(|(name, _, _)| name.as_str()).collect();
        assert_eq!(
            names,
            ["link", long_name.as_str(), "sub", "sub/file", "twin"]
        );
        assert_eq!(listing[0].1, "Symlink ");
        assert_eq!(listing[3].1, "Regular data");
        assert_eq!(
            listing[4].1, "Link ",
            "the second name of a hard link is a link"
        );
    }

    #[test]
    fn injected_files_replace_or_append() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(".dockerignore"), "old").unwrap();
        let injected = [
            InjectedFile {
                name: ".dockerignore".into(),
                contents: b"new".to_vec(),
            },
            InjectedFile {
                name: ".dockerfile.abc".into(),
                contents: b"FROM scratch".to_vec(),
            },
        ];
        let listing = archive_listing(dir.path(), &injected);
        assert_eq!(
            listing,
            [
                (".dockerignore".to_owned(), "Regular new".to_owned(), 3),
                (
                    ".dockerfile.abc".to_owned(),
                    "Regular FROM scratch".to_owned(),
                    12
                ),
            ]
        );
    }

    #[test]
    fn a_file_that_shrank_fails_the_stream() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("file"), "0123456789").unwrap();
        let entries = walk(dir.path(), &PatternMatcher::new::<&str>(&[]).unwrap())
            .unwrap()
            .entries;
        fs::write(dir.path().join("file"), "01").unwrap();
        let error = write_archive(dir.path(), &entries, &[], &mut Vec::new()).unwrap_err();
        assert!(error.to_string().contains("shrank"), "{error}");
    }
}
