//! kiln against the daemon on a TCP port, plain and behind mutual TLS (`DOCKER_HOST=tcp://…`,
//! `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`), as remote daemons and CI runners serve it.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use kiln_tests::docker_cli::image_id;
use kiln_tests::images::busybox;
use kiln_tests::output::{json, stderr};
use kiln_tests::registry::registry_or_skip;
use kiln_tests::tcp_daemon::{TcpDaemon, tcp_daemon_or_skip};
use kiln_tests::{ImageCleanup, kiln, unique};

/// `kiln ARGS` talking to `daemon`, with TLS when the daemon has certificates (or with the
/// certificates in `cert_path`, when given).
fn kiln_via(daemon: &TcpDaemon, cert_path: Option<&Path>, args: &[&str]) -> Command {
    let mut command = kiln(args);
    command.env("DOCKER_HOST", daemon.host());
    if let Some(dir) = cert_path.or(daemon.cert_path()) {
        command
            .env("DOCKER_TLS_VERIFY", "1")
            .env("DOCKER_CERT_PATH", dir);
    }
    command
}

/// A context whose `RUN` step makes a unique layer.
fn context(dockerfile_body: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {}\n{dockerfile_body}", busybox()),
    )
    .unwrap();
    fs::write(dir.path().join("id.txt"), unique("tcp")).unwrap();
    dir
}

/// Builds, checks existence and asks the doctor through `daemon`; the image is the one the
/// daemon's own socket sees.
fn build_and_check(daemon: &TcpDaemon, builder: &str, dockerfile_body: &str) {
    let tag = format!("{}:v1", unique(&format!("kiln-tcp-{builder}")));
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);
    let dir = context(dockerfile_body);
    let args = [
        "build",
        dir.path().to_str().unwrap(),
        "--tag",
        &tag,
        "--builder",
        builder,
        "--json",
    ];
    let built = kiln_via(daemon, None, &args).output().unwrap();
    assert_eq!(built.status.code(), Some(0), "{}", stderr(&built));
    let report = json(&built);
    assert_eq!(report["outcome"], "built");
    assert_eq!(report["builder"], builder);
    assert_eq!(report["image_id"].as_str(), image_id(&tag).as_deref());
    // BuildKit pulls the context through kiln's own session, over the same connection kind.
    assert_eq!(
        report.get("context_sent").is_some(),
        builder == "buildkit",
        "{report}"
    );

    let exists = kiln_via(daemon, None, &["exists", &tag]).output().unwrap();
    assert_eq!(exists.status.code(), Some(0), "{}", stderr(&exists));

    let doctor = kiln_via(daemon, None, &["doctor", "--json"])
        .output()
        .unwrap();
    assert_eq!(doctor.status.code(), Some(0), "{}", stderr(&doctor));
    let doctor = json(&doctor);
    assert_eq!(doctor["daemon"]["reachable"], true);
    assert_eq!(
        doctor["daemon"]["endpoint"].as_str(),
        Some(daemon.host().as_str())
    );
}

#[test]
fn a_daemon_behind_mutual_tls_builds_with_both_builders() {
    let Some(daemon) =
        tcp_daemon_or_skip("a_daemon_behind_mutual_tls_builds_with_both_builders", true)
    else {
        return;
    };
    build_and_check(
        &daemon,
        "classic",
        "COPY id.txt /id.txt\nRUN cat /id.txt > /seen.txt\n",
    );
    build_and_check(
        &daemon,
        "buildkit",
        "COPY id.txt /id.txt\nRUN --mount=type=cache,target=/cache cat /id.txt > /seen.txt\n",
    );
}

#[test]
fn a_daemon_on_plain_tcp_builds() {
    let Some(daemon) = tcp_daemon_or_skip("a_daemon_on_plain_tcp_builds", false) else {
        return;
    };
    build_and_check(
        &daemon,
        "classic",
        "COPY id.txt /id.txt\nRUN cat /id.txt > /seen.txt\n",
    );
}

#[test]
fn certificates_the_daemon_does_not_trust_are_refused_quickly() {
    let Some(daemon) = tcp_daemon_or_skip(
        "certificates_the_daemon_does_not_trust_are_refused_quickly",
        true,
    ) else {
        return;
    };
    // Certificates of another CA: the server's certificate is not trusted by the client, nor
    // the client's by the server.
    let stranger = TcpDaemon::tls().unwrap();
    let started = Instant::now();
    let output = kiln_via(
        &daemon,
        stranger.cert_path(),
        &["exists", "kiln-tcp-no-such-image:v1", "--json"],
    )
    .output()
    .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(report["error"]["kind"], "unreachable", "{report}");
    let message = report["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(&daemon.host()), "{message}");
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
}

#[test]
fn a_push_through_a_tls_daemon_reports_layers_and_the_registrys_digest() {
    let test = "a_push_through_a_tls_daemon_reports_layers_and_the_registrys_digest";
    let Some(daemon) = tcp_daemon_or_skip(test, true) else {
        return;
    };
    let (user, password) = ("kiln", "tls?>pässword");
    let Some(registry) = registry_or_skip(test, &[(user, password)]) else {
        return;
    };
    let repo = unique("kiln-tls-push");
    let tag = registry.reference(&repo, "v1").familiar();
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);
    let dir = context("COPY id.txt /id.txt\nRUN cat /id.txt > /seen.txt\n");
    let built = kiln_via(
        &daemon,
        None,
        &["build", dir.path().to_str().unwrap(), "--tag", &tag],
    )
    .output()
    .unwrap();
    assert_eq!(built.status.code(), Some(0), "{}", stderr(&built));

    let pushed = kiln_via(&daemon, None, &["push", &tag, "--json"])
        .env("KILN_REGISTRY_USERNAME", user)
        .env("KILN_REGISTRY_PASSWORD", password)
        .output()
        .unwrap();
    assert_eq!(pushed.status.code(), Some(0), "{}", stderr(&pushed));
    assert_eq!(
        json(&pushed)["digest"].as_str(),
        registry
            .manifest_digest(&repo, "v1", user, password)
            .as_deref(),
        "the digest kiln reports is the registry's"
    );
    let progress = stderr(&pushed);
    let layer_ids: Vec<&str> = progress
        .lines()
        .filter_map(|line| line.strip_suffix(": Pushed"))
        .collect();
    assert!(layer_ids.len() >= 2, "a line per pushed layer: {progress}");
    for id in layer_ids {
        assert!(
            id.len() == 12 && id.chars().all(|c| c.is_ascii_hexdigit()),
            "each line names its layer: {progress}"
        );
    }
    assert!(!progress.contains(password));
}
