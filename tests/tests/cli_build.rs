//! `kiln build`, `kiln exists` and `kiln doctor` as a user runs them: a real process against the
//! real daemon.

use std::fs;
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

use kiln_tests::docker_cli::{image_id, list_files};
use kiln_tests::images::busybox;
use kiln_tests::output::{json, stderr, stdout};
use kiln_tests::{ImageCleanup, kiln, live_docker, unique};
use serde_json::Value;

#[test]
fn the_example_builds_and_exists() {
    if live_docker("the_example_builds_and_exists").is_none() {
        return;
    }
    let tag = format!("{}:latest", unique("kiln-it-hello"));
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);

    let output = kiln(&["build", "examples/hello", "--tag", &tag, "--json"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        stdout(&output),
        stderr(&output)
    );
    let report = json(&output);
    assert_eq!(report["tag"], tag.as_str());
    assert_eq!(report["outcome"], "built");
    assert_eq!(report["builder"], "buildkit", "BuildKit is the default");
    assert!(
        report["builder_reason"]
            .as_str()
            .unwrap()
            .contains("default where the daemon has it"),
        "{report}"
    );
    let id = report["image_id"].as_str().unwrap();
    assert_eq!(
        image_id(&tag).as_deref(),
        Some(id),
        "the daemon has the reported image"
    );
    assert!(report["size_bytes"].as_u64().unwrap() > 0);
    assert!(
        stderr(&output).contains("COPY hello.txt /hello.txt"),
        "progress on stderr"
    );

    let files = list_files(&tag, "").unwrap();
    for expected in ["hello.txt", "config/", "config/app.toml"] {
        assert!(
            files.contains(&expected.to_owned()),
            "{expected} in {files:?}"
        );
    }
    assert!(
        !files.contains(&"config/notes.md".to_owned()),
        ".dockerignore kept notes.md out: {files:?}"
    );

    let exists = kiln(&["exists", &tag, "--json"]).output().unwrap();
    assert_eq!(exists.status.code(), Some(0), "{}", stderr(&exists));
    let answer = json(&exists);
    assert_eq!(answer["exists"], true);
    assert_eq!(answer["image_id"], id);

    let absent = format!("{}:nope", unique("kiln-it-absent"));
    let missing = kiln(&["exists", &absent]).output().unwrap();
    assert_eq!(missing.status.code(), Some(1), "{}", stderr(&missing));
    assert!(stdout(&missing).contains("absent"));
}

#[test]
fn the_default_name_comes_from_the_context_and_prints_on_stdout() {
    if live_docker("the_default_name_comes_from_the_context_and_prints_on_stdout").is_none() {
        return;
    }
    let parent = tempfile::tempdir().unwrap();
    let name = unique("kiln-it-named");
    let context = parent.path().join(&name);
    fs::create_dir(&context).unwrap();
    fs::write(context.join("Dockerfile"), "FROM scratch\nCOPY . /\n").unwrap();
    fs::write(context.join("unique.txt"), unique("named")).unwrap();
    let mut cleanup = ImageCleanup::new();
    let expected = format!("{name}-v2:latest-debug");
    cleanup.add(&expected);

    let output = kiln(&[
        "build",
        context.to_str().unwrap(),
        "--version",
        "V2",
        "--mode",
        "debug",
        "-q",
    ])
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output).trim(), expected);
    assert!(
        stderr(&output).is_empty(),
        "-q prints nothing else: {}",
        stderr(&output)
    );
    assert!(image_id(&expected).is_some());
}

#[test]
fn a_failing_run_step_exits_4_and_names_the_step() {
    if live_docker("a_failing_run_step_exits_4_and_names_the_step").is_none() {
        return;
    }
    let base = busybox();
    // Labelled, so that the intermediate image of the step that passed is removed too (the
    // label is step 2 of 4).
    let (dir, _images) = kiln_tests::labelled_context(&format!(
        "FROM {base}\nRUN echo first-step-ok\nRUN echo about-to-fail && exit 3\n"
    ));
    let tag = format!("{}:fail", unique("kiln-it-fail"));
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);

    // The classic builder's numbering; BuildKit's failures are named in buildkit_live.rs.
    let classic = ["--builder", "classic"];
    let output = kiln(
        &[
            &["build", dir.path().to_str().unwrap(), "--tag", &tag],
            &classic[..],
        ]
        .concat(),
    )
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(4), "stderr: {}", stderr(&output));
    let text = stderr(&output);
    assert!(
        text.contains("Step 4/4 : RUN echo about-to-fail && exit 3"),
        "{text}"
    );
    assert!(text.contains("returned a non-zero code: 3"), "{text}");
    assert!(
        text.contains("| about-to-fail"),
        "the log tail is shown: {text}"
    );

    let output = kiln(&[
        "build",
        dir.path().to_str().unwrap(),
        "--tag",
        &tag,
        "--json",
        "--builder",
        "classic",
    ])
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(4));
    let error = &json(&output)["error"];
    assert_eq!(error["kind"], "build_failed");
    assert_eq!(error["exit_code"], 4);
    assert_eq!(error["step"], "Step 4/4 : RUN echo about-to-fail && exit 3");
    assert!(
        error["log_tail"]
            .as_array()
            .unwrap()
            .contains(&Value::from("about-to-fail"))
    );
    assert!(image_id(&tag).is_none(), "a failed build tags nothing");
}

fn assert_unreachable_fast(docker_host: &str) {
    let started = Instant::now();
    let output = kiln(&["build", "examples/hello", "--json"])
        .env("DOCKER_HOST", docker_host)
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(
        output.status.code(),
        Some(3),
        "{docker_host}: {}",
        stderr(&output)
    );
    assert!(
        elapsed < Duration::from_secs(2),
        "{docker_host}: took {elapsed:?}"
    );
    let error = &json(&output)["error"];
    assert_eq!(error["kind"], "unreachable");
    assert!(
        error["message"].as_str().unwrap().contains(docker_host),
        "{error}"
    );
}

#[test]
fn an_unreachable_daemon_exits_3_within_two_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("closed.sock");
    drop(UnixListener::bind(&socket).unwrap());
    assert!(
        socket.exists(),
        "the socket file stays, with nobody listening"
    );
    assert_unreachable_fast(&format!("unix://{}", socket.display()));
    assert_unreachable_fast(&format!(
        "unix://{}",
        dir.path().join("missing.sock").display()
    ));

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    assert_unreachable_fast(&format!("tcp://127.0.0.1:{port}"));

    let doctor = kiln(&["doctor", "--json"])
        .env("DOCKER_HOST", format!("unix://{}", socket.display()))
        .output()
        .unwrap();
    assert_eq!(doctor.status.code(), Some(3));
    assert_eq!(json(&doctor)["daemon"]["reachable"], false);
}

#[test]
fn bad_input_exits_2_naming_the_value_and_builds_nothing() {
    let tag = format!("{}:bad", unique("kiln-it-bad"));
    let long = format!("{}:x", "a".repeat(300));
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["build", "no/such/context", "--tag", &tag],
            "no/such/context",
        ),
        (
            vec![
                "build",
                "examples/hello",
                "-f",
                "no/Dockerfile",
                "--tag",
                &tag,
            ],
            "no/Dockerfile",
        ),
        (
            vec!["build", "examples/hello", "--tag", "bad tag!"],
            "\"bad tag!\"",
        ),
        (
            vec!["build", "examples/hello", "--tag", "library/UPPER:x"],
            "must be lowercase",
        ),
        (
            vec!["build", "examples/hello", "--tag", ""],
            "reference is empty",
        ),
        (
            vec!["build", "examples/hello", "--tag", &long],
            "at most 255",
        ),
        (
            vec![
                "build",
                "examples/hello",
                "--platform",
                "linux/sparc99",
                "--tag",
                &tag,
            ],
            "\"linux/sparc99\"",
        ),
        (
            vec!["build", "examples/hello", "--mode", "turbo", "--tag", &tag],
            "\"turbo\"",
        ),
        (
            vec![
                "build",
                "examples/hello",
                "--runtime-mode",
                "fast",
                "--tag",
                &tag,
            ],
            "\"fast\"",
        ),
        (
            vec![
                "build",
                "examples/hello",
                "--build-arg",
                "=oops",
                "--tag",
                &tag,
            ],
            "\"=oops\"",
        ),
        (
            vec![
                "build",
                "examples/hello",
                "--build-arg",
                "NOT_SET_ANYWHERE_KILN",
                "--tag",
                &tag,
            ],
            "NOT_SET_ANYWHERE_KILN",
        ),
        (vec!["exists", "Bad:Ref!"], "\"Bad:Ref!\""),
    ];
    for (args, fragment) in cases {
        let output = kiln(&args).output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(fragment),
            "{args:?}: {}",
            stderr(&output)
        );

        let mut with_json = args.clone();
        with_json.push("--json");
        let output = kiln(&with_json).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{with_json:?}");
        let error = &json(&output)["error"];
        assert_eq!(error["kind"], "invalid_input", "{with_json:?}");
        assert!(
            error["message"].as_str().unwrap().contains(fragment),
            "{error}"
        );
    }
    if live_docker("bad_input_exits_2_naming_the_value_and_builds_nothing").is_some() {
        assert!(image_id(&tag).is_none(), "nothing was built under {tag}");
    }
}

#[test]
fn a_dockerfile_outside_the_context_builds() {
    if live_docker("a_dockerfile_outside_the_context_builds").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let context = dir.path().join("ctx");
    fs::create_dir(&context).unwrap();
    fs::write(context.join("data.txt"), unique("data")).unwrap();
    fs::write(
        dir.path().join("build.Dockerfile"),
        "FROM scratch\nCOPY . /ctx/\n",
    )
    .unwrap();
    let tag = format!("{}:outside", unique("kiln-it-outside"));
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);

    let output = kiln(&[
        "build",
        context.to_str().unwrap(),
        "-f",
        dir.path().join("build.Dockerfile").to_str().unwrap(),
        "--tag",
        &tag,
    ])
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        list_files(&tag, "ctx/").unwrap(),
        ["data.txt"],
        "neither the injected Dockerfile nor the injected .dockerignore reach the image"
    );
}

#[test]
fn doctor_reports_the_daemon() {
    if live_docker("doctor_reports_the_daemon").is_none() {
        return;
    }
    let output = kiln(&["doctor", "--json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(report["daemon"]["reachable"], true);
    assert!(
        report["daemon"]["version"]
            .as_str()
            .is_some_and(|v| !v.is_empty())
    );
    assert!(report["host_platform"].as_str().is_some());
    let human = kiln(&["doctor"]).output().unwrap();
    assert!(stdout(&human).contains("daemon"), "{}", stdout(&human));
}
