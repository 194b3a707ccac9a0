//! Crash consistency: `kiln build` killed (SIGKILL) at many moments — during the scan, the
//! upload, the build and the cache writes — leaves a cache whose every file parses, no
//! temporary files, and a next build that is correct and then reused.

use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use kiln_tests::docker_cli::{docker, run};
use kiln_tests::output::{json, stderr};
use kiln_tests::{kiln, live_docker, unique};

/// Kill moments in milliseconds after the start, spread over a whole build of this context
/// (about 0.3–1 s here): fixed, so that a failure can be replayed.
const KILL_AFTER_MS: [u64; 24] = [
    0, 5, 10, 20, 30, 45, 60, 80, 100, 120, 150, 180, 210, 250, 300, 350, 400, 460, 520, 600, 700,
    800, 950, 1100,
];

/// Removes every image the test made (they carry its label) when dropped, killed builds'
/// half-made images included.
struct LabelledImages(String);

impl Drop for LabelledImages {
    fn drop(&mut self) {
        let filter = format!("label=kiln.test.crash={}", self.0);
        if let Ok(listed) = run(docker(&["images", "-a", "-q", "--filter", &filter])) {
            let ids = String::from_utf8_lossy(&listed.stdout).to_string();
            let mut ids: Vec<&str> = ids.split_whitespace().collect();
            ids.sort_unstable();
            ids.dedup();
            if !ids.is_empty() {
                let mut args = vec!["rmi", "-f"];
                args.extend(ids);
                let _ = run(docker(&args));
            }
        }
    }
}

fn build(context: &Path, cache: &Path, tag: &str) -> std::process::Command {
    let mut command = kiln(&["build", context.to_str().unwrap(), "--tag", tag, "--json"]);
    command.env("KILN_CACHE_DIR", cache);
    command
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[test]
fn builds_killed_at_any_moment_leave_a_consistent_cache() {
    let test = "builds_killed_at_any_moment_leave_a_consistent_cache";
    if live_docker(test).is_none() {
        return;
    }
    let marker = unique("crash");
    let _images = LabelledImages(marker.clone());
    let context = tempfile::tempdir().unwrap();
    fs::write(
        context.path().join("Dockerfile"),
        format!("FROM scratch\nLABEL kiln.test.crash={marker}\nCOPY . /data/\n"),
    )
    .unwrap();
    for n in 0..200 {
        fs::write(context.path().join(format!("f{n}.txt")), format!("{n}\n")).unwrap();
    }
    let cache = tempfile::tempdir().unwrap();
    let tag = format!("{marker}:latest");

    for (round, kill_after) in KILL_AFTER_MS.into_iter().enumerate() {
        // New inputs each round: every round has a build, a record and a manifest to write.
        fs::write(context.path().join("round.txt"), format!("{round}\n")).unwrap();
        let mut child = build(context.path(), cache.path(), &tag)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Choosing the moment of the kill, not waiting for anything.
        std::thread::sleep(Duration::from_millis(kill_after));
        let _ = child.kill();
        child.wait().unwrap();
    }

    let everything = files(cache.path());
    for path in everything
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
    {
        let text = fs::read(path).unwrap();
        assert!(
            serde_json::from_slice::<serde_json::Value>(&text).is_ok(),
            "{} does not parse after the kills ({} bytes)",
            path.display(),
            text.len()
        );
    }

    // The next build is right: it builds the current inputs (or finds them built by a killed
    // run that got that far), tags them, and the one after reuses them.
    fs::write(context.path().join("round.txt"), "final\n").unwrap();
    let first = build(context.path(), cache.path(), &tag).output().unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    let first = json(&first);
    assert_eq!(first["outcome"], "built", "{first}");
    let again = build(context.path(), cache.path(), &tag).output().unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    let again = json(&again);
    assert_eq!(again["outcome"], "reused", "{again}");
    assert_eq!(again["image_id"], first["image_id"]);
    // A kill between a temporary file's creation and its rename leaves the file; the next
    // kiln process removes the files of processes that no longer run.
    let leftovers: Vec<_> = files(cache.path())
        .into_iter()
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with(".tmp"))
        })
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    let tagged = run(docker(&["image", "inspect", "-f", "{{.Id}}", &tag])).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&tagged.stdout).trim(),
        first["image_id"].as_str().unwrap()
    );
}
