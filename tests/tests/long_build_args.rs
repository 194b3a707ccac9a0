//! Build args near the Engine API's limit: the daemon takes them only in the URL query, which
//! the HTTP client limits to 65534 bytes in all. Args that fit build; args that do not are
//! refused with exit 2, naming the arg and the limit, before anything is sent.

use kiln_tests::images::busybox;
use kiln_tests::output::{json, stderr};
use kiln_tests::{ImageCleanup, kiln, live_docker, unique};

/// The context, and the guard that removes every image its builds make (failed ones too).
fn context() -> (tempfile::TempDir, kiln_tests::fault_proxy::LabelledImages) {
    kiln_tests::labelled_context(&format!(
        "FROM {}\nARG BIG\nRUN test ${{#BIG}} -gt 1000\n",
        busybox()
    ))
}

fn assert_refused(output: &std::process::Output, size: usize) {
    assert_eq!(output.status.code(), Some(2), "{}", stderr(output));
    let error = &json(output)["error"];
    assert_eq!(error["kind"], "invalid_input", "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("BIG=<{size} bytes>")),
        "{message}"
    );
    assert!(message.contains("65534 bytes"), "{message}");
    assert!(
        !message.contains("aaaa"),
        "the value is not echoed: {message}"
    );
}

#[test]
fn args_that_cannot_fit_are_refused_before_the_daemon_is_asked() {
    let big = format!("BIG={}", "a".repeat(100_000));
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-daemon.sock");
    for command in ["build", "plan"] {
        let output = kiln(&[command, "examples/hello", "--build-arg", &big, "--json"])
            .env("DOCKER_HOST", format!("unix://{}", missing.display()))
            .output()
            .unwrap();
        assert_refused(&output, 100_000);
    }
}

#[test]
fn args_up_to_the_limit_build_and_the_whole_query_is_measured() {
    if live_docker("args_up_to_the_limit_build_and_the_whole_query_is_measured").is_none() {
        return;
    }
    let (dir, _images) = context();
    let path = dir.path().to_str().unwrap();
    let tag = format!("{}:big", unique("kiln-bigargs"));
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);
    for builder in ["classic", "buildkit"] {
        let fits = format!("BIG={}", "a".repeat(60_000));
        let output = kiln(&[
            "build",
            path,
            "--tag",
            &tag,
            "--builder",
            builder,
            "--build-arg",
            &fits,
            "--json",
        ])
        .output()
        .unwrap();
        assert!(output.status.success(), "{builder}: {}", stderr(&output));
        assert_eq!(json(&output)["outcome"], "built", "{builder}");

        // Alone the arg fits; with the rest of the query (tags, labels, options) it does not.
        let size = 65_450;
        let almost = format!("BIG={}", "a".repeat(size));
        let output = kiln(&[
            "build",
            path,
            "--tag",
            &tag,
            "--builder",
            builder,
            "--build-arg",
            &almost,
            "--json",
        ])
        .output()
        .unwrap();
        assert_refused(&output, size);
    }
}
