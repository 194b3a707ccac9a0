//! kiln against the daemon behind ssh (`DOCKER_HOST=ssh://…`, `KILN_SSH_CONFIG`), as remote
//! build hosts are reached: the CLI (doctor, both builders, exists, images, push, pull), the
//! engine and runtime suites through the ssh transport, hosts that cannot be reached or refuse,
//! and hosts kiln refuses before running anything.

use std::fs;
use std::ops::Deref;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use kiln_core::testing::runtime_conformance::{LABEL, RuntimeTarget};
use kiln_core::{
    BuildRequest, BuiltImage, EngineInfo, ImageDetails, ImageEngine, ImageFilter, ImageId,
    ImageRef, ImageSummary, PullOptions, Pulled, PushOptions, PushedImage, RemoveOptions, Result,
};
use kiln_docker::{DockerEngine, Endpoint, EndpointSource};
use kiln_tests::docker_cli::image_id;
use kiln_tests::images::busybox;
use kiln_tests::output::{json, stderr, stdout};
use kiln_tests::registry::registry_or_skip;
use kiln_tests::ssh_daemon::{
    SshDaemon, shared_ssh_daemon_or_skip, ssh_client_or_skip, ssh_daemon_or_skip,
};
use kiln_tests::{ImageCleanup, ResourceCleanup, images, kiln, unique};

/// `kiln ARGS` with `DOCKER_HOST=host` and the ssh client configuration `config`.
fn kiln_over(host: &str, config: &Path, args: &[&str]) -> Command {
    let mut command = kiln(args);
    command
        .env("DOCKER_HOST", host)
        .env("KILN_SSH_CONFIG", config)
        .env_remove("DOCKER_CONTEXT");
    command
}

/// `kiln ARGS` through `daemon` with its own client configuration.
fn kiln_via(daemon: &SshDaemon, args: &[&str]) -> Command {
    kiln_over(&daemon.host(), &daemon.client_config(), args)
}

/// A context whose steps make a unique layer.
fn context(dockerfile_body: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {}\n{dockerfile_body}", busybox()),
    )
    .unwrap();
    fs::write(dir.path().join("id.txt"), unique("ssh")).unwrap();
    dir
}

/// Builds with `builder` through `daemon` and checks the result with `exists` and `images ls`;
/// the image is the one the daemon's own socket sees.
fn build_and_check(daemon: &SshDaemon, builder: &str, dockerfile_body: &str) {
    let tag = format!("{}:v1", unique(&format!("kiln-ssh-{builder}")));
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
    let built = kiln_via(daemon, &args).output().unwrap();
    assert_eq!(built.status.code(), Some(0), "{}", stderr(&built));
    let report = json(&built);
    assert_eq!(report["outcome"], "built");
    assert_eq!(report["builder"], builder);
    assert_eq!(report["image_id"].as_str(), image_id(&tag).as_deref());

    let exists = kiln_via(daemon, &["exists", &tag]).output().unwrap();
    assert_eq!(exists.status.code(), Some(0), "{}", stderr(&exists));
    let absent = kiln_via(daemon, &["exists", &format!("{tag}-absent")])
        .output()
        .unwrap();
    assert_eq!(absent.status.code(), Some(1), "{}", stderr(&absent));

    let repository = tag.split(':').next().unwrap();
    let listed = kiln_via(daemon, &["images", "ls", repository, "--json"])
        .output()
        .unwrap();
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    assert!(stdout(&listed).contains(&tag), "{}", stdout(&listed));
}

#[test]
fn a_daemon_over_ssh_builds_with_both_builders_and_kiln_leaves_no_connection_open() {
    let test = "a_daemon_over_ssh_builds_with_both_builders_and_kiln_leaves_no_connection_open";
    let Some(daemon) = ssh_daemon_or_skip(test) else {
        return;
    };
    let doctor = kiln_via(&daemon, &["doctor", "--json"]).output().unwrap();
    assert_eq!(doctor.status.code(), Some(0), "{}", stderr(&doctor));
    let doctor = json(&doctor);
    assert_eq!(doctor["daemon"]["reachable"], true, "{doctor}");
    assert_eq!(
        doctor["daemon"]["endpoint"].as_str(),
        Some(daemon.host().as_str())
    );
    assert_eq!(doctor["daemon"]["source"], "DOCKER_HOST");

    build_and_check(
        &daemon,
        "classic",
        "COPY id.txt /id.txt\nRUN cat /id.txt > /seen.txt\n",
    );
    // BuildKit's session (`POST /session`, upgraded to HTTP/2) runs over a channel of its own.
    build_and_check(
        &daemon,
        "buildkit",
        "COPY id.txt /id.txt\nRUN --mount=type=cache,target=/cache cat /id.txt > /seen.txt\n",
    );

    // Every kiln process ended its ssh master: sshd has no connection left.
    assert!(
        daemon.wait_until_idle(Duration::from_secs(5)),
        "sshd connection processes outlived kiln:\n{}\nsshd log:\n{}",
        daemon.connection_report(),
        daemon.log_text()
    );
    let accepted = daemon.log_text().matches("Accepted publickey").count();
    assert!(
        accepted >= 9,
        "one ssh login per kiln process: {accepted}\n{}",
        daemon.log_text()
    );
}

#[test]
fn a_push_over_ssh_reports_layers_and_the_registrys_digest_and_pulls_back() {
    let test = "a_push_over_ssh_reports_layers_and_the_registrys_digest_and_pulls_back";
    let Some(daemon) = shared_ssh_daemon_or_skip(test) else {
        return;
    };
    let (user, password) = ("kiln", "ssh?>pässword");
    let Some(registry) = registry_or_skip(test, &[(user, password)]) else {
        return;
    };
    let repo = unique("kiln-ssh-push");
    let tag = registry.reference(&repo, "v1").familiar();
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);
    let dir = context("COPY id.txt /id.txt\nRUN cat /id.txt > /seen.txt\n");
    let built = kiln_via(
        &daemon,
        &["build", dir.path().to_str().unwrap(), "--tag", &tag],
    )
    .output()
    .unwrap();
    assert_eq!(built.status.code(), Some(0), "{}", stderr(&built));
    let built_id = image_id(&tag).expect("the built image");

    let with_credentials = |args: &[&str]| {
        let mut command = kiln_via(&daemon, args);
        command
            .env("KILN_REGISTRY_USERNAME", user)
            .env("KILN_REGISTRY_PASSWORD", password);
        command.output().unwrap()
    };
    let pushed = with_credentials(&["push", &tag, "--json"]);
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
    assert!(!progress.contains(password));

    kiln_tests::docker_cli::remove_image(&tag);
    assert_eq!(image_id(&tag), None);
    let pulled = with_credentials(&["pull", &tag, "--json"]);
    assert_eq!(pulled.status.code(), Some(0), "{}", stderr(&pulled));
    assert_eq!(json(&pulled)["image_id"].as_str(), Some(built_id.as_str()));
    assert_eq!(image_id(&tag).as_deref(), Some(built_id.as_str()));
}

#[test]
fn an_unreachable_ssh_host_is_exit_3_within_two_seconds_naming_it() {
    if !ssh_client_or_skip("an_unreachable_ssh_host_is_exit_3_within_two_seconds_naming_it") {
        return;
    }
    // A port nobody listens on: ssh is refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let host = format!("ssh://root@127.0.0.1:{port}");
    let config = tempfile::NamedTempFile::new().unwrap();
    fs::write(config.path(), "Host *\n  LogLevel ERROR\n").unwrap();
    // No base image: this test needs neither the daemon nor sshd, only the ssh client.
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY id.txt /id.txt\n",
    )
    .unwrap();
    fs::write(dir.path().join("id.txt"), unique("ssh")).unwrap();
    for args in [
        vec!["exists", "kiln-ssh-nowhere:v1", "--json"],
        vec!["doctor", "--json"],
        vec!["build", dir.path().to_str().unwrap(), "--json"],
    ] {
        let started = Instant::now();
        let output = kiln_over(&host, config.path(), &args).output().unwrap();
        let elapsed = started.elapsed();
        assert_eq!(
            output.status.code(),
            Some(3),
            "{args:?}: {}",
            stderr(&output)
        );
        let report = json(&output);
        let message = if args[0] == "doctor" {
            assert_eq!(report["daemon"]["reachable"], false, "{report}");
            report["daemon"]["error"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        } else {
            assert_eq!(report["error"]["kind"], "unreachable", "{report}");
            report["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        };
        assert!(message.contains(&host), "{args:?}: {report}");
        assert!(message.contains("Connection refused"), "{args:?}: {report}");
        assert!(
            elapsed < Duration::from_secs(2),
            "{args:?} took {elapsed:?}"
        );
    }
}

#[test]
fn refusals_of_the_ssh_host_are_unreachable_with_their_remedy() {
    let test = "refusals_of_the_ssh_host_are_unreachable_with_their_remedy";
    let Some(daemon) = shared_ssh_daemon_or_skip(test) else {
        return;
    };
    let stranger = daemon.client_config_without_host_key().unwrap();
    let missing_socket = format!(
        "ssh://root@127.0.0.1:{}/run/kiln-no-such.sock",
        daemon.port()
    );
    for (host, config, said, remedy) in [
        (
            daemon.host(),
            stranger.as_path(),
            "Host key verification failed",
            "known_hosts",
        ),
        (
            daemon.host_as("nobody"),
            daemon.client_config().as_path(),
            "Permission denied",
            "ssh-agent",
        ),
        (
            missing_socket.clone(),
            daemon.client_config().as_path(),
            "/run/kiln-no-such.sock",
            "ended before the daemon answered",
        ),
    ] {
        let output = kiln_over(&host, config, &["exists", "kiln-ssh-refused:v1", "--json"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(3), "{host}: {}", stderr(&output));
        let report = json(&output);
        assert_eq!(report["error"]["kind"], "unreachable", "{report}");
        let message = report["error"]["message"].as_str().unwrap_or_default();
        for needle in [host.as_str(), said, remedy] {
            assert!(message.contains(needle), "{needle:?} missing: {message}");
        }
    }
}

#[test]
fn malformed_ssh_hosts_are_invalid_input_and_a_password_is_never_shown() {
    let config = tempfile::NamedTempFile::new().unwrap();
    for (host, shown) in [
        ("ssh://root@127.0.0.1:99999", "ssh://root@127.0.0.1:99999"),
        ("ssh://-oProxyCommand=touch", "ssh://-oProxyCommand=touch"),
        ("ssh://root:hunter2@127.0.0.1", "ssh://root:***@127.0.0.1"),
    ] {
        for args in [vec!["exists", "x:v1", "--json"], vec!["doctor"]] {
            let output = kiln_over(host, config.path(), &args).output().unwrap();
            assert_eq!(
                output.status.code(),
                Some(2),
                "{host} {args:?}: {}",
                stderr(&output)
            );
            let text = format!("{}{}", stdout(&output), stderr(&output));
            assert!(text.contains(shown), "{host} {args:?}: {text}");
            assert!(!text.contains("hunter2"), "{text}");
        }
    }
    let missing = kiln_over(
        "ssh://root@127.0.0.1",
        Path::new("/no/such/kiln-ssh-config"),
        &["exists", "x:v1", "--json"],
    )
    .output()
    .unwrap();
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));
    let report = json(&missing);
    let message = report["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("KILN_SSH_CONFIG"), "{report}");
    assert!(message.contains("/no/such/kiln-ssh-config"), "{report}");
}

/// An engine over ssh, in this process: the endpoint names the client configuration, so
/// nothing in the environment changes.
fn engine_over(daemon: &SshDaemon) -> DockerEngine {
    let mut endpoint = Endpoint::new(daemon.host(), EndpointSource::DockerHost);
    endpoint.ssh_config = Some(daemon.client_config());
    DockerEngine::new(endpoint)
}

#[tokio::test]
async fn an_engine_over_ssh_starts_its_master_again_when_the_connection_ended() {
    let test = "an_engine_over_ssh_starts_its_master_again_when_the_connection_ended";
    let Some(daemon) = ssh_daemon_or_skip(test) else {
        return;
    };
    let engine = engine_over(&daemon);
    assert!(engine.info().await.unwrap().buildkit);
    let busybox = ImageRef::parse(busybox()).unwrap();
    assert!(engine.inspect(&busybox).await.unwrap().is_some());
    assert!(daemon.connection_processes() > 0, "a connection is open");

    // The server ends the connection (a restart, a network failure): the master and its
    // pooled channel die with it, sshd itself stays.
    daemon.end_connections();
    assert!(daemon.wait_until_idle(Duration::from_secs(5)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let details = engine.inspect(&busybox).await.unwrap();
    assert!(details.is_some(), "answered through a new master");
    let logins = daemon.log_text().matches("Accepted publickey").count();
    assert_eq!(logins, 2, "{}", daemon.log_text());

    drop(engine);
    assert!(
        daemon.wait_until_idle(Duration::from_secs(5)),
        "dropping the engine ends its master"
    );
}

/// The engine suite over ssh: the engine, and the sshd it goes through kept as long.
#[derive(Debug)]
struct OverSsh {
    engine: DockerEngine,
    _daemon: Arc<SshDaemon>,
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl ImageEngine for OverSsh {
    async fn info(&self) -> Result<EngineInfo> {
        self.engine.info().await
    }

    async fn build(&self, request: BuildRequest) -> Result<BuiltImage> {
        self.engine.build(request).await
    }

    async fn inspect(&self, image: &ImageRef) -> Result<Option<ImageDetails>> {
        self.engine.inspect(image).await
    }

    async fn inspect_id(&self, image_id: &ImageId) -> Result<Option<ImageDetails>> {
        self.engine.inspect_id(image_id).await
    }

    async fn tag(&self, source: &ImageId, target: &ImageRef) -> Result<()> {
        self.engine.tag(source, target).await
    }

    async fn remove(&self, image: &ImageRef, options: RemoveOptions) -> Result<()> {
        self.engine.remove(image, options).await
    }

    async fn remove_id(&self, image_id: &ImageId, options: RemoveOptions) -> Result<()> {
        self.engine.remove_id(image_id, options).await
    }

    async fn list_images(&self, filter: ImageFilter) -> Result<Vec<ImageSummary>> {
        self.engine.list_images(filter).await
    }

    async fn push(&self, image: &ImageRef, options: PushOptions) -> Result<PushedImage> {
        self.engine.push(image, options).await
    }

    async fn pull(&self, image: &ImageRef, options: PullOptions) -> Result<Pulled> {
        self.engine.pull(image, options).await
    }
}

fn over_ssh(test: &str) -> Option<OverSsh> {
    let daemon = shared_ssh_daemon_or_skip(test)?;
    Some(OverSsh {
        engine: engine_over(&daemon),
        _daemon: daemon,
    })
}

mod engine_over_ssh {
    use super::*;

    kiln_core::engine_conformance_tests!(over_ssh("engine_over_ssh"), unique("ssh-conf"));
}

/// The runtime suite over ssh: the target, the guard that cleans up after it, and the sshd.
struct RuntimeOverSsh {
    target: RuntimeTarget,
    _cleanup: ResourceCleanup,
    _daemon: Arc<SshDaemon>,
}

impl Deref for RuntimeOverSsh {
    type Target = RuntimeTarget;

    fn deref(&self) -> &RuntimeTarget {
        &self.target
    }
}

fn runtime_over_ssh(test: &str) -> Option<RuntimeOverSsh> {
    let daemon = shared_ssh_daemon_or_skip(test)?;
    let unique = unique("ssh-rt");
    let cleanup = ResourceCleanup::new(format!("{LABEL}={unique}"));
    Some(RuntimeOverSsh {
        target: RuntimeTarget::new(Arc::new(engine_over(&daemon)), images::busybox(), unique),
        _cleanup: cleanup,
        _daemon: daemon,
    })
}

mod runtime_over_ssh {
    use super::*;

    kiln_core::runtime_conformance_tests!(runtime_over_ssh("runtime_over_ssh"));
}
