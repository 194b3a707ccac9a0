//! One build per fingerprint across processes, and answers without a daemon — against the real
//! daemon and real `kiln` processes.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kiln_tests::images::busybox;
use kiln_tests::output::json;
use kiln_tests::{ImageCleanup, kiln, live_docker, unique};

/// The context, and the guard that removes every image its builds make (killed ones too).
fn context(dockerfile: &str) -> (tempfile::TempDir, kiln_tests::fault_proxy::LabelledImages) {
    let (dir, images) = kiln_tests::labelled_context(dockerfile);
    fs::write(dir.path().join("data.txt"), unique("data")).unwrap();
    (dir, images)
}

fn build_command(context: &Path, cache: &Path, tag: &str) -> Command {
    let mut command = kiln(&[
        "build",
        context.to_str().unwrap(),
        "--tag",
        tag,
        "--no-cache",
        "--json",
    ]);
    command.env("KILN_CACHE_DIR", cache);
    command
}

#[test]
fn two_processes_building_the_same_inputs_run_the_step_once() {
    if live_docker("two_processes_building_the_same_inputs_run_the_step_once").is_none() {
        return;
    }
    let marker = unique("ran-the-step");
    let (dir, _images) = context(&format!(
        "FROM {}\nCOPY data.txt /\nRUN echo {marker} && sleep 2\n",
        busybox()
    ));
    let cache = tempfile::tempdir().unwrap();
    let tag = format!("{}:latest", unique("kiln-once"));
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);

    let spawn = || {
        build_command(dir.path(), cache.path(), &tag)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (spawn(), spawn());
    let outputs = [
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    ];
    for output in &outputs {
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let ran: usize = outputs
        .iter()
        .map(|output| {
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .filter(|line| line.trim() == marker)
                .count()
        })
        .sum();
    assert_eq!(
        ran, 1,
        "the daemon ran the RUN step once, though both asked for --no-cache"
    );
    let mut outcomes: Vec<String> = outputs
        .iter()
        .map(|output| json(output)["outcome"].as_str().unwrap().to_owned())
        .collect();
    outcomes.sort();
    assert_eq!(outcomes, ["built", "reused"]);
    assert_eq!(json(&outputs[0])["image_id"], json(&outputs[1])["image_id"]);
}

/// Reads `child`'s stderr until a line contains `needle` (or the deadline passes).
fn wait_for_line(child: &mut Child, needle: &str, deadline: Duration) -> bool {
    let stderr = child.stderr.take().unwrap();
    let started = Instant::now();
    let mut lines = BufReader::new(stderr).lines();
    while started.elapsed() < deadline {
        match lines.next() {
            Some(Ok(line)) if line.contains(needle) => {
                // Keep draining in the background so the child never blocks on a full pipe.
                std::thread::spawn(move || lines.for_each(drop));
                return true;
            }
            Some(_) => {}
            None => return false,
        }
    }
    false
}

#[test]
fn a_killed_holder_releases_the_way() {
    if live_docker("a_killed_holder_releases_the_way").is_none() {
        return;
    }
    let (dir, _images) = context(&format!(
        "FROM {}\nCOPY data.txt /\nRUN echo holder-started && sleep 5\n",
        busybox()
    ));
    let cache = tempfile::tempdir().unwrap();
    let tag = format!("{}:latest", unique("kiln-killed"));
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);

    let mut holder = build_command(dir.path(), cache.path(), &tag)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        wait_for_line(&mut holder, "holder-started", Duration::from_secs(60)),
        "the holder reached its RUN step"
    );
    let mut waiter = build_command(dir.path(), cache.path(), &tag)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        wait_for_line(
            &mut waiter,
            "waiting for kiln process",
            Duration::from_secs(30)
        ),
        "the second process waits for the first"
    );
    holder.kill().unwrap();
    holder.wait().unwrap();

    let started = Instant::now();
    let output = waiter.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the waiter builds after the holder died"
    );
    assert_eq!(json(&output)["outcome"], "built");
    assert!(started.elapsed() < Duration::from_secs(120));
}

#[test]
fn answers_without_a_daemon_come_from_the_caches() {
    if live_docker("answers_without_a_daemon_come_from_the_caches").is_none() {
        return;
    }
    let (dir, _images) = context("FROM scratch\nCOPY data.txt /\n");
    let cache = tempfile::tempdir().unwrap();
    let tag = format!("{}:latest", unique("kiln-offline"));
    let absent = format!("{}:latest", unique("kiln-never-built"));
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);
    let built = build_command(dir.path(), cache.path(), &tag)
        .output()
        .unwrap();
    assert!(built.status.success());
    let with_cache = |args: &[&str]| {
        let mut command = kiln(args);
        command.env("KILN_CACHE_DIR", cache.path());
        command
    };
    assert!(
        with_cache(&["exists", &tag])
            .output()
            .unwrap()
            .status
            .success()
    );

    let closed = tempfile::tempdir().unwrap();
    let socket = closed.path().join("closed.sock");
    drop(UnixListener::bind(&socket).unwrap());
    let offline = |args: &[&str]| {
        let mut command = with_cache(args);
        command.env("DOCKER_HOST", format!("unix://{}", socket.display()));
        command.output().unwrap()
    };

    let fresh = offline(&["exists", &tag, "--json"]);
    assert_eq!(
        fresh.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&fresh.stderr)
    );
    let answer = json(&fresh);
    assert_eq!(answer["source"], "cache");
    assert_eq!(answer["stale"], false);
    assert_eq!(answer["exists"], true);

    let stale = {
        let mut command = with_cache(&["exists", &tag, "--json"]);
        command
            .env("DOCKER_HOST", format!("unix://{}", socket.display()))
            .env("KILN_CACHE_TTL", "0");
        command.output().unwrap()
    };
    assert_eq!(stale.status.code(), Some(0));
    assert_eq!(
        json(&stale)["stale"],
        true,
        "a stale cache still says exists"
    );

    let unknown = offline(&["exists", &absent, "--json"]);
    assert_eq!(unknown.status.code(), Some(3), "the caches do not know it");
    assert_eq!(json(&unknown)["error"]["kind"], "unreachable");

    let plan = offline(&[
        "plan",
        dir.path().to_str().unwrap(),
        "--tag",
        &tag,
        "--json",
    ]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    let plan = json(&plan);
    assert_eq!(plan["action"], "reuse");
    assert_eq!(plan["daemon"]["state"], "unreachable");

    let started = Instant::now();
    let build = offline(&[
        "build",
        dir.path().to_str().unwrap(),
        "--tag",
        &tag,
        "--json",
    ]);
    assert_eq!(build.status.code(), Some(3));
    assert!(started.elapsed() < Duration::from_secs(2));

    let doctor = offline(&["doctor", "--json"]);
    assert_eq!(doctor.status.code(), Some(3));
    let doctor = json(&doctor);
    assert_eq!(doctor["cache"]["mode"], "cache-only");
    assert!(
        doctor["cache"]["l1_answers"].as_u64().unwrap() >= 1,
        "{doctor}"
    );

    let stats = with_cache(&["cache", "stats", "--json"]).output().unwrap();
    let stats = json(&stats);
    assert!(stats["l1"]["hits"].as_u64().unwrap() >= 1, "{stats}");
    assert_eq!(stats["l2"]["entries"], 1, "{stats}");
    let cleared = with_cache(&["cache", "clear"]).output().unwrap();
    assert!(cleared.status.success());
    let stats = json(&with_cache(&["cache", "stats", "--json"]).output().unwrap());
    assert_eq!(
        (
            stats["l1"]["entries"].as_u64(),
            stats["l2"]["entries"].as_u64()
        ),
        (Some(0), Some(0))
    );
}
