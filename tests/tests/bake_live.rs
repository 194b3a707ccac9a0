//! `kiln bake` and `kiln plan --all` against the real daemon: dependency order, a change
//! carried to dependants, bounded parallelism, output that never interleaves, fail-fast and
//! keep-going, and invalid files.

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use kiln_tests::docker_cli::{docker, inspect_field, run};
use kiln_tests::fault_proxy::LabelledImages;
use kiln_tests::images::busybox;
use kiln_tests::output::{json, stderr, stdout};
use kiln_tests::{kiln, live_docker, unique};
use serde_json::Value;

/// A bake workspace: a folder with `kiln.toml` and contexts whose Dockerfiles label every
/// image they make, its own cache directory, and a guard that removes the images.
struct Matrix {
    dir: tempfile::TempDir,
    cache: tempfile::TempDir,
    label: String,
    prefix: String,
    _images: LabelledImages,
}

impl Matrix {
    fn new() -> Matrix {
        let label = format!("kiln.test.cleanup={}", unique("bake"));
        let prefix = unique("kb").replace('_', "-");
        Matrix {
            dir: tempfile::tempdir().unwrap(),
            cache: tempfile::tempdir().unwrap(),
            _images: LabelledImages(label.clone()),
            label,
            prefix,
        }
    }

    /// An image name unique to this test.
    fn name(&self, short: &str) -> String {
        format!("{}-{short}", self.prefix)
    }

    /// Writes context `name` with `dockerfile` (labelled after its first `FROM`) and `files`.
    fn context(&self, name: &str, dockerfile: &str, files: &[(&str, &str)]) {
        let dir = self.dir.path().join(name);
        fs::create_dir_all(&dir).unwrap();
        let mut text = String::new();
        let mut placed = false;
        for line in dockerfile.lines() {
            text.push_str(line);
            text.push('\n');
            if !placed && line.trim_start().starts_with("FROM ") {
                text.push_str(&format!("LABEL {}\n", self.label));
                placed = true;
            }
        }
        fs::write(dir.join("Dockerfile"), text).unwrap();
        for (path, content) in files {
            let path = dir.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, content).unwrap();
        }
    }

    fn file(&self, toml: &str) -> PathBuf {
        let path = self.dir.path().join("kiln.toml");
        fs::write(&path, toml).unwrap();
        path
    }

    fn kiln(&self, args: &[&str]) -> Command {
        let mut command = kiln(args);
        command
            .env("KILN_CACHE_DIR", self.cache.path())
            .env_remove("CI");
        command
    }

    fn bake(&self, extra: &[&str]) -> std::process::Output {
        let file = self.dir.path().join("kiln.toml");
        let mut args = vec!["bake", "-f", file.to_str().unwrap(), "--json"];
        args.extend_from_slice(extra);
        self.kiln(&args).output().unwrap()
    }

    fn plan(&self) -> Value {
        let file = self.dir.path().join("kiln.toml");
        let output = self
            .kiln(&["plan", "--all", "-f", file.to_str().unwrap(), "--json"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        json(&output)
    }
}

fn cells(report: &Value) -> Vec<Value> {
    report["cells"].as_array().cloned().unwrap_or_default()
}

fn cell<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["cells"]
        .as_array()
        .and_then(|cells| cells.iter().find(|cell| cell["id"] == id))
        .unwrap_or_else(|| panic!("no cell {id} in {report:#}"))
}

/// The three-image matrix most tests use: a base, `app` at two versions on it, and `other`
/// on busybox alone.
fn base_and_apps(matrix: &Matrix) {
    let busybox = busybox();
    matrix.context(
        "base",
        &format!("FROM {busybox}\nCOPY etc/ /etc/\n"),
        &[("etc/x", "one\n")],
    );
    matrix.context(
        "app",
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nARG BASE_IMAGE\nARG VERSION\n\
         LABEL parent=${BASE_IMAGE} version=${VERSION}\nCOPY app.txt /app.txt\n",
        &[("app.txt", "app\n")],
    );
    matrix.context(
        "other",
        &format!("FROM {busybox}\nCOPY other.txt /other.txt\n"),
        &[("other.txt", "other\n")],
    );
    matrix.file(&format!(
        r#"version = 1
[[image]]
name = "{base}"
context = "base"

[[image]]
name = "{app}"
context = "app"
requires = [{{ image = "{base}", as = "BASE_IMAGE" }}]
matrix = {{ version = ["v1", "v2"] }}

[[image]]
name = "{other}"
context = "other"
"#,
        base = matrix.name("base"),
        app = matrix.name("app"),
        other = matrix.name("other"),
    ));
}

#[test]
fn parents_build_first_and_a_change_reaches_only_their_dependants() {
    if live_docker("parents_build_first_and_a_change_reaches_only_their_dependants").is_none() {
        return;
    }
    let matrix = Matrix::new();
    base_and_apps(&matrix);
    let (base, app, other) = (
        matrix.name("base"),
        matrix.name("app"),
        matrix.name("other"),
    );
    let app_v1 = format!("{app}[version=v1]");
    let app_v2 = format!("{app}[version=v2]");

    let first = matrix.bake(&["-j", "2"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let report = json(&first);
    assert_eq!(cells(&report).len(), 4, "{report:#}");
    for id in [&base, &app_v1, &app_v2, &other] {
        assert_eq!(cell(&report, id)["outcome"], "built", "{id}: {report:#}");
    }
    let base_id = cell(&report, &base)["image_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(cell(&report, &app_v1)["parents"][0], base.as_str());
    // The child received its parent pinned: a tag named after the parent's image id.
    let app_tag = cell(&report, &app_v1)["tags"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let parent_arg = inspect_field(&app_tag, "{{index .Config.Labels \"parent\"}}").unwrap();
    assert!(
        parent_arg.ends_with(base_id.trim_start_matches("sha256:")),
        "BASE_IMAGE held {parent_arg}, the parent is {base_id}"
    );

    // Nothing changed: every cell reused.
    let again = json(&matrix.bake(&[]));
    for cell in cells(&again) {
        assert_eq!(cell["outcome"], "reused", "{cell:#}");
    }

    // One file of the base changes: the plan names it for the base and its dependants.
    fs::write(matrix.dir.path().join("base/etc/x"), "two\n").unwrap();
    let plan = matrix.plan();
    assert_eq!(cell(&plan, &base)["action"], "build");
    assert!(
        cell(&plan, &base)["reason"]
            .as_str()
            .unwrap()
            .contains("file etc/x changed"),
        "{plan:#}"
    );
    for id in [&app_v1, &app_v2] {
        let reason = cell(&plan, id)["reason"].as_str().unwrap();
        assert_eq!(cell(&plan, id)["action"], "build", "{plan:#}");
        assert!(
            reason.contains(&format!("parent {base} changed: file etc/x changed")),
            "{id}: {reason}"
        );
    }
    assert_eq!(cell(&plan, &other)["action"], "reuse", "{plan:#}");

    let rebuilt = json(&matrix.bake(&[]));
    for id in [&base, &app_v1, &app_v2] {
        assert_eq!(cell(&rebuilt, id)["outcome"], "built", "{id}: {rebuilt:#}");
    }
    assert_eq!(cell(&rebuilt, &other)["outcome"], "reused");
    let reason = cell(&rebuilt, &app_v2)["reason"].as_str().unwrap();
    assert!(reason.contains("file etc/x changed"), "{reason}");
}

#[test]
fn never_more_than_j_cells_run_and_each_block_is_contiguous() {
    if live_docker("never_more_than_j_cells_run_and_each_block_is_contiguous").is_none() {
        return;
    }
    let matrix = Matrix::new();
    let busybox = busybox();
    // Each cell prints 2,000 numbered lines from one RUN step, unique to this run so that no
    // layer cache (BuildKit's keeps steps across tests) answers it without running it.
    let run = unique("loud-run");
    matrix.context(
        "loud",
        &format!(
            "FROM {busybox}\nARG FLAVOR\nRUN : {run}; i=0; while [ $i -lt 2000 ]; do echo \"$FLAVOR line $i\"; i=$((i+1)); done\n"
        ),
        &[],
    );
    matrix.file(&format!(
        "version = 1\n[[image]]\nname = \"{}\"\ncontext = \"loud\"\nmatrix = {{ flavor = [\"a\", \"b\", \"c\"] }}\n",
        matrix.name("loud")
    ));
    let file = matrix.dir.path().join("kiln.toml");
    let output = matrix
        .kiln(&["bake", "-f", file.to_str().unwrap(), "-j", "2"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stderr(&output);
    // Plain output: every finished cell's lines form one block, in order, nothing between.
    for flavor in ["a", "b", "c"] {
        let lines: Vec<(usize, &str)> = text
            .lines()
            .enumerate()
            .filter(|(_, line)| line.contains(&format!("{flavor} line ")) && !line.contains("echo"))
            .collect();
        assert_eq!(lines.len(), 2000, "{flavor}: {} lines", lines.len());
        let first = lines[0].0;
        for (offset, (index, line)) in lines.iter().enumerate() {
            assert_eq!(*index, first + offset, "{flavor} interleaved at {line:?}");
            assert!(line.ends_with(&format!("{flavor} line {offset}")), "{line}");
        }
    }
    // At most two cells ran at once: from the start and end lines, in order.
    let mut running = 0usize;
    let mut most = 0usize;
    for line in text.lines() {
        if line.starts_with("=> ") && line.ends_with(" started") {
            running += 1;
            most = most.max(running);
        } else if line.starts_with("ok ") || line.starts_with("!! ") {
            running -= 1;
        }
    }
    assert_eq!(most, 2, "two cells ran at once, never more:\n{text}");
    let logs: Vec<PathBuf> = fs::read_dir(matrix.cache.path().join("runs"))
        .unwrap()
        .flatten()
        .flat_map(|run| {
            fs::read_dir(run.path())
                .unwrap()
                .flatten()
                .map(|f| f.path())
        })
        .collect();
    assert_eq!(logs.len(), 3, "one log per cell: {logs:?}");
    for log in logs {
        let lines = fs::read_to_string(&log).unwrap();
        assert!(
            lines.lines().filter(|l| l.contains(" line ")).count() >= 2000,
            "{log:?}"
        );
    }
}

/// A failing cell and a long-sleeping one, independent, plus a dependant of the failing one.
fn failing_and_sleeping(matrix: &Matrix) {
    let busybox = busybox();
    matrix.context(
        "bad",
        &format!("FROM {busybox}\nRUN echo about to fail && exit 3\n"),
        &[],
    );
    matrix.context("slow", &format!("FROM {busybox}\nRUN sleep 60\n"), &[]);
    matrix.context(
        "fine",
        &format!("FROM {busybox}\nCOPY f /f\n"),
        &[("f", "f\n")],
    );
    matrix.context(
        "child",
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY c /c\n",
        &[("c", "c\n")],
    );
    matrix.file(&format!(
        r#"version = 1
[[image]]
name = "{bad}"
context = "bad"
[[image]]
name = "{slow}"
context = "slow"
[[image]]
name = "{fine}"
context = "fine"
[[image]]
name = "{child}"
context = "child"
requires = [{{ image = "{bad}", as = "BASE_IMAGE" }}]
"#,
        bad = matrix.name("bad"),
        slow = matrix.name("slow"),
        fine = matrix.name("fine"),
        child = matrix.name("child"),
    ));
}

fn running_sleeps() -> String {
    let output = run(docker(&["ps", "--format", "{{.ID}} {{.Command}}"])).unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.contains("sleep 60"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn fail_fast_cancels_the_builds_in_flight_at_the_daemon() {
    if live_docker("fail_fast_cancels_the_builds_in_flight_at_the_daemon").is_none() {
        return;
    }
    let matrix = Matrix::new();
    failing_and_sleeping(&matrix);
    let started = Instant::now();
    let output = matrix.bake(&[
        "-j",
        "2",
        "--fail-fast",
        &matrix.name("slow"),
        &matrix.name("bad"),
    ]);
    let took = started.elapsed();
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(took < Duration::from_secs(40), "returned after {took:?}");
    let report = json(&output);
    assert_eq!(cell(&report, &matrix.name("bad"))["outcome"], "failed");
    assert_eq!(cell(&report, &matrix.name("slow"))["outcome"], "cancelled");
    // The daemon stops the cancelled build: no `sleep 60` container keeps running.
    let deadline = Instant::now() + Duration::from_secs(15);
    while !running_sleeps().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(running_sleeps(), "", "the cancelled build still runs");
    let slow_tag = cell(&report, &matrix.name("slow"))["tags"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        inspect_field(&slow_tag, "{{.Id}}").is_none(),
        "the cancelled cell left its image {slow_tag}"
    );
}

#[test]
fn keep_going_builds_what_does_not_depend_on_the_failure() {
    if live_docker("keep_going_builds_what_does_not_depend_on_the_failure").is_none() {
        return;
    }
    let matrix = Matrix::new();
    failing_and_sleeping(&matrix);
    let (bad, fine, child) = (
        matrix.name("bad"),
        matrix.name("fine"),
        matrix.name("child"),
    );
    let output = matrix.bake(&["--keep-going", &bad, &fine, &child]);
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(cell(&report, &bad)["outcome"], "failed");
    assert!(
        cell(&report, &bad)["reason"]
            .as_str()
            .unwrap()
            .contains("exit"),
        "{report:#}"
    );
    assert_eq!(cell(&report, &fine)["outcome"], "built");
    assert_eq!(cell(&report, &child)["outcome"], "skipped");
    assert!(
        cell(&report, &child)["reason"]
            .as_str()
            .unwrap()
            .contains(&bad),
        "the skipped cell names the failed one: {report:#}"
    );
    let log = cell(&report, &bad)["log"].as_str().unwrap();
    assert!(fs::read_to_string(log).unwrap().contains("about to fail"));
    // CI set: keep-going is the default.
    let file = matrix.dir.path().join("kiln.toml");
    let output = matrix
        .kiln(&["bake", "-f", file.to_str().unwrap(), "--json", &bad, &fine])
        .env("CI", "true")
        .output()
        .unwrap();
    let report = json(&output);
    assert_eq!(cell(&report, &fine)["outcome"], "reused", "{report:#}");
}

#[test]
fn invalid_bake_files_are_exit_2_naming_the_line() {
    let matrix = Matrix::new();
    matrix.context("a", "ARG X\nFROM scratch\nCOPY a /a\n", &[("a", "a\n")]);
    let cases: [(&str, &str, &str); 3] = [
        (
            "version = 1\n[[image]]\nname = \"a\"\ncontext = \"a\"\ncolour = \"red\"\n",
            ":5:",
            "colour",
        ),
        (
            "version = 1\n[[image]]\nname = \"a\"\ncontext = \"a\"\nrequires = [{ image = \"b\", as = \"X\" }]\n\
             [[image]]\nname = \"b\"\ncontext = \"a\"\nrequires = [{ image = \"a\", as = \"X\" }]\n",
            "kiln.toml:",
            "a -> b -> a",
        ),
        (
            "version = 1\n[[image]]\nname = \"a\"\ncontext = \"a\"\nmatrix = { mode = [\"fast\"] }\n",
            ":5:",
            "fast",
        ),
    ];
    for (toml, place, value) in cases {
        let file = matrix.file(toml);
        for command in [
            vec!["bake", "-f", file.to_str().unwrap()],
            vec!["plan", "--all", "-f", file.to_str().unwrap()],
        ] {
            let output = matrix.kiln(&command).output().unwrap();
            let text = stderr(&output);
            assert_eq!(output.status.code(), Some(2), "{command:?}: {text}");
            assert!(
                text.contains(place) && text.contains(value),
                "{toml}\n{text}"
            );
            assert!(stdout(&output).is_empty());
        }
    }
}

#[test]
fn human_tags_appear_only_once_every_cell_succeeded_and_upload_no_layer() {
    let test = "human_tags_appear_only_once_every_cell_succeeded_and_upload_no_layer";
    if live_docker(test).is_none() {
        return;
    }
    let (user, password) = ("kiln", "bake-s3cret?>");
    let Some(server) = kiln_tests::registry::registry_or_skip(test, &[(user, password)]) else {
        return;
    };
    kiln_docker::registry::install_default_crypto_provider();
    let proxy = kiln_tests::fault_proxy::FaultProxy::recording_tcp(std::net::SocketAddr::from((
        [127, 0, 0, 1],
        server.port(),
    )));
    let host = proxy.host();
    let matrix = Matrix::new();
    let busybox = busybox();
    matrix.context(
        "base",
        &format!("FROM {busybox}\nCOPY b /b\n"),
        &[("b", &unique("b"))],
    );
    matrix.context(
        "app",
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY a /a\n",
        &[("a", &unique("a"))],
    );
    matrix.context("flaky", &format!("FROM {busybox}\nRUN exit 3\n"), &[]);
    let (base, app, flaky) = (
        matrix.name("base"),
        matrix.name("app"),
        matrix.name("flaky"),
    );
    matrix.file(&format!(
        r#"version = 1
[defaults]
registry = "{host}/bench"
cache_repo = "{host}/bench-cache"
[[image]]
name = "{base}"
context = "base"
[[image]]
name = "{app}"
context = "app"
requires = [{{ image = "{base}", as = "BASE_IMAGE" }}]
[[image]]
name = "{flaky}"
context = "flaky"
"#
    ));
    let bake = |matrix: &Matrix| {
        let file = matrix.dir.path().join("kiln.toml");
        matrix
            .kiln(&[
                "bake",
                "-f",
                file.to_str().unwrap(),
                "--json",
                "--push",
                "--keep-going",
            ])
            .env("KILN_REGISTRY_USERNAME", user)
            .env("KILN_REGISTRY_PASSWORD", password)
            .output()
            .unwrap()
    };
    let human =
        |name: &str| server.manifest_digest(&format!("bench/{name}"), "latest", user, password);

    let failed = bake(&matrix);
    assert_eq!(failed.status.code(), Some(4), "{}", stderr(&failed));
    let report = json(&failed);
    assert_eq!(cell(&report, &flaky)["outcome"], "failed");
    assert_eq!(cell(&report, &base)["outcome"], "built");
    assert!(
        cell(&report, &base)["cached"]["ref"]
            .as_str()
            .unwrap()
            .contains("bench-cache:kiln-")
    );
    assert_eq!(report["summary"]["published"], false);
    for name in [&base, &app, &flaky] {
        assert_eq!(
            human(name),
            None,
            "{name} was tagged although a cell failed"
        );
    }

    matrix.context(
        "flaky",
        &format!("FROM {busybox}\nRUN echo fixed > /fixed\n"),
        &[],
    );
    let before = proxy.requests().len();
    let fixed = bake(&matrix);
    assert_eq!(fixed.status.code(), Some(0), "{}", stderr(&fixed));
    let report = json(&fixed);
    assert_eq!(report["summary"]["published"], true, "{report:#}");
    assert_eq!(cell(&report, &base)["outcome"], "reused");
    for name in [&base, &app, &flaky] {
        let digest = human(name).unwrap_or_else(|| panic!("{name} has no human tag"));
        let pushed = &cell(&report, name)["pushed"][0];
        assert_eq!(pushed["digest"], digest.as_str(), "{report:#}");
        assert_eq!(pushed["digest"], cell(&report, name)["cached"]["digest"]);
    }
    // The human tags were manifest writes: no blob reached a human repository but by a mount.
    let requests = proxy.requests();
    let uploads: Vec<String> = requests[before..]
        .iter()
        .filter(|request| request.is_blob_upload() && request.path().contains("/bench/"))
        .map(|request| request.target.clone())
        .collect();
    assert!(
        uploads.is_empty(),
        "layers uploaded to human repositories: {uploads:?}"
    );
    assert!(
        requests[before..]
            .iter()
            .any(|request| request.is_blob_mount() || request.is_blob_check()),
        "the copies mounted or found their blobs"
    );

    // Another machine (no records, none of the images): the registry holds every cell built
    // from the same inputs, so nothing is built and the plan says so.
    let ids: Vec<String> = cells(&report)
        .iter()
        .filter_map(|cell| cell["image_id"].as_str().map(str::to_owned))
        .collect();
    // Children before their parents: the report lists parents first.
    for id in ids.iter().rev() {
        run(docker(&["rmi", "-f", id])).unwrap();
    }
    let elsewhere = tempfile::tempdir().unwrap();
    let file = matrix.dir.path().join("kiln.toml");
    let plan = |push: &[&str]| {
        let mut args = vec!["plan", "--all", "-f", file.to_str().unwrap(), "--json"];
        args.extend_from_slice(push);
        let output = matrix
            .kiln(&args)
            .env("KILN_CACHE_DIR", elsewhere.path())
            .env("KILN_REGISTRY_USERNAME", user)
            .env("KILN_REGISTRY_PASSWORD", password)
            .output()
            .unwrap();
        json(&output)
    };
    let (without_push, with_push) = (plan(&[]), plan(&["--push"]));
    for name in [&base, &app, &flaky] {
        assert_eq!(
            cell(&without_push, name)["action"],
            "pull",
            "{without_push:#}"
        );
        assert_eq!(cell(&with_push, name)["action"], "remote", "{with_push:#}");
    }
    let again = matrix
        .kiln(&["bake", "-f", file.to_str().unwrap(), "--json", "--push"])
        .env("KILN_CACHE_DIR", elsewhere.path())
        .env("KILN_REGISTRY_USERNAME", user)
        .env("KILN_REGISTRY_PASSWORD", password)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let again = json(&again);
    for name in [&base, &app, &flaky] {
        assert_eq!(cell(&again, name)["outcome"], "remote", "{again:#}");
    }
    for cell in cells(&report) {
        if let Some(tag) = cell["tags"][0].as_str() {
            let _ = run(docker(&["rmi", tag]));
        }
        if let Some(cached) = cell["cached"]["ref"].as_str() {
            let _ = run(docker(&["rmi", cached]));
        }
    }
}

#[test]
fn two_shards_at_once_build_each_cell_once_then_publish_only_tags_them_all() {
    let test = "two_shards_at_once_build_each_cell_once_then_publish_only_tags_them_all";
    if live_docker(test).is_none() {
        return;
    }
    let (user, password) = ("kiln", "shard-s3cret");
    let Some(server) = kiln_tests::registry::registry_or_skip(test, &[(user, password)]) else {
        return;
    };
    let host = format!("127.0.0.1:{}", server.port());
    let matrix = Matrix::new();
    let busybox = busybox();
    matrix.context(
        "base",
        &format!("FROM {busybox}\nCOPY b /b\n"),
        &[("b", &unique("b"))],
    );
    matrix.context(
        "app",
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nARG VERSION\nRUN echo $VERSION > /version\n",
        &[],
    );
    let (base, app) = (matrix.name("base"), matrix.name("app"));
    matrix.file(&format!(
        r#"version = 1
[defaults]
registry = "{host}/bench"
cache_repo = "{host}/bench-cache"
[[image]]
name = "{base}"
context = "base"
[[image]]
name = "{app}"
context = "app"
requires = [{{ image = "{base}", as = "BASE_IMAGE" }}]
matrix = {{ version = ["v1", "v2", "v3", "v4", "v5"] }}
"#
    ));
    let file = matrix.dir.path().join("kiln.toml");
    // Two machines: each shard its own cache directory, both the same daemon and registry.
    let shard = |which: &str, cache: &std::path::Path| {
        matrix
            .kiln(&[
                "bake",
                "-f",
                file.to_str().unwrap(),
                "--json",
                "--shard",
                which,
            ])
            .env("KILN_CACHE_DIR", cache)
            .env("KILN_REGISTRY_USERNAME", user)
            .env("KILN_REGISTRY_PASSWORD", password)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = shard("1/2", one.path());
    let second = shard("2/2", two.path());
    let outputs = [
        first.wait_with_output_json(),
        second.wait_with_output_json(),
    ];
    let mut built: std::collections::BTreeMap<String, usize> = Default::default();
    for (status, report) in &outputs {
        assert_eq!(*status, Some(0), "{report:#}");
        for cell in cells(report) {
            if cell["outcome"] == "built" {
                *built
                    .entry(cell["id"].as_str().unwrap().to_owned())
                    .or_default() += 1;
            }
        }
    }
    let mut expected = vec![base.clone()];
    expected.extend((1..=5).map(|n| format!("{app}[version=v{n}]")));
    for id in &expected {
        assert_eq!(
            built.get(id),
            Some(&1),
            "{id} built once across both shards: {built:?}"
        );
    }
    let output = matrix
        .kiln(&[
            "bake",
            "-f",
            file.to_str().unwrap(),
            "--json",
            "--publish-only",
        ])
        .env("KILN_REGISTRY_USERNAME", user)
        .env("KILN_REGISTRY_PASSWORD", password)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let report = json(&output);
    assert_eq!(report["summary"]["published"], true);
    for id in &expected {
        let tag = cell(&report, id)["tags"][0].as_str().unwrap().to_owned();
        let repo_tag = tag.trim_start_matches(&format!("{host}/"));
        let (repo, tag) = repo_tag.split_once(':').unwrap();
        assert!(
            server.manifest_digest(repo, tag, user, password).is_some(),
            "{repo}:{tag}"
        );
    }
}

/// Waiting for a `kiln --json` child: its exit code and its one JSON object.
trait JsonChild {
    fn wait_with_output_json(self) -> (Option<i32>, Value);
}

impl JsonChild for std::process::Child {
    fn wait_with_output_json(self) -> (Option<i32>, Value) {
        let output = self.wait_with_output().unwrap();
        (output.status.code(), json(&output))
    }
}

#[test]
fn cells_with_the_same_inputs_build_once_and_keep_their_own_tags() {
    if live_docker("cells_with_the_same_inputs_build_once_and_keep_their_own_tags").is_none() {
        return;
    }
    let matrix = Matrix::new();
    // A build that makes a different image every time it runs: equal ids mean one build.
    matrix.context(
        "twin",
        &format!(
            "FROM {}\nRUN cat /proc/sys/kernel/random/uuid > /id\n",
            busybox()
        ),
        &[],
    );
    let twin = matrix.name("twin");
    matrix.file(&format!(
        "version = 1\n[[image]]\nname = \"{twin}\"\ncontext = \"twin\"\n\
         matrix = {{ tag_version = [\"a\", \"b\"] }}\n"
    ));
    let output = matrix.bake(&["-j", "2"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = json(&output);
    let (a, b) = (
        cell(&report, &format!("{twin}[tag_version=a]")),
        cell(&report, &format!("{twin}[tag_version=b]")),
    );
    assert_eq!(a["fingerprint"], b["fingerprint"], "{report:#}");
    assert_eq!(a["image_id"], b["image_id"], "built once: {report:#}");
    assert_ne!(a["tags"][0], b["tags"][0]);
    for tag in [&a["tags"][0], &b["tags"][0]] {
        let tag = tag.as_str().unwrap();
        assert_eq!(
            inspect_field(tag, "{{.Id}}").as_deref(),
            a["image_id"].as_str(),
            "{tag} names the one image"
        );
    }
}

#[test]
fn on_a_terminal_a_board_runs_and_finished_cells_scroll_above_it() {
    if live_docker("on_a_terminal_a_board_runs_and_finished_cells_scroll_above_it").is_none() {
        return;
    }
    let matrix = Matrix::new();
    base_and_apps(&matrix);
    let file = matrix.dir.path().join("kiln.toml");
    let output = kiln_tests::kiln_on_a_terminal(&["bake", "-f", file.to_str().unwrap(), "-j", "2"])
        .env("KILN_CACHE_DIR", matrix.cache.path())
        .env_remove("CI")
        .output()
        .unwrap();
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("\u{1b}["),
        "the board draws with escape codes: {text}"
    );
    assert!(
        !text.contains("=> "),
        "no plain start lines on a terminal: {text}"
    );
    for id in [
        matrix.name("base"),
        format!("{}[version=v1]", matrix.name("app")),
        format!("{}[version=v2]", matrix.name("app")),
        matrix.name("other"),
    ] {
        assert!(
            text.contains(&format!("ok {id}: built")),
            "{id} scrolled above: {text}"
        );
    }
    assert!(text.contains("4 cells in"), "the summary follows: {text}");
}
