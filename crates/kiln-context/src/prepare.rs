//! A build context ready to send: paths checked, `.dockerignore` applied, entries listed.

use std::any::Any;
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use kiln_core::ContextSource;
use sha2::{Digest, Sha256};

use crate::archive::{InjectedFile, write_archive};
use crate::dockerignore::{PatternMatcher, parse_dockerignore, trim_build_files_from_excludes};
use crate::error::ContextError;
use crate::walk::{ContextEntry, walk};

/// The file Docker reads ignore patterns from.
pub const DOCKERIGNORE: &str = ".dockerignore";

/// A context directory with its Dockerfile, after `.dockerignore`: what the Docker CLI would send.
pub struct PreparedContext {
    root: PathBuf,
    dockerfile_path: PathBuf,
    dockerfile_name: String,
    dockerfile: Vec<u8>,
    ignore_patterns: Vec<String>,
    entries: Vec<ContextEntry>,
    injected: Vec<InjectedFile>,
    skipped_sockets: Vec<PathBuf>,
    hidden_build_files: Vec<PathBuf>,
}

impl PreparedContext {
    /// Checks the paths, reads `.dockerignore`, and lists what the context will send.
    ///
    /// `dockerfile` defaults to `Dockerfile` in the context; relative paths are taken from the
    /// current directory, as `docker build -f` does. A Dockerfile outside the context is sent
    /// under a generated name and hidden from the build by the `.dockerignore` the daemon sees,
    /// exactly like the Docker CLI.
    pub fn prepare(context: &Path, dockerfile: Option<&Path>) -> Result<Self, ContextError> {
        let root = check_context(context)?;
        let given_dockerfile = dockerfile
            .map(Path::to_path_buf)
            .unwrap_or_else(|| context.join("Dockerfile"));
        let dockerfile_path = check_dockerfile(&given_dockerfile)?;
        let dockerfile = fs::read(&dockerfile_path)
            .map_err(|error| ContextError::io(&given_dockerfile, error))?;

        let relative = dockerfile_path.strip_prefix(&root).ok().map(slash_path);
        let ignore_path = root.join(DOCKERIGNORE);
        let ignore_patterns = match fs::read(&ignore_path) {
            Ok(contents) => parse_dockerignore(&contents),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(error) => return Err(ContextError::io(&ignore_path, error)),
        };
        let dockerfile_for_trim = relative
            .clone()
            .unwrap_or_else(|| "../Dockerfile".to_owned());
        let ignore_error = |source| ContextError::Ignore {
            path: ignore_path.clone(),
            source,
        };
        let hidden_build_files =
            hidden_build_files(&ignore_patterns, relative.as_deref()).map_err(ignore_error)?;
        let patterns = trim_build_files_from_excludes(ignore_patterns, &dockerfile_for_trim)
            .map_err(ignore_error)?;
        let matcher = PatternMatcher::new(&patterns).map_err(ignore_error)?;
        let walked = walk(&root, &matcher)?;

        let (dockerfile_name, injected) = match relative {
            Some(relative) => (relative, Vec::new()),
            None => external_dockerfile(&root, &walked.entries, &dockerfile)?,
        };
        Ok(PreparedContext {
            root,
            dockerfile_path,
            dockerfile_name,
            dockerfile,
            ignore_patterns: patterns,
            entries: walked.entries,
            injected,
            skipped_sockets: walked.skipped_sockets,
            hidden_build_files,
        })
    }

    /// The context directory, canonical.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The Dockerfile on disk, canonical.
    pub fn dockerfile_path(&self) -> &Path {
        &self.dockerfile_path
    }

    /// The Dockerfile's name inside the archive (what the daemon is told to read).
    pub fn dockerfile_name(&self) -> &str {
        &self.dockerfile_name
    }

    /// The Dockerfile's contents.
    pub fn dockerfile(&self) -> &[u8] {
        &self.dockerfile
    }

    /// The ignore patterns in force, including the CLI's additions for the build files.
    pub fn ignore_patterns(&self) -> &[String] {
        &self.ignore_patterns
    }

    /// The entries the archive holds, in archive order.
    pub fn entries(&self) -> &[ContextEntry] {
        &self.entries
    }

    /// The entries a build sees: those of the archive without the build files (`.dockerignore`
    /// and the Dockerfile) that `.dockerignore` excludes. The Docker CLI sends those only so
    /// that the daemon can read them, and the classic builder deletes them before the build
    /// starts; a builder that reads the Dockerfile and the ignore patterns apart from the
    /// context (BuildKit through its session) is served these entries, so the same files reach
    /// the build either way. In archive order.
    pub fn build_entries(&self) -> impl Iterator<Item = &ContextEntry> {
        self.entries
            .iter()
            .filter(|entry| !self.hidden_build_files.contains(&entry.path))
    }

    /// Sockets found in the context and left out.
    pub fn skipped_sockets(&self) -> &[PathBuf] {
        &self.skipped_sockets
    }

    /// Whether the Dockerfile lives outside the context directory.
    pub fn has_external_dockerfile(&self) -> bool {
        !self.injected.is_empty()
    }
}

impl fmt::Debug for PreparedContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedContext")
            .field("root", &self.root)
            .field("dockerfile", &self.dockerfile_name)
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl ContextSource for PreparedContext {
    fn write_tar(&self, out: &mut dyn Write) -> io::Result<()> {
        write_archive(&self.root, &self.entries, &self.injected, out)
    }

    fn content_bytes(&self) -> u64 {
        let files: u64 = self.entries.iter().map(|entry| entry.size).sum();
        let injected: u64 = self
            .injected
            .iter()
            .map(|file| file.contents.len() as u64)
            .sum();
        files + injected
    }

    fn entry_count(&self) -> usize {
        self.entries.len() + self.injected.len()
    }

    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

/// The build files the daemon's classic builder deletes from the context before a build:
/// `.dockerignore` and the Dockerfile (when it is in the context), each when the context's own
/// patterns exclude it by the CLI's deprecated rule (`PatternMatcher::matches_legacy`), before
/// the re-inclusions the CLI adds to send them.
fn hidden_build_files(
    patterns: &[String],
    dockerfile: Option<&str>,
) -> Result<Vec<PathBuf>, crate::dockerignore::PatternError> {
    if patterns.is_empty() {
        return Ok(Vec::new());
    }
    let matcher = PatternMatcher::new(patterns)?;
    Ok(std::iter::once(DOCKERIGNORE)
        .chain(dockerfile)
        .filter(|path| matcher.matches_legacy(path))
        .map(PathBuf::from)
        .collect())
}

fn check_context(context: &Path) -> Result<PathBuf, ContextError> {
    let bad = |problem| ContextError::BadContext {
        path: context.to_owned(),
        problem,
    };
    match fs::metadata(context) {
        Ok(metadata) if metadata.is_dir() => {}
        Ok(_) => return Err(bad("is not a directory")),
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Err(bad("does not exist")),
        Err(error) => return Err(ContextError::io(context, error)),
    }
    fs::canonicalize(context).map_err(|error| ContextError::io(context, error))
}

fn check_dockerfile(dockerfile: &Path) -> Result<PathBuf, ContextError> {
    let bad = |problem| ContextError::BadDockerfile {
        path: dockerfile.to_owned(),
        problem,
    };
    match fs::metadata(dockerfile) {
        Ok(metadata) if metadata.is_file() => {}
        Ok(_) => return Err(bad("is not a regular file")),
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Err(bad("does not exist")),
        Err(error) => return Err(ContextError::io(dockerfile, error)),
    }
    fs::canonicalize(dockerfile).map_err(|error| ContextError::io(dockerfile, error))
}

/// The name and injected files for a Dockerfile outside the context: a `.dockerfile.<hash>`
/// entry, and a `.dockerignore` that names it (and itself, when the context had none) so the
/// build never sees either — the Docker CLI's arrangement, with a content hash instead of a
/// random name so that the same Dockerfile always yields the same archive.
fn external_dockerfile(
    root: &Path,
    entries: &[ContextEntry],
    dockerfile: &[u8],
) -> Result<(String, Vec<InjectedFile>), ContextError> {
    let name = format!(
        ".dockerfile.{}",
        &hex::encode(Sha256::digest(dockerfile))[..20]
    );
    let has_ignore = entries
        .iter()
        .any(|entry| entry.path == Path::new(DOCKERIGNORE));
    let mut ignore = if has_ignore {
        let path = root.join(DOCKERIGNORE);
        fs::read(&path).map_err(|error| ContextError::io(&path, error))?
    } else {
        DOCKERIGNORE.as_bytes().to_vec()
    };
    ignore.extend_from_slice(format!("\n{name}\n").as_bytes());
    let injected = vec![
        InjectedFile {
            name: name.clone(),
            contents: dockerfile.to_vec(),
        },
        InjectedFile {
            name: DOCKERIGNORE.to_owned(),
            contents: ignore,
        },
    ];
    Ok((name, injected))
}

fn slash_path(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_context_and_dockerfile_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let error = PreparedContext::prepare(&missing, None).unwrap_err();
        assert!(matches!(
            error,
            ContextError::BadContext {
                problem: "does not exist",
                ..
            }
        ));
        assert!(error.to_string().contains("nope"), "{error}");

        let error = PreparedContext::prepare(dir.path(), None).unwrap_err();
        assert!(matches!(
            error,
            ContextError::BadDockerfile {
                problem: "does not exist",
                ..
            }
        ));
        assert!(error.to_string().contains("Dockerfile"), "{error}");

        fs::write(dir.path().join("file"), "").unwrap();
        let error = PreparedContext::prepare(&dir.path().join("file"), None).unwrap_err();
        assert!(matches!(
            error,
            ContextError::BadContext {
                problem: "is not a directory",
                ..
            }
        ));
    }

    #[test]
    fn dockerfile_inside_the_context_keeps_its_name() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("docker")).unwrap();
        fs::write(dir.path().join("docker/build.Dockerfile"), "FROM scratch\n").unwrap();
        fs::write(dir.path().join(".dockerignore"), "docker\n").unwrap();
        let context = PreparedContext::prepare(
            dir.path(),
            Some(&dir.path().join("docker/build.Dockerfile")),
        )
        .unwrap();
        assert_eq!(context.dockerfile_name(), "docker/build.Dockerfile");
        assert!(!context.has_external_dockerfile());
        let names: Vec<_> = context.entries().iter().map(|e| e.path.clone()).collect();
        assert_eq!(
            names,
            [
                PathBuf::from(".dockerignore"),
                PathBuf::from("docker/build.Dockerfile")
            ],
            "the ignored directory is walked only for the re-included Dockerfile"
        );
    }

    #[test]
    fn dockerfile_outside_the_context_is_injected() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("ctx")).unwrap();
        fs::write(dir.path().join("ctx/file"), "x").unwrap();
        fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        let context = PreparedContext::prepare(
            &dir.path().join("ctx"),
            Some(&dir.path().join("Dockerfile")),
        )
        .unwrap();
        assert!(context.dockerfile_name().starts_with(".dockerfile."));
        assert_eq!(context.dockerfile_name().len(), ".dockerfile.".len() + 20);
        assert!(context.has_external_dockerfile());
        let mut bytes = Vec::new();
        context.write_tar(&mut bytes).unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut found = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            let mut contents = String::new();
            io::Read::read_to_string(&mut entry, &mut contents).unwrap();
            found.push((name, contents));
        }
        let name = context.dockerfile_name().to_owned();
        assert_eq!(
            found,
            [
                ("file".to_owned(), "x".to_owned()),
                (name.clone(), "FROM scratch\n".to_owned()),
                (
                    ".dockerignore".to_owned(),
                    format!(".dockerignore\n{name}\n")
                ),
            ]
        );
        assert_eq!(
            context.content_bytes(),
            1 + 13 + format!(".dockerignore\n{name}\n").len() as u64
        );
    }

    #[test]
    fn excluded_build_files_are_sent_but_not_seen_by_the_build() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("docker")).unwrap();
        fs::write(dir.path().join("docker/build.Dockerfile"), "FROM scratch\n").unwrap();
        fs::write(dir.path().join("kept"), "").unwrap();
        fs::write(dir.path().join(".dockerignore"), ".dockerignore\ndocker\n").unwrap();
        let context = PreparedContext::prepare(
            dir.path(),
            Some(&dir.path().join("docker/build.Dockerfile")),
        )
        .unwrap();
        let paths = |entries: Vec<&ContextEntry>| -> Vec<PathBuf> {
            entries.into_iter().map(|e| e.path.clone()).collect()
        };
        assert_eq!(
            paths(context.entries().iter().collect()),
            [".dockerignore", "docker/build.Dockerfile", "kept"].map(PathBuf::from)
        );
        assert_eq!(
            paths(context.build_entries().collect()),
            [PathBuf::from("kept")]
        );

        fs::write(dir.path().join(".dockerignore"), "other\n").unwrap();
        let context = PreparedContext::prepare(
            dir.path(),
            Some(&dir.path().join("docker/build.Dockerfile")),
        )
        .unwrap();
        assert_eq!(context.build_entries().count(), context.entries().len());
    }

    #[test]
    fn invalid_ignore_pattern_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        fs::write(dir.path().join(".dockerignore"), "a[\n").unwrap();
        let error = PreparedContext::prepare(dir.path(), None).unwrap_err();
        assert!(matches!(error, ContextError::Ignore { .. }), "{error:?}");
        assert!(error.to_string().contains(".dockerignore"), "{error}");
    }
}
