//! Base images made locally, since nothing can be pulled: a busybox image from Debian's
//! `busybox-static`, imported once per machine and shared by every test process.

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

fn import_busybox() -> Result<(), String> {
    if !Path::new(BUSYBOX_BINARY).is_file() {
        return Err(format!(
            "{BUSYBOX_BINARY} is missing: install Debian's busybox-static (.ci/setup does)"
        ));
    }
    let root = tempfile::tempdir().map_err(|error| error.to_string())?;
    let bin = root.path().join("bin");
    fs::create_dir_all(&bin).map_err(|error| error.to_string())?;
    fs::create_dir_all(root.path().join("tmp")).map_err(|error| error.to_string())?;
    fs::copy(BUSYBOX_BINARY, bin.join("busybox")).map_err(|error| error.to_string())?;
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
