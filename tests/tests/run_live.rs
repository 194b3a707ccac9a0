//! `kiln run` and `kiln experiment` against the real daemon: a test passes and leaves nothing;
//! labels on every resource; `kill -9` leaves an orphan that `gc` collects after saving its
//! logs; SIGINT ends cleanly; an unreachable daemon is exit 3 fast while `experiment ls`
//! still lists. Every test ends checking that nothing with its experiment label remains.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kiln_tests::docker_cli::{docker, run};
use kiln_tests::images::busybox;
use kiln_tests::output::{json, stderr, stdout};
use kiln_tests::{kiln, live_docker, unique};
use serde_json::Value;

/// A folder with a bake file of tests and its own cache directory.
struct Tests {
    dir: tempfile::TempDir,
    cache: tempfile::TempDir,
    name: String,
}

impl Tests {
    fn new(toml: &str) -> Tests {
        let tests = Tests {
            dir: tempfile::tempdir().unwrap(),
            cache: tempfile::tempdir().unwrap(),
            name: unique("kr").replace('_', "-"),
        };
        fs::write(tests.dir.path().join("kiln.toml"), toml).unwrap();
        tests
    }

    fn kiln(&self, args: &[&str]) -> Command {
        let mut command = kiln(args);
        command
            .env("KILN_CACHE_DIR", self.cache.path())
            .env_remove("CI");
        command
    }

    fn file(&self) -> String {
        self.dir.path().join("kiln.toml").display().to_string()
    }

    fn run(&self, extra: &[&str]) -> Command {
        let file = self.file();
        let mut args = vec![
            "run",
            "-f",
            file.as_str(),
            "--name",
            self.name.as_str(),
            "--json",
        ];
        args.extend_from_slice(extra);
        self.kiln(&args)
    }

    fn experiments(&self) -> Value {
        let output = self.kiln(&["experiment", "ls", "--json"]).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        json(&output)
    }
}

/// Containers and networks on the daemon labelled with `experiment`.
fn leftovers(experiment: &str) -> Vec<String> {
    let filter = format!("label=dev.kiln.experiment={experiment}");
    let mut found = Vec::new();
    for kind in [
        &["ps", "-a", "-q", "--filter"][..],
        &["network", "ls", "-q", "--filter"][..],
    ] {
        let mut args = kind.to_vec();
        args.push(&filter);
        let output = run(docker(&args)).unwrap();
        found.extend(
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .map(str::to_owned),
        );
    }
    found
}

/// Removes whatever carries the experiment label (when a test fails halfway).
struct Sweep(String);

impl Drop for Sweep {
    fn drop(&mut self) {
        for id in leftovers(&self.0) {
            let _ = run(docker(&["rm", "-f", &id]));
            let _ = run(docker(&["network", "rm", &id]));
        }
    }
}

/// Removes every resource of experiments named `name` (their ids start with a time).
fn sweep_name(name: &str) -> Sweep {
    Sweep(name.to_owned())
}

fn shell(script: &str) -> String {
    serde_json::to_string(&["sh", "-c", script]).unwrap()
}

fn two_services(server: &str, client: &str, timeout: &str) -> String {
    let image = busybox();
    format!(
        r#"version = 1
[[test]]
name = "talk"
timeout = "{timeout}"
network = {{ subnet = "pool" }}
  [[test.service]]
  name = "server"
  image = "{image}"
  command = {server}
  ready = {{ log = "listening" }}
  [[test.service]]
  name = "client"
  image = "{image}"
  command = {client}
  depends_on = ["server"]
  verdict = true
"#,
        server = shell(server),
        client = shell(client),
    )
}

#[test]
fn a_test_passes_over_its_own_network_and_leaves_nothing() {
    if live_docker("a_test_passes_over_its_own_network_and_leaves_nothing").is_none() {
        return;
    }
    let tests = Tests::new(&two_services(
        "echo listening; echo pong | nc -l -p 7000; echo served",
        "for i in 1 2 3 4 5 6 7 8 9 10; do a=$(echo ping | nc -w 2 server 7000) && [ -n \"$a\" ] && break; sleep 0.3; done; echo got $a; i=0; while [ $i -lt 50 ]; do echo out $i; i=$((i+1)); done; echo err line >&2; [ \"$a\" = pong ]",
        "60s",
    ));
    let output = tests.run(&[]).output().unwrap();
    let report = json(&output);
    let experiment = report["experiment"].as_str().unwrap_or_default().to_owned();
    let _sweep = Sweep(experiment.clone());
    assert_eq!(
        output.status.code(),
        Some(0),
        "{report:#}\n{}",
        stderr(&output)
    );
    assert_eq!(report["tests"][0]["result"], "passed");
    let folder = Path::new(report["folder"].as_str().unwrap());
    let metrics: Value =
        serde_json::from_slice(&fs::read(folder.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["schema"], "kiln.experiment/v1");
    assert!(
        metrics["tests"][0]["subnet"]
            .as_str()
            .unwrap()
            .starts_with("10.213."),
        "{metrics:#}"
    );
    let client = folder.join("tests/talk/containers/client");
    let stdout_log = fs::read_to_string(client.join("stdout.log")).unwrap();
    assert_eq!(
        stdout_log.lines().filter(|l| l.starts_with("out ")).count(),
        50
    );
    assert_eq!(
        fs::read_to_string(client.join("stderr.log"))
            .unwrap()
            .trim(),
        "err line"
    );
    let exit: Value = serde_json::from_slice(&fs::read(client.join("exit.json")).unwrap()).unwrap();
    assert_eq!(exit["exit_code"], 0);
    assert!(client.join("inspect.json").is_file());
    assert_eq!(
        leftovers(&experiment),
        Vec::<String>::new(),
        "nothing remains"
    );
    // The daemon down: the folders are still listed.
    let listed = tests
        .kiln(&["experiment", "ls", "--json"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    assert_eq!(json(&listed)["experiments"][0]["id"], experiment.as_str());
}

#[test]
fn kept_resources_carry_every_label_and_rm_removes_them() {
    if live_docker("kept_resources_carry_every_label_and_rm_removes_them").is_none() {
        return;
    }
    let tests = Tests::new(&two_services("echo listening; sleep 300", "exit 0", "60s"));
    let output = tests.run(&["--keep"]).output().unwrap();
    let report = json(&output);
    let experiment = report["experiment"].as_str().unwrap_or_default().to_owned();
    let _sweep = Sweep(experiment.clone());
    assert_eq!(output.status.code(), Some(0), "{report:#}");
    let kept = leftovers(&experiment);
    assert_eq!(kept.len(), 3, "two containers and a network: {kept:?}");
    let name = format!("kiln-{experiment}-talk-server");
    let labels = run(docker(&["inspect", "-f", "{{json .Config.Labels}}", &name])).unwrap();
    let labels: Value = serde_json::from_slice(&labels.stdout).unwrap();
    for key in [
        "managed",
        "experiment",
        "test",
        "service",
        "owner",
        "created",
        "version",
        "keep",
    ] {
        assert!(
            labels.get(format!("dev.kiln.{key}")).is_some(),
            "{key} on {labels:#}"
        );
    }
    assert_eq!(labels["dev.kiln.service"], "server");
    let network = run(docker(&[
        "network",
        "inspect",
        "-f",
        "{{json .Labels}}",
        &format!("kiln-{experiment}-talk"),
    ]))
    .unwrap();
    let network: Value = serde_json::from_slice(&network.stdout).unwrap();
    assert!(
        network["dev.kiln.subnet"]
            .as_str()
            .unwrap()
            .starts_with("10.213."),
        "{network:#}"
    );
    // gc leaves a kept experiment alone; rm removes it.
    let gc = tests
        .kiln(&["experiment", "gc", "--json"])
        .output()
        .unwrap();
    assert_eq!(gc.status.code(), Some(0), "{}", stderr(&gc));
    assert_eq!(leftovers(&experiment).len(), 3, "gc kept what --keep kept");
    let rm = tests
        .kiln(&["experiment", "rm", &experiment, "--json"])
        .output()
        .unwrap();
    assert_eq!(rm.status.code(), Some(0), "{}", stderr(&rm));
    assert_eq!(leftovers(&experiment), Vec::<String>::new());
}

#[test]
fn a_killed_run_is_orphaned_until_gc_saves_its_logs_and_removes_it() {
    if live_docker("a_killed_run_is_orphaned_until_gc_saves_its_logs_and_removes_it").is_none() {
        return;
    }
    let tests = Tests::new(&two_services(
        "echo listening; echo server says hi; sleep 300",
        "echo client waits; sleep 300",
        "300s",
    ));
    let _sweep = sweep_name(&tests.name);
    let mut child = tests
        .run(&[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until both containers run, then kill -9.
    let deadline = Instant::now() + Duration::from_secs(60);
    let experiment = loop {
        let listed = tests.experiments();
        let id = listed["experiments"][0]["id"].as_str().map(str::to_owned);
        if let Some(id) = id
            && leftovers(&id).len() >= 3
        {
            break id;
        }
        assert!(
            Instant::now() < deadline,
            "the run never started its containers"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let _sweep_experiment = Sweep(experiment.clone());
    std::thread::sleep(Duration::from_millis(500));
    child.kill().unwrap();
    child.wait().unwrap();
    let listed = tests.experiments();
    assert_eq!(
        listed["experiments"][0]["standing"], "orphaned",
        "{listed:#}"
    );
    assert_eq!(leftovers(&experiment).len(), 3, "the kill left them");
    // What the server printed before the kill was already on disk, streamed while it ran.
    let folder = Path::new(listed["experiments"][0]["folder"].as_str().unwrap());
    let streamed =
        fs::read_to_string(folder.join("tests/talk/containers/server/stdout.log")).unwrap();
    assert!(
        streamed.contains("server says hi"),
        "streamed before the kill: {streamed}"
    );
    let gc = tests
        .kiln(&["experiment", "gc", "--json"])
        .output()
        .unwrap();
    assert_eq!(gc.status.code(), Some(0), "{}", stderr(&gc));
    assert_eq!(
        leftovers(&experiment),
        Vec::<String>::new(),
        "gc removed them"
    );
    let saved = fs::read_to_string(folder.join("tests/talk/containers/server/stdout.log")).unwrap();
    assert!(saved.contains("server says hi"), "{saved}");
    let metrics: Value =
        serde_json::from_slice(&fs::read(folder.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["phase"], "interrupted");
    let after = tests.experiments();
    assert_eq!(after["experiments"][0]["status"], "interrupted");
}

#[test]
fn sigint_ends_the_run_cleanly() {
    if live_docker("sigint_ends_the_run_cleanly").is_none() {
        return;
    }
    let tests = Tests::new(&two_services(
        "echo listening; sleep 300",
        "sleep 300",
        "300s",
    ));
    let _sweep = sweep_name(&tests.name);
    let child = tests
        .run(&[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let experiment = loop {
        let listed = tests.experiments();
        if let Some(id) = listed["experiments"][0]["id"].as_str()
            && leftovers(id).len() >= 3
        {
            break id.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "the run never started its containers"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let _sweep_experiment = Sweep(experiment.clone());
    kiln_tests::signal(child.id(), "INT");
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("\"interrupted\":true"),
        "{}",
        stdout(&output)
    );
    assert_eq!(leftovers(&experiment), Vec::<String>::new(), "nothing left");
}

#[test]
fn an_unreachable_daemon_is_exit_3_within_two_seconds() {
    let tests = Tests::new(&two_services("echo listening", "exit 0", "60s"));
    let started = Instant::now();
    let output = tests
        .run(&[])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stdout(&output));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn the_interop_example_passes() {
    if live_docker("the_interop_example_passes").is_none() {
        return;
    }
    let copy = tempfile::tempdir().unwrap();
    let example = kiln_tests::workspace_root().join("examples/interop");
    for dir in ["base", "server", "client"] {
        fs::create_dir_all(copy.path().join(dir)).unwrap();
        for entry in fs::read_dir(example.join(dir)).unwrap().flatten() {
            if entry.path().is_file() {
                fs::copy(entry.path(), copy.path().join(dir).join(entry.file_name())).unwrap();
            }
        }
    }
    fs::copy(example.join("kiln.toml"), copy.path().join("kiln.toml")).unwrap();
    fs::copy("/bin/busybox", copy.path().join("base/busybox")).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let file = copy.path().join("kiln.toml");
    let output = kiln(&["run", "-f", file.to_str().unwrap(), "--json"])
        .env("KILN_CACHE_DIR", cache.path())
        .output()
        .unwrap();
    let report = json(&output);
    let experiment = report["experiment"].as_str().unwrap_or_default().to_owned();
    let _sweep = Sweep(experiment.clone());
    // Children before their parent: the report lists parents first.
    for cell in report["bake"]["cells"]
        .as_array()
        .into_iter()
        .flatten()
        .rev()
    {
        if let Some(id) = cell["image_id"].as_str() {
            let _ = run(docker(&["rmi", "-f", id]));
        }
    }
    assert_eq!(
        output.status.code(),
        Some(0),
        "{report:#}\n{}",
        stderr(&output)
    );
    assert_eq!(report["tests"][0]["result"], "passed");
    let folder = Path::new(report["folder"].as_str().unwrap());
    let base = folder.join("builds/interop-base");
    let decision: Value =
        serde_json::from_slice(&fs::read(base.join("decision.json")).unwrap()).unwrap();
    assert_eq!(decision["cell"], "interop-base");
    assert!(
        base.join("build.log").is_file(),
        "the build's log is kept with the experiment"
    );
    let metrics: Value =
        serde_json::from_slice(&fs::read(folder.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["totals"]["passed"], 1);
    let server_log = folder.join("tests/hello/containers/server/stdout.log");
    assert!(
        fs::read_to_string(server_log)
            .unwrap()
            .contains("got: hello from the client")
    );
    assert_eq!(leftovers(&experiment), Vec::<String>::new());
}
