//! kiln-tests: fixtures for kiln's integration tests — the live daemon, locally made base
//! images, the kiln binary, and the Docker CLI as a reference.
//!
//! Live tests call [`live_docker`] first: without a reachable daemon they print why and skip,
//! unless `KILN_REQUIRE_DOCKER=1`, in which case they fail.

pub mod docker_cli;
pub mod fault_proxy;
pub mod images;
pub mod output;
pub mod registry;
pub mod ssh_daemon;
pub mod tcp_daemon;
pub mod token_service;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use kiln_core::{Env, ImageEngine, ProcessEnv};
use kiln_docker::DockerEngine;

/// What the fixtures know about the live daemon.
#[derive(Debug, Clone)]
pub struct LiveDocker {
    /// The daemon's version.
    pub version: String,
}

/// The live daemon, or `None` (with a printed reason) when the test should skip.
///
/// # Panics
///
/// When no daemon is reachable and `KILN_REQUIRE_DOCKER=1` is set.
pub fn live_docker(test: &str) -> Option<LiveDocker> {
    static PROBE: OnceLock<Result<LiveDocker, String>> = OnceLock::new();
    // On a thread of its own: async tests call this from inside their runtime.
    let probe = PROBE.get_or_init(|| {
        std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|error| error.to_string())?;
            runtime.block_on(async {
                let engine =
                    DockerEngine::from_env(&ProcessEnv).map_err(|error| error.to_string())?;
                let info = engine.info().await.map_err(|error| error.to_string())?;
                Ok(LiveDocker {
                    version: info.version,
                })
            })
        })
        .join()
        .unwrap_or_else(|_| Err("the daemon probe panicked".to_owned()))
    });
    match probe {
        Ok(live) => Some(live.clone()),
        Err(reason) if ProcessEnv.flag("KILN_REQUIRE_DOCKER") => {
            panic!("{test}: KILN_REQUIRE_DOCKER=1 but no Docker daemon is reachable: {reason}")
        }
        Err(reason) => {
            skip(test, &format!("no Docker daemon is reachable ({reason})"));
            None
        }
    }
}

/// Prints that `test` is skipped and why.
#[allow(clippy::print_stderr)] // the one place tests explain a skip
pub fn skip(test: &str, reason: &str) {
    eprintln!("SKIPPED {test}: {reason}; set KILN_REQUIRE_DOCKER=1 to fail instead");
}

/// A name unique to this process and call, for images and directories tests create.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The `kiln` binary under test: `kiln-under-test`, which cargo builds beside the test
/// executables (`target/<profile>/` while tests run from `target/<profile>/deps/`).
pub fn kiln_binary() -> PathBuf {
    let test_executable = std::env::current_exe().expect("the test executable's path");
    let profile_dir = test_executable
        .parent()
        .and_then(Path::parent)
        .expect("tests run from target/<profile>/deps");
    let binary = profile_dir.join("kiln-under-test");
    assert!(
        binary.is_file(),
        "{} is missing: run the tests with cargo test, which builds it",
        binary.display()
    );
    binary
}

/// A `kiln` command with `args`, run from the workspace root, with a cache directory of this
/// test process (so tests never touch the user's cache; set `KILN_CACHE_DIR` to use another).
#[expect(
    clippy::disallowed_methods,
    reason = "the fixtures run the kiln binary under test"
)]
pub fn kiln(args: &[&str]) -> Command {
    static CACHE: OnceLock<tempfile::TempDir> = OnceLock::new();
    let cache = CACHE.get_or_init(|| tempfile::tempdir().expect("a temporary cache directory"));
    let mut command = Command::new(kiln_binary());
    command
        .args(args)
        .current_dir(workspace_root())
        .env("KILN_CACHE_DIR", cache.path());
    command
}

/// [`kiln`](fn@kiln) with `args` run on a terminal of its own (`script(1)`, from util-linux), whose
/// output — what the terminal received — is the command's stdout.
#[expect(
    clippy::disallowed_methods,
    reason = "the fixtures run the kiln binary under test"
)]
pub fn kiln_on_a_terminal(args: &[&str]) -> Command {
    let line = std::iter::once(kiln_binary().display().to_string())
        .chain(
            args.iter()
                .map(|arg| format!("'{}'", arg.replace('\'', "'\\''"))),
        )
        .collect::<Vec<_>>()
        .join(" ");
    let mut command = Command::new("script");
    command
        .args(["-qec", &line, "/dev/null"])
        .current_dir(workspace_root())
        .env("TERM", "xterm");
    command
}

/// Sends signal `name` (`INT`, `TERM`, `KILL`) to process `pid` with kill(1).
///
/// # Panics
///
/// When kill(1) cannot be run.
#[expect(
    clippy::disallowed_methods,
    reason = "tests signal the kiln processes they started"
)]
pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status()
        .expect("run kill(1)");
    assert!(status.success(), "kill -{name} {pid} failed");
}

/// The workspace's root directory.
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace root")
}

/// Removes the images it names when dropped, so failed tests leave nothing behind.
#[derive(Debug, Default)]
pub struct ImageCleanup(Vec<String>);

impl ImageCleanup {
    /// Nothing to remove yet.
    pub fn new() -> Self {
        ImageCleanup::default()
    }

    /// Removes `reference` too when dropped.
    pub fn add(&mut self, reference: impl Into<String>) {
        self.0.push(reference.into());
    }
}

impl Drop for ImageCleanup {
    fn drop(&mut self) {
        for reference in &self.0 {
            docker_cli::remove_image(reference);
        }
    }
}

/// Removes the containers and networks labelled `key=value` when dropped, so failed tests leave
/// nothing behind; a test that passed must have removed them itself (the drop fails it
/// otherwise).
#[derive(Debug)]
pub struct ResourceCleanup(String);

impl ResourceCleanup {
    /// Watches the resources labelled `label` (`key=value`).
    pub fn new(label: impl Into<String>) -> Self {
        ResourceCleanup(label.into())
    }
}

impl Drop for ResourceCleanup {
    fn drop(&mut self) {
        let (containers, networks) = docker_cli::remove_labelled(&self.0);
        if !std::thread::panicking() && containers + networks > 0 {
            panic!(
                "{containers} container(s) and {networks} network(s) labelled {} were left \
                 behind (now removed)",
                self.0
            );
        }
    }
}

/// A build context whose Dockerfile labels every image its builds make (`LABEL` right after the
/// first `FROM`), with a guard that removes those images when dropped: the
/// intermediate images a failed classic build leaves, and the images a rebuilt tag no longer
/// names, included.
///
/// # Panics
///
/// When the context cannot be written.
pub fn labelled_context(dockerfile: &str) -> (tempfile::TempDir, fault_proxy::LabelledImages) {
    let label = format!("kiln.test.cleanup={}", unique("images"));
    let mut labelled = String::new();
    let mut placed = false;
    for line in dockerfile.lines() {
        labelled.push_str(line);
        labelled.push('\n');
        if !placed && line.trim_start().to_ascii_uppercase().starts_with("FROM ") {
            labelled.push_str(&format!("LABEL {label}\n"));
            placed = true;
        }
    }
    let dir = tempfile::tempdir().expect("a context directory");
    std::fs::write(dir.path().join("Dockerfile"), labelled).expect("write the Dockerfile");
    (dir, fault_proxy::LabelledImages(label))
}
