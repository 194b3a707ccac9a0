//! Base images made locally, since nothing can be pulled: a busybox image from Debian's
//! `busybox-static`, imported once per machine and shared by every test process.

#![expect(
    clippy::disallowed_methods,
    reason = "the fixture runs busybox to make a root file system"
)]

use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Stdio;
use std::sync::OnceLock;

use crate::docker_cli::{docker, image_id, run};

/// The busybox base image's reference.
pub const BUSYBOX: &str = "kiln-test/busybox:1";

/// Where Debian's `busybox-static` installs the static binary.
const BUSYBOX_BINARY: &str = "/bin/busybox";

/// Makes sure [`BUSYBOX`] exists in the daemon and returns its reference.
///
/// # Panics
///
/// When the image cannot be made (no static busybox installed, the daemon refuses): every test
/// that needs a base image would fail anyway, and the message says what to install.
pub fn busybox() -> &'static str {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        let lock_path = std::env::temp_dir().join("kiln-tests-busybox.lock");
        let lock = File::create(&lock_path).expect("create the busybox lock file");
        lock.lock().expect("lock the busybox lock file");
        if image_id(BUSYBOX).is_none() {
            import_busybox().unwrap_or_else(|error| panic!("cannot make {BUSYBOX}: {error}"));
        }
    });
    BUSYBOX
}

/// The arm64 busybox base image's reference.
pub const BUSYBOX_ARM64: &str = "kiln-test/busybox-arm64:1";

/// Where `.ci/setup` puts Debian's arm64 static busybox.
pub const ARM64_BUSYBOX_BINARY: &str = "/usr/local/share/kiln-tests/busybox-arm64";

/// Makes sure [`BUSYBOX_ARM64`] exists — a `linux/arm64` image built by kiln itself with BuildKit
/// from Debian's arm64 busybox — and returns its reference; `None` (with a printed reason) when
/// the arm64 binary is missing, unless `KILN_REQUIRE_DOCKER=1`.
///
/// # Panics
///
/// When the image cannot be made, or the binary is missing while the daemon is required.
pub fn busybox_arm64(test: &str) -> Option<&'static str> {
    if !Path::new(ARM64_BUSYBOX_BINARY).is_file() {
        let reason = format!("{ARM64_BUSYBOX_BINARY} is missing (.ci/setup downloads it)");
        if kiln_core::Env::flag(&kiln_core::ProcessEnv, "KILN_REQUIRE_DOCKER") {
            panic!("{test}: {reason}");
        }
        crate::skip(test, &reason);
        return None;
    }
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        let lock_path = std::env::temp_dir().join("kiln-tests-busybox-arm64.lock");
        let lock = File::create(&lock_path).expect("create the arm64 busybox lock file");
        lock.lock().expect("lock the arm64 busybox lock file");
        if image_id(BUSYBOX_ARM64).is_none() {
            build_arm64_busybox()
                .unwrap_or_else(|error| panic!("cannot make {BUSYBOX_ARM64}: {error}"));
        }
    });
    Some(BUSYBOX_ARM64)
}

fn build_arm64_busybox() -> Result<(), String> {
    let context = tempfile::tempdir().map_err(|error| error.to_string())?;
    busybox_rootfs(&context.path().join("rootfs"), ARM64_BUSYBOX_BINARY)?;
    fs::write(
        context.path().join("Dockerfile"),
        "FROM scratch\nCOPY rootfs/ /\n",
    )
    .map_err(|error| error.to_string())?;
    let output = crate::kiln(&[
        "build",
        context.path().to_str().unwrap_or_default(),
        "--platform",
        "linux/arm64",
        "--builder",
        "buildkit",
        "--tag",
        BUSYBOX_ARM64,
        "-q",
    ])
    .output()
    .map_err(|error| error.to_string())?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Ok(())
}

fn import_busybox() -> Result<(), String> {
    if !Path::new(BUSYBOX_BINARY).is_file() {
        return Err(format!(
            "{BUSYBOX_BINARY} is missing: install Debian's busybox-static (.ci/setup does)"
        ));
    }
    let root = tempfile::tempdir().map_err(|error| error.to_string())?;
    busybox_rootfs(root.path(), BUSYBOX_BINARY)?;
    let mut archive = Vec::new();
    {
        let mut builder = tar::Builder::new(&mut archive);
        builder.follow_symlinks(false);
        builder
            .append_dir_all(".", root.path())
            .map_err(|error| error.to_string())?;
        builder.finish().map_err(|error| error.to_string())?;
    }
    let mut child = docker(&["import", "-", BUSYBOX])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| error.to_string())?;
    child
        .stdin
        .take()
        .ok_or("no stdin for docker import")?
        .write_all(&archive)
        .map_err(|error| error.to_string())?;
    let output = child
        .wait_with_output()
        .map_err(|error| error.to_string())?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Ok(())
}

/// Lays out a busybox root file system under `root`: `bin/busybox` copied from `binary`, a
/// symlink to it per applet, and `tmp/`. The applets of the host's busybox (same Debian
/// version) name the symlinks.
fn busybox_rootfs(root: &Path, binary: &str) -> Result<(), String> {
    let bin = root.join("bin");
    fs::create_dir_all(&bin).map_err(|error| error.to_string())?;
    fs::create_dir_all(root.join("tmp")).map_err(|error| error.to_string())?;
    fs::copy(binary, bin.join("busybox")).map_err(|error| error.to_string())?;
    let listing = run({
        let mut command = std::process::Command::new(BUSYBOX_BINARY);
        command.arg("--list");
        command
    })?;
    for applet in String::from_utf8_lossy(&listing.stdout).lines() {
        if applet != "busybox" && !applet.is_empty() {
            symlink("busybox", bin.join(applet)).map_err(|error| error.to_string())?;
        }
    }
    Ok(())
}
