//! Registries, for real: push with layer progress and the registry's digest, existence without
//! pulling, refused credentials, a stopped registry, the SeBS flow by fingerprint, and a
//! registry shared as a build cache — against `docker-registry` with htpasswd auth.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kiln_tests::docker_cli::{image_id, remove_image};
use kiln_tests::images::busybox;
use kiln_tests::output::{json, stderr, stdout};
use kiln_tests::registry::{RegistryServer, registry_or_skip};
use kiln_tests::{ImageCleanup, kiln, live_docker, unique};

const USER: &str = "kiln";
const PASSWORD: &str = "pa??w>rd~ü x";

/// Both a daemon and a registry, or a printed reason to skip.
fn setup(test: &str, users: &[(&str, &str)]) -> Option<RegistryServer> {
    live_docker(test)?;
    registry_or_skip(test, users)
}

/// `kiln ARGS` with credentials for the test registry.
fn kiln_as(user: &str, password: &str, args: &[&str]) -> Command {
    let mut command = kiln(args);
    command
        .env("KILN_REGISTRY_USERNAME", user)
        .env("KILN_REGISTRY_PASSWORD", password);
    command
}

/// A context for a multi-layer image (base + three layers) with unique contents.
fn multi_layer_context() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("Dockerfile"),
        format!(
            "FROM {}\nCOPY a.txt /a.txt\nRUN echo layer > /layer.txt\nCOPY b.txt /b.txt\n",
            busybox()
        ),
    )
    .unwrap();
    fs::write(dir.path().join("a.txt"), unique("a")).unwrap();
    fs::write(dir.path().join("b.txt"), unique("b")).unwrap();
    dir
}

fn build(dir: &Path, tag: &str) {
    let output = kiln(&["build", dir.to_str().unwrap(), "--tag", tag, "-q"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
}

/// `kiln build ARGS --json` as [`USER`] with its own cache directory `cache`, as a machine
/// that shares only the registry would run it; it must succeed.
fn build_as_another_machine(cache: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["build"];
    all.extend_from_slice(args);
    all.push("--json");
    let output = kiln_as(USER, PASSWORD, &all)
        .env("KILN_CACHE_DIR", cache)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    json(&output)
}

#[test]
fn a_pushed_image_has_the_registrys_digest_and_layer_progress() {
    let Some(registry) = setup(
        "a_pushed_image_has_the_registrys_digest_and_layer_progress",
        &[(USER, PASSWORD)],
    ) else {
        return;
    };
    let repo = unique("kiln-push");
    let tag = registry.reference(&repo, "v1").familiar();
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);
    let dir = multi_layer_context();
    build(dir.path(), &tag);

    // Credentials from the Docker CLI's configuration (`auths`).
    let config = tempfile::tempdir().unwrap();
    let auth = STANDARD.encode(format!("{USER}:{PASSWORD}"));
    fs::write(
        config.path().join("config.json"),
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#,
            registry.host()
        ),
    )
    .unwrap();
    let output = kiln(&["push", &tag, "--json"])
        .env("DOCKER_CONFIG", config.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let pushed = json(&output);
    let digest = pushed["digest"].as_str().unwrap();
    assert_eq!(pushed["ref"], tag.as_str());
    assert!(pushed["size"].as_u64().unwrap() > 0);
    assert_eq!(
        registry
            .manifest_digest(&repo, "v1", USER, PASSWORD)
            .as_deref(),
        Some(digest),
        "the digest kiln reports is the registry's"
    );
    let progress = stderr(&output);
    let pushed_layers = progress
        .lines()
        .filter(|line| line.ends_with(": Pushed"))
        .count();
    assert!(pushed_layers >= 3, "a line per pushed layer: {progress}");
    assert!(!progress.contains(PASSWORD));

    let again = kiln(&["push", &tag])
        .env("DOCKER_CONFIG", config.path())
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("Layer already exists"),
        "{}",
        stderr(&again)
    );
    assert_eq!(
        stdout(&again).trim(),
        format!(
            "{}@{digest}",
            registry.reference(&repo, "v1").familiar_repository()
        )
    );
}

#[test]
fn awkward_passwords_reach_the_daemon_intact() {
    let users = [
        ("question", "pa??word??"),
        ("angles", "<<>>~~>>"),
        ("unicode", "pässwörd-ü-✓"),
        ("mixed", "a?b>c~d e+f/g="),
    ];
    let Some(registry) = setup("awkward_passwords_reach_the_daemon_intact", &users) else {
        return;
    };
    let mut cleanup = ImageCleanup::new();
    let dir = multi_layer_context();
    for (user, password) in users {
        let tag = registry
            .reference(&unique(&format!("kiln-{user}")), "v1")
            .familiar();
        cleanup.add(&tag);
        build(dir.path(), &tag);
        let output = kiln_as(user, password, &["push", &tag, "--json"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{user}: {}", stderr(&output));
        let remote = kiln_as(user, password, &["exists", &tag, "--remote"])
            .output()
            .unwrap();
        assert_eq!(remote.status.code(), Some(0), "{user}: {}", stderr(&remote));
    }
}

#[test]
fn refused_credentials_exit_5_without_the_password() {
    let Some(registry) = setup(
        "refused_credentials_exit_5_without_the_password",
        &[(USER, PASSWORD)],
    ) else {
        return;
    };
    let tag = registry.reference(&unique("kiln-refused"), "v1").familiar();
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);
    build(multi_layer_context().path(), &tag);
    let wrong = "wrong-s3cret?>";
    for args in [
        vec!["push", &tag],
        vec!["push", &tag, "--json"],
        vec!["exists", &tag, "--remote", "--json"],
    ] {
        let output = kiln_as(USER, wrong, &args).output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(5),
            "{args:?}: {}",
            stderr(&output)
        );
        let everything = format!("{}{}", stdout(&output), stderr(&output));
        assert!(
            !everything.contains(wrong),
            "{args:?} leaked the password: {everything}"
        );
        assert!(!everything.contains(PASSWORD));
    }
    let anonymous = kiln(&["exists", &tag, "--remote"]).output().unwrap();
    assert_eq!(anonymous.status.code(), Some(5), "{}", stderr(&anonymous));
}

#[test]
fn remote_existence_and_a_stopped_registry() {
    let Some(mut registry) = setup(
        "remote_existence_and_a_stopped_registry",
        &[(USER, PASSWORD)],
    ) else {
        return;
    };
    let repo = unique("kiln-exists");
    let tag = registry.reference(&repo, "v1").familiar();
    let absent = registry.reference(&repo, "never").familiar();
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);
    build(multi_layer_context().path(), &tag);
    assert!(
        kiln_as(USER, PASSWORD, &["push", &tag])
            .output()
            .unwrap()
            .status
            .success()
    );

    let present = kiln_as(USER, PASSWORD, &["exists", &tag, "--remote", "--json"])
        .output()
        .unwrap();
    assert_eq!(present.status.code(), Some(0), "{}", stderr(&present));
    assert_eq!(
        json(&present)["digest"].as_str(),
        registry
            .manifest_digest(&repo, "v1", USER, PASSWORD)
            .as_deref()
    );
    let missing = kiln_as(USER, PASSWORD, &["exists", &absent, "--remote"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1), "{}", stderr(&missing));

    registry.stop();
    let down = kiln_as(USER, PASSWORD, &["exists", &tag, "--remote", "--json"])
        .output()
        .unwrap();
    assert_eq!(down.status.code(), Some(3), "{}", stderr(&down));
    assert_eq!(json(&down)["error"]["kind"], "unreachable");
    let push = kiln_as(USER, PASSWORD, &["push", &tag]).output().unwrap();
    assert_eq!(push.status.code(), Some(3), "{}", stderr(&push));
}

#[test]
fn the_registry_is_asked_before_building_by_fingerprint() {
    let Some(registry) = setup(
        "the_registry_is_asked_before_building_by_fingerprint",
        &[(USER, PASSWORD)],
    ) else {
        return;
    };
    let tag = registry
        .reference(&unique("kiln-sebs"), "function")
        .familiar();
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);
    let dir = multi_layer_context();
    let context = dir.path().to_str().unwrap();
    let build_push =
        |cache: &Path| build_as_another_machine(cache, &[context, "--tag", &tag, "--push"]);
    let first = build_push(tempfile::tempdir().unwrap().path());
    assert_eq!(first["outcome"], "built");
    assert_eq!(first["pushed"]["ref"], tag.as_str());

    // Another machine: no local image, no records. The registry holds the same inputs' image.
    remove_image(&tag);
    let second = build_push(tempfile::tempdir().unwrap().path());
    assert_eq!(second["outcome"], "remote", "{second}");
    assert!(image_id(&tag).is_none(), "nothing was built or pulled");

    // Other inputs under the same tag: build and push again.
    fs::write(dir.path().join("b.txt"), unique("changed")).unwrap();
    let third = build_push(tempfile::tempdir().unwrap().path());
    assert_eq!(third["outcome"], "built");
    assert_ne!(third["pushed"]["digest"], first["pushed"]["digest"]);
}

#[test]
fn a_second_machine_pulls_from_the_cache_repository() {
    let Some(registry) = setup(
        "a_second_machine_pulls_from_the_cache_repository",
        &[(USER, PASSWORD)],
    ) else {
        return;
    };
    let cache_repo = registry
        .reference(&unique("kiln-cache"), "latest")
        .familiar_repository();
    let tag = format!("{}:latest", unique("kiln-shared"));
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);
    let dir = multi_layer_context();
    let context = dir.path().to_str().unwrap();
    let build_shared = |cache: &Path| {
        build_as_another_machine(
            cache,
            &[context, "--tag", &tag, "--cache-repo", &cache_repo],
        )
    };
    let first = build_shared(tempfile::tempdir().unwrap().path());
    assert_eq!(first["outcome"], "built");
    let fingerprint = first["fingerprint"].as_str().unwrap().to_owned();
    let cached = format!("{cache_repo}:kiln-{fingerprint}");
    cleanup.add(&cached);
    assert!(
        kiln_as(USER, PASSWORD, &["exists", &cached, "--remote"])
            .output()
            .unwrap()
            .status
            .success(),
        "the build was shared as {cached}"
    );

    // The second machine: clean cache directory, no local image.
    remove_image(&tag);
    remove_image(&cached);
    let second = build_shared(tempfile::tempdir().unwrap().path());
    assert_eq!(second["outcome"], "pulled", "{second}");
    assert_eq!(second["fingerprint"], fingerprint.as_str());
    assert_eq!(image_id(&tag).as_deref(), second["image_id"].as_str());

    // pull on its own, too.
    remove_image(&cached);
    let pulled = kiln_as(USER, PASSWORD, &["pull", &cached, "--json"])
        .output()
        .unwrap();
    assert!(pulled.status.success(), "{}", stderr(&pulled));
    assert_eq!(
        image_id(&cached).as_deref(),
        json(&pulled)["image_id"].as_str()
    );
}

/// Writes a `docker-credential-NAME` program into `dir` that answers `get` with `user` and
/// `secret`, as the Docker CLI's credential helpers do.
fn credential_helper(dir: &Path, name: &str, user: &str, secret: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(format!("docker-credential-{name}"));
    fs::write(
        &path,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread -r server\n\
             printf '{{\"ServerURL\":\"%s\",\"Username\":\"{user}\",\"Secret\":\"{secret}\"}}' \"$server\"\n"
        ),
    )
    .unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// `kiln ARGS` reading credentials from the Docker configuration `config` (a `config.json`
/// written into a fresh directory) with the helpers in `helpers` on its `PATH`.
fn kiln_with_docker_config(config: &str, helpers: &Path, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("config.json"), config).unwrap();
    kiln(args)
        .env("DOCKER_CONFIG", dir.path())
        .env(
            "PATH",
            format!("{}:/usr/local/bin:/usr/bin:/bin", helpers.display()),
        )
        .output()
        .unwrap()
}

#[test]
fn credentials_from_the_docker_configuration_and_its_helpers() {
    let Some(registry) = setup(
        "credentials_from_the_docker_configuration_and_its_helpers",
        &[(USER, PASSWORD)],
    ) else {
        return;
    };
    let host = registry.host();
    let repo = unique("kiln-helpers");
    let tag = registry.reference(&repo, "v1").familiar();
    // The helpers are written before the build, so that no process forked meanwhile by another
    // test still holds one open for writing when kiln runs it (ETXTBSY).
    let helpers = tempfile::tempdir().unwrap();
    credential_helper(helpers.path(), "kiln-good", USER, PASSWORD);
    let wrong = "helper-s3cret?>";
    credential_helper(helpers.path(), "kiln-wrong", USER, wrong);
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);
    build(multi_layer_context().path(), &tag);

    // credHelpers: push through the daemon and ask the registry, both with the helper's answer.
    let cred_helpers = format!(r#"{{"credHelpers":{{"{host}":"kiln-good"}}}}"#);
    let push = kiln_with_docker_config(&cred_helpers, helpers.path(), &["push", &tag, "--json"]);
    assert!(push.status.success(), "{}", stderr(&push));
    let expected = registry.manifest_digest(&repo, "v1", USER, PASSWORD);
    assert_eq!(json(&push)["digest"].as_str(), expected.as_deref());
    let exists = kiln_with_docker_config(
        &cred_helpers,
        helpers.path(),
        &["exists", &tag, "--remote", "--json"],
    );
    assert_eq!(exists.status.code(), Some(0), "{}", stderr(&exists));
    assert_eq!(json(&exists)["digest"].as_str(), expected.as_deref());

    // auths: the password base64-encoded with the user name, as `docker login` stores it.
    let auth = STANDARD.encode(format!("{USER}:{PASSWORD}"));
    let auths = format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#);
    let exists = kiln_with_docker_config(&auths, helpers.path(), &["exists", &tag, "--remote"]);
    assert_eq!(exists.status.code(), Some(0), "{}", stderr(&exists));

    // credsStore answering a wrong password: refused, and the password is nowhere.
    let store = r#"{"credsStore":"kiln-wrong"}"#;
    for args in [
        vec!["exists", &tag, "--remote", "--json"],
        vec!["push", &tag],
    ] {
        let refused = kiln_with_docker_config(store, helpers.path(), &args);
        assert_eq!(
            refused.status.code(),
            Some(5),
            "{args:?}: {}",
            stderr(&refused)
        );
        let everything = format!("{}{}", stdout(&refused), stderr(&refused));
        assert!(!everything.contains(wrong), "{args:?} leaked: {everything}");
    }

    // A helper that is not installed: the local configuration is wrong (invalid input, not an
    // auth refusal), naming the helper.
    let missing = r#"{"credsStore":"kiln-not-installed"}"#;
    let output = kiln_with_docker_config(missing, helpers.path(), &["exists", &tag, "--remote"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("docker-credential-kiln-not-installed"),
        "{}",
        stderr(&output)
    );
}
