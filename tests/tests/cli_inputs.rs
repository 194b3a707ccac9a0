//! Bad inputs as a user gives them to `kiln plan` and `kiln build`: each is exit 2 with a message
//! naming the value, before any work. No daemon is needed (`DOCKER_HOST` points at a socket that
//! does not exist): input is checked before the daemon is asked, and a plan decides from the
//! records without one.

use std::fs;
use std::process::Command;

use kiln_tests::kiln;
use kiln_tests::output::{json, stderr};

/// Arguments, environment variables, and what the message must contain.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

const NO_DAEMON: &str = "unix:///nonexistent/kiln-inputs-test.sock";

/// `kiln <command> <context> <args>` with no daemon and no configuration file.
fn run(command: &str, context: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut argv = vec![command, context];
    argv.extend_from_slice(args);
    let mut run = kiln(&argv);
    let home = std::env::temp_dir().join("kiln-inputs-test-no-home");
    run.env("DOCKER_HOST", NO_DAEMON)
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", &home)
        .env_remove("KILN_CONFIG");
    for (name, value) in env {
        run.env(name, value);
    }
    run
}

/// Asserts exit 2 and a message containing `expected`.
fn refused(mut command: Command, expected: &str) {
    let output = command.output().unwrap();
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{command:?}: {message}");
    assert!(message.contains(expected), "{command:?}: {message}");
}

#[test]
fn bad_flags_and_settings_exit_2_for_plan_and_build() {
    let digest = format!("sha256:{}", "a".repeat(64));
    let digest_tag = format!("repo@{digest}");
    let config_dir = tempfile::tempdir().unwrap();
    let config = config_dir.path().join("config.toml");
    fs::write(&config, "no_cache = true\nforse_build = true\n").unwrap();
    let config_place = format!("{}:2:1", config.display());
    let dir = config_dir.path().to_str().unwrap();
    let cases: [Case<'_>; 7] = [
        (&["--tag", &digest_tag], &[], "invalid --tag \"repo@sha256:"),
        (&["--name", ""], &[], "invalid --name \"\""),
        (&["--name", "名前"], &[], "invalid --name \"名前\""),
        (
            &["--label", "dev.kiln.fingerprint=forged"],
            &[],
            "invalid --label \"dev.kiln.fingerprint\"",
        ),
        (
            &[],
            &[("KILN_FORCE_BUILD", "maybe")],
            "invalid KILN_FORCE_BUILD \"maybe\"",
        ),
        (&[], &[("KILN_CONFIG", dir)], "is a directory"),
        (
            &[],
            &[("KILN_CONFIG", config.to_str().unwrap())],
            &config_place,
        ),
    ];
    for (args, env, expected) in cases {
        refused(run("plan", "examples/hello", args, env), expected);
        refused(run("build", "examples/hello", args, env), expected);
    }
}

#[test]
fn dockerfile_mistakes_exit_2_from_plan_naming_the_line() {
    let context = tempfile::tempdir().unwrap();
    let path = context.path().to_str().unwrap();
    let dockerfile = context.path().join("Dockerfile");
    let cases = [
        ("# nothing yet\n", "", "only blank lines and comments"),
        ("FROM scratch\nFORM x\n", ":2", "not \"FORM\""),
        ("RUN true\nFROM scratch\n", ":1", "FROM before RUN"),
    ];
    for (text, line, expected) in cases {
        fs::write(&dockerfile, text).unwrap();
        let place = format!("{}{line}\"", dockerfile.display());
        let output = run("plan", path, &["--name", "app"], &[]).output().unwrap();
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{text:?}: {message}");
        assert!(message.contains(&place), "{text:?}: {message}");
        assert!(message.contains(expected), "{text:?}: {message}");
    }
    fs::write(&dockerfile, "FROM scratch AS base\nFROM base\n").unwrap();
    refused(
        run("plan", path, &["--name", "app", "--target", "tset"], &[]),
        "invalid --target \"tset\": expected a stage of the Dockerfile (base)",
    );
}

#[test]
fn a_repeated_tag_is_listed_once() {
    let output = run(
        "plan",
        "examples/hello",
        &[
            "--tag", "app:1", "--tag", "app:2", "--tag", "app:1", "--json",
        ],
        &[],
    )
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let plan = json(&output);
    assert_eq!(
        plan["tags"],
        serde_json::json!(["app:1", "app:2"]),
        "{plan}"
    );
}
