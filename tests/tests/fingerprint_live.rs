//! Fingerprints against the real daemon: reuse when nothing changed, rebuild and name what did.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime};

use kiln_cache::RecordStore;
use kiln_tests::docker_cli::image_id;
use kiln_tests::images::busybox;
use kiln_tests::output::json;
use kiln_tests::{ImageCleanup, kiln, live_docker, unique};
use serde_json::Value;

struct Case {
    context: tempfile::TempDir,
    cache: tempfile::TempDir,
    tag: String,
    cleanup: ImageCleanup,
    /// Removes the images of every build, also those a rebuilt tag no longer names.
    _images: kiln_tests::fault_proxy::LabelledImages,
}

impl Case {
    fn new(name: &str, dockerfile: &str) -> Case {
        let (context, images) = kiln_tests::labelled_context(dockerfile);
        for n in 0..20 {
            write(
                context.path(),
                &format!("src/level1/level2/level3/file{n}.txt"),
                &format!("{n}\n"),
            );
        }
        write(context.path(), ".dockerignore", "*.log\n");
        // Contents of its own: tests running at once must never share an image, or one test's
        // cleanup removes what another's build is using.
        write(context.path(), "case.txt", &unique(name));
        let cache = tempfile::tempdir().unwrap();
        // So that the first scan can trust the files' stats.
        wait_for_file_clock_past(cache.path(), &context.path().join("case.txt"));
        let tag = format!("{}:latest", unique(&format!("kiln-fp-{name}")));
        let mut cleanup = ImageCleanup::new();
        cleanup.add(&tag);
        Case {
            context,
            cache,
            tag,
            cleanup,
            _images: images,
        }
    }

    fn command(&self, verb: &str) -> Command {
        let mut command = kiln(&[
            verb,
            self.context.path().to_str().unwrap(),
            "--tag",
            &self.tag,
            "--json",
        ]);
        command.env("KILN_CACHE_DIR", self.cache.path());
        command
    }

    fn build(&self) -> Value {
        json_of(&self.command("build").output().unwrap())
    }

    fn plan(&self) -> Value {
        json_of(&self.command("plan").output().unwrap())
    }

    fn write(&self, path: &str, contents: &str) {
        write(self.context.path(), path, contents);
    }
}

/// Waits until a file written now in `dir` gets a later modification time than `newest`: file
/// times come from the kernel's coarse clock, and kiln trusts a file's stat only when it is
/// older than the scan's start. Polls that condition, for at most 10 s.
fn wait_for_file_clock_past(dir: &Path, newest: &Path) {
    let written = fs::metadata(newest).unwrap().modified().unwrap();
    let probe = dir.join(".clock-probe");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        fs::write(&probe, b"").unwrap();
        let now = fs::metadata(&probe).unwrap().modified().unwrap();
        fs::remove_file(&probe).unwrap();
        if now > written {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the file system's clock did not move past {written:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn write(root: &Path, path: &str, contents: &str) {
    let path = root.join(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, contents).unwrap();
}

fn json_of(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "exit {:?}: {}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    json(output)
}

#[test]
fn build_then_reuse_then_rebuild_what_changed() {
    if live_docker("build_then_reuse_then_rebuild_what_changed").is_none() {
        return;
    }
    let case = Case::new("cycle", "FROM scratch\nCOPY . /app/\n");
    let first = case.build();
    assert_eq!(first["outcome"], "built");
    assert_eq!(first["fingerprint"].as_str().unwrap().len(), 64);
    assert_eq!(image_id(&case.tag).as_deref(), first["image_id"].as_str());

    let second = case.build();
    assert_eq!(second["outcome"], "reused", "{second}");
    assert_eq!(second["image_id"], first["image_id"]);
    assert_eq!(second["fingerprint"], first["fingerprint"]);
    assert_eq!(
        second["inputs"]["hashed_files"], 0,
        "a warm check reads no file: {second}"
    );

    // An ignored file changes nothing.
    case.write("build.log", "noise");
    assert_eq!(case.build()["outcome"], "reused");

    // One byte, deep in the tree.
    case.write("src/level1/level2/level3/file7.txt", "8\n");
    let plan = case.plan();
    assert_eq!(plan["action"], "build");
    assert_eq!(
        plan["changes"],
        serde_json::json!([{"kind": "file", "path": "src/level1/level2/level3/file7.txt", "how": "changed"}])
    );
    let third = case.build();
    assert_eq!(third["outcome"], "built");
    assert_ne!(third["fingerprint"], first["fingerprint"]);
    assert!(
        third["reason"]
            .as_str()
            .unwrap()
            .contains("file src/level1/level2/level3/file7.txt changed"),
        "{third}"
    );
    drop(case.cleanup);
}

#[test]
fn only_touched_files_are_read_again() {
    if live_docker("only_touched_files_are_read_again").is_none() {
        return;
    }
    let case = Case::new("mtime", "FROM scratch\nCOPY . /app/\n");
    case.build();
    let warm = case.build();
    assert_eq!(warm["inputs"]["hashed_files"], 0, "{warm}");

    let touched = case
        .context
        .path()
        .join("src/level1/level2/level3/file3.txt");
    let earlier = SystemTime::now() - Duration::from_secs(3600);
    fs::File::options()
        .write(true)
        .open(&touched)
        .unwrap()
        .set_modified(earlier)
        .unwrap();
    let after_touch = case.build();
    assert_eq!(
        after_touch["outcome"], "reused",
        "only an mtime changed: {after_touch}"
    );
    assert_eq!(
        after_touch["inputs"]["hashed_files"], 1,
        "only the touched file is re-read"
    );
    assert_eq!(
        after_touch["inputs"]["entries"].as_u64().unwrap(),
        warm["inputs"]["entries"].as_u64().unwrap()
    );
}

#[test]
fn a_rebuilt_base_image_rebuilds_its_dependants() {
    if live_docker("a_rebuilt_base_image_rebuilds_its_dependants").is_none() {
        return;
    }
    let busybox = busybox();
    let base = Case::new(
        "base",
        &format!("FROM {busybox}\nCOPY src /src\nRUN echo one > /version\n"),
    );
    let base_built = base.build();
    assert_eq!(base_built["outcome"], "built");

    let dependant = Case::new(
        "dependant",
        &format!("ARG BASE={}\nFROM $BASE\nRUN cat /version\n", base.tag),
    );
    assert_eq!(dependant.build()["outcome"], "built");
    assert_eq!(dependant.build()["outcome"], "reused");

    base.write(
        "Dockerfile",
        &format!("FROM {busybox}\nCOPY src /src\nRUN echo two > /version\n"),
    );
    let base_rebuilt = base.build();
    assert_eq!(base_rebuilt["outcome"], "built");
    assert_ne!(base_rebuilt["image_id"], base_built["image_id"]);

    let plan = dependant.plan();
    assert_eq!(plan["action"], "build", "{plan}");
    assert_eq!(plan["changes"][0]["kind"], "base_image_changed");
    assert_eq!(plan["changes"][0]["name"], base.tag.as_str());
    assert_eq!(plan["changes"][0]["old"], base_built["image_id"]);
    assert_eq!(plan["changes"][0]["new"], base_rebuilt["image_id"]);
    assert_eq!(dependant.build()["outcome"], "built");
}

#[test]
fn a_removed_image_is_rebuilt_and_explained() {
    if live_docker("a_removed_image_is_rebuilt_and_explained").is_none() {
        return;
    }
    let case = Case::new("removed", "FROM scratch\nCOPY . /app/\n");
    case.build();
    kiln_tests::docker_cli::remove_image(&case.tag);
    let plan = case.plan();
    assert_eq!(plan["action"], "build");
    assert_eq!(plan["changes"][0]["kind"], "image_missing");
    assert!(
        plan["reason"]
            .as_str()
            .unwrap()
            .starts_with("inputs unchanged, image"),
        "{plan}"
    );
    assert_eq!(case.build()["outcome"], "built");
}

#[test]
fn eight_processes_write_records_at_once() {
    if live_docker("eight_processes_write_records_at_once").is_none() {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let mut cleanup = ImageCleanup::new();
    let contexts: Vec<tempfile::TempDir> = (0..8)
        .map(|n| {
            let dir = tempfile::tempdir().unwrap();
            write(dir.path(), "Dockerfile", "FROM scratch\nCOPY . /app/\n");
            write(dir.path(), "data.txt", &format!("process {n}\n"));
            dir
        })
        .collect();
    let children: Vec<_> = contexts
        .iter()
        .map(|dir| {
            let tag = format!("{}:latest", unique("kiln-fp-parallel"));
            cleanup.add(&tag);
            kiln(&["build", dir.path().to_str().unwrap(), "--tag", &tag, "-q"])
                .env("KILN_CACHE_DIR", cache.path())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success());
    }
    let (records, unreadable) = RecordStore::new(cache.path()).all();
    assert_eq!(unreadable, 0, "every record file is complete");
    assert_eq!(records.len(), 8, "{records:?}");
    for record in &records {
        let manifest = RecordStore::new(cache.path())
            .manifest(&record.fingerprint)
            .unwrap();
        assert!(
            manifest.is_some(),
            "the manifest of {} is readable",
            record.fingerprint
        );
    }
}
