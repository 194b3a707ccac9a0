//! What the host tells about itself, behind a trait: its machine, its OS, and files under `/proc`.
//!
//! [`SystemProbe`] is the one place in this crate that asks the operating system; everything
//! else receives a `&dyn HostProbe`, so detection is tested with a [`FakeProbe`] describing any
//! host (an arm64 laptop, a container without binfmt_misc, a CI runner with qemu registered).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where recent Linux kernels tell their machine name, the `uname -m` string.
pub const KERNEL_ARCH_FILE: &str = "/proc/sys/kernel/arch";

/// The host facts kiln's platform detection needs.
///
/// Implementations answer from the real system ([`SystemProbe`]) or from memory ([`FakeProbe`]).
pub trait HostProbe: Send + Sync + Debug {
    /// The machine architecture as the kernel names it (`uname -m`): `x86_64`, `aarch64`,
    /// `armv7l`, `ppc64le`, `s390x`, `riscv64`, `i686`, ...
    fn machine(&self) -> String;

    /// The operating system as Rust names it (`linux`, `macos`, `windows`, ...).
    fn os(&self) -> String;

    /// The whole content of the file at `path`.
    fn read_to_string(&self, path: &Path) -> io::Result<String>;

    /// The names of the entries of the directory at `path`, sorted.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>>;

    /// The version line of the Docker CLI's `buildx` plugin, when it is installed (see
    /// [`buildx_version`]).
    fn buildx_version(&self) -> Option<String>;
}

/// The version line of the `docker buildx` plugin, when the Docker CLI has it (it is optional:
/// kiln builds with BuildKit through the daemon's own session without it). Runs
/// `docker buildx version` once.
#[expect(
    clippy::disallowed_methods,
    reason = "this module is the one place in kiln's crates that spawns a process"
)]
pub fn buildx_version() -> Option<String> {
    let output = std::process::Command::new("docker")
        .args(["buildx", "version"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// A shared probe handle.
pub type SharedProbe = Arc<dyn HostProbe>;

/// The real host.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemProbe;

impl HostProbe for SystemProbe {
    /// Reads [`KERNEL_ARCH_FILE`] when the kernel offers it, else falls back to the architecture
    /// kiln was compiled for, spelled the way the kernel would.
    ///
    /// MIPS kernels name both byte orders `mips`/`mips64`; on a little-endian build this probe
    /// appends `el` (`mips64el`), the spelling Debian and qemu use, so the byte order is not lost.
    fn machine(&self) -> String {
        let from_kernel = std::fs::read_to_string(KERNEL_ARCH_FILE)
            .ok()
            .map(|text| text.trim().to_owned())
            .filter(|text| !text.is_empty());
        let machine = from_kernel.unwrap_or_else(|| compiled_machine().to_owned());
        match machine.as_str() {
            "mips" | "mips64" if cfg!(target_endian = "little") => format!("{machine}el"),
            _ => machine,
        }
    }

    fn os(&self) -> String {
        std::env::consts::OS.to_owned()
    }

    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut names = std::fs::read_dir(path)?
            .map(|entry| entry.map(|entry| entry.file_name().to_string_lossy().into_owned()))
            .collect::<io::Result<Vec<_>>>()?;
        names.sort();
        Ok(names)
    }

    fn buildx_version(&self) -> Option<String> {
        buildx_version()
    }
}

/// The architecture kiln was compiled for, in the kernel's spelling where Rust's differs.
fn compiled_machine() -> &'static str {
    match std::env::consts::ARCH {
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "powerpc" => "ppc",
        "x86" => "i686",
        "arm" if cfg!(target_feature = "v7") => "armv7l",
        "arm" => "armv6l",
        other => other,
    }
}

/// An in-memory host for tests: a machine name, an OS, files and directories.
///
/// A directory exists when it was added with [`FakeProbe::with_dir`] or holds a file; its
/// listing is the union of both. Paths not added answer [`io::ErrorKind::NotFound`].
#[derive(Debug, Clone)]
pub struct FakeProbe {
    machine: String,
    os: String,
    files: BTreeMap<PathBuf, String>,
    dirs: BTreeMap<PathBuf, BTreeSet<String>>,
    unreadable: BTreeSet<PathBuf>,
    buildx: Option<String>,
}

impl FakeProbe {
    /// A Linux host whose kernel calls its machine `machine` (`x86_64`, `aarch64`, ...), with no
    /// files at all (so binfmt_misc is not mounted).
    pub fn new(machine: impl Into<String>) -> Self {
        FakeProbe {
            machine: machine.into(),
            os: "linux".to_owned(),
            files: BTreeMap::new(),
            dirs: BTreeMap::new(),
            unreadable: BTreeSet::new(),
            buildx: None,
        }
    }

    /// Gives the host a `buildx` plugin that prints `version` (none unless told).
    pub fn with_buildx(mut self, version: impl Into<String>) -> Self {
        self.buildx = Some(version.into());
        self
    }

    /// Sets the operating system (`linux` unless told).
    pub fn with_os(mut self, os: impl Into<String>) -> Self {
        self.os = os.into();
        self
    }

    /// Adds a file with `contents`; its parent directories exist from now on.
    pub fn with_file(mut self, path: impl Into<PathBuf>, contents: impl Into<String>) -> Self {
        let path = path.into();
        self.add_parents(&path);
        self.files.insert(path, contents.into());
        self
    }

    /// Adds a directory, empty unless files are added under it.
    pub fn with_dir(mut self, path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        self.add_parents(&path);
        self.dirs.entry(path).or_default();
        self
    }

    /// Makes reading `path` (as a file or a directory) fail with permission denied.
    pub fn with_unreadable(mut self, path: impl Into<PathBuf>) -> Self {
        self.unreadable.insert(path.into());
        self
    }

    fn add_parents(&mut self, path: &Path) {
        let mut child = path;
        while let (Some(parent), Some(name)) = (child.parent(), child.file_name()) {
            self.dirs
                .entry(parent.to_path_buf())
                .or_default()
                .insert(name.to_string_lossy().into_owned());
            child = parent;
        }
    }

    fn check_readable(&self, path: &Path) -> io::Result<()> {
        if self.unreadable.contains(path) {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("permission denied: {}", path.display()),
            ));
        }
        Ok(())
    }
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("no such file or directory: {}", path.display()),
    )
}

impl HostProbe for FakeProbe {
    fn machine(&self) -> String {
        self.machine.clone()
    }

    fn os(&self) -> String {
        self.os.clone()
    }

    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        self.check_readable(path)?;
        match self.files.get(path) {
            Some(contents) => Ok(contents.clone()),
            None if self.dirs.contains_key(path) => Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                format!("is a directory: {}", path.display()),
            )),
            None => Err(not_found(path)),
        }
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        self.check_readable(path)?;
        match self.dirs.get(path) {
            Some(names) => Ok(names.iter().cloned().collect()),
            None if self.files.contains_key(path) => Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("not a directory: {}", path.display()),
            )),
            None => Err(not_found(path)),
        }
    }

    fn buildx_version(&self) -> Option<String> {
        self.buildx.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shareable<T: Send + Sync + Debug + Clone + 'static>(value: T) -> T {
        value
    }

    #[test]
    fn a_shared_probe_crosses_threads() {
        let shared: SharedProbe = shareable(Arc::new(FakeProbe::new("x86_64")));
        let probe: &dyn HostProbe = shared.as_ref();
        assert_eq!(probe.machine(), "x86_64");
        let handle = std::thread::spawn(move || shared.os());
        assert_eq!(handle.join().unwrap(), "linux");
    }

    #[test]
    fn the_fake_lists_directories_from_files() {
        let probe = FakeProbe::new("aarch64")
            .with_file("/a/b/c", "1")
            .with_file("/a/b/d", "2")
            .with_dir("/a/e");
        assert_eq!(probe.read_dir(Path::new("/a")).unwrap(), ["b", "e"]);
        assert_eq!(probe.read_dir(Path::new("/a/b")).unwrap(), ["c", "d"]);
        assert!(probe.read_dir(Path::new("/a/e")).unwrap().is_empty());
        assert_eq!(probe.read_to_string(Path::new("/a/b/c")).unwrap(), "1");
        let missing = probe.read_dir(Path::new("/x")).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        let file_as_dir = probe.read_dir(Path::new("/a/b/c")).unwrap_err();
        assert_eq!(file_as_dir.kind(), io::ErrorKind::NotADirectory);
        assert_eq!(probe.os(), "linux");
        assert_eq!(probe.clone().with_os("macos").os(), "macos");
        assert_eq!(probe.buildx_version(), None);
        let buildx = probe.with_buildx("github.com/docker/buildx v0.10.4");
        assert_eq!(
            buildx.buildx_version().as_deref(),
            Some("github.com/docker/buildx v0.10.4")
        );
    }

    #[test]
    fn the_fake_can_refuse() {
        let probe = FakeProbe::new("x86_64")
            .with_file("/p/f", "x")
            .with_unreadable("/p/f");
        let error = probe.read_to_string(Path::new("/p/f")).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::PermissionDenied);
    }

    #[test]
    fn the_system_probe_reads_real_files() {
        let probe = SystemProbe;
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let manifest = probe.read_to_string(&root.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("kiln-platform"));
        let sources = probe.read_dir(&root.join("src")).unwrap();
        assert!(sources.contains(&"probe.rs".to_owned()), "{sources:?}");
        let mut sorted = sources.clone();
        sorted.sort();
        assert_eq!(sources, sorted);
        assert!(!probe.machine().is_empty());
        assert_eq!(probe.os(), std::env::consts::OS);
    }
}
