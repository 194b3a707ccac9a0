//! Faults between kiln and the daemon, and between the daemon and a registry, injected by the
//! fault proxy: each is a typed error with the contract's exit code, leaves no record of an
//! image that was not built and nothing half-made in the daemon, and the next run through a
//! working connection succeeds.

use std::fs;
use std::process::Output;

use kiln_tests::docker_cli::{docker, image_id, remove_image, run};
use kiln_tests::fault_proxy::{
    Fault, FaultProxy, LabelledImages, labelled_after_cleanup, recorded,
};
use kiln_tests::images::busybox;
use kiln_tests::output::{json, stderr, stdout};
use kiln_tests::registry::{RegistryServer, registry_or_skip};
use kiln_tests::{ImageCleanup, kiln, live_docker, unique};

/// The whole output, for assertion messages.
fn shown(output: &Output) -> String {
    format!("stdout: {}\nstderr: {}", stdout(output), stderr(output))
}

/// Asserts that `output` failed with `code`, error kind `kind` and a message containing
/// `message`, as one JSON document and without a panic.
fn assert_failed(output: &Output, code: i32, kind: &str, message: &str) {
    assert_eq!(output.status.code(), Some(code), "{}", shown(output));
    assert!(!stderr(output).contains("panicked"), "{}", shown(output));
    let failure = json(output);
    assert_eq!(failure["error"]["kind"], kind, "{failure}");
    let text = failure["error"]["message"].as_str().unwrap();
    assert!(text.contains(message), "{text}");
}

/// `kiln ARGS --json` through `proxy`.
fn through(proxy: &FaultProxy, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.push("--json");
    kiln(&all)
        .env("DOCKER_HOST", proxy.docker_host())
        .output()
        .unwrap()
}

/// A context whose image and build containers carry the label `kiln.test.fault=MARK`.
fn labelled_context(mark: &str) -> tempfile::TempDir {
    let context = tempfile::tempdir().unwrap();
    fs::write(
        context.path().join("Dockerfile"),
        format!(
            "FROM {}\nLABEL kiln.test.fault={mark}\nRUN echo {mark} > /mark\n",
            busybox()
        ),
    )
    .unwrap();
    context
}

/// A build through a proxy with `fault` on the build request fails with `code` and `kind`,
/// records nothing, leaves no labelled image or container, and the next build succeeds.
fn build_fault_then_recovered(test: &str, fault: Fault, code: i32, kind: &str, message: &str) {
    if live_docker(test).is_none() {
        return;
    }
    let mark = unique("kiln-fault");
    let context = labelled_context(&mark);
    let tag = format!("{mark}:1");
    let _intermediate = LabelledImages(format!("kiln.test.fault={mark}"));
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);
    let cache = tempfile::tempdir().unwrap();
    let context_arg = context.path().display().to_string();
    let args = ["build", &context_arg, "--tag", &tag, "--json"];

    let proxy = FaultProxy::to_daemon("/build?", fault);
    let failed = kiln(&args)
        .env("DOCKER_HOST", proxy.docker_host())
        .env("KILN_CACHE_DIR", cache.path())
        .output()
        .unwrap();
    assert!(proxy.was_hit(), "the build request passed the proxy");
    assert_failed(&failed, code, kind, message);
    assert_eq!(recorded(cache.path()), Vec::<std::path::PathBuf>::new());
    assert_eq!(image_id(&tag), None, "no image tagged");
    assert_eq!(
        labelled_after_cleanup("ps", &format!("kiln.test.fault={mark}")),
        Vec::<String>::new(),
        "no container"
    );

    let next = kiln(&args)
        .env("KILN_CACHE_DIR", cache.path())
        .output()
        .unwrap();
    assert_eq!(next.status.code(), Some(0), "{}", shown(&next));
    assert_eq!(json(&next)["outcome"], "built");
}

#[test]
fn a_500_from_the_daemon_to_a_build_is_a_failed_build_exit_4() {
    build_fault_then_recovered(
        "a_500_from_the_daemon_to_a_build_is_a_failed_build_exit_4",
        Fault::Status500,
        4,
        "build_failed",
        "injected internal server error",
    );
}

#[test]
fn a_slow_daemon_is_waited_for() {
    let test = "a_slow_daemon_is_waited_for";
    if live_docker(test).is_none() {
        return;
    }
    let mark = unique("kiln-fault");
    let context = labelled_context(&mark);
    let tag = format!("{mark}:1");
    let _intermediate = LabelledImages(format!("kiln.test.fault={mark}"));
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);
    let cache = tempfile::tempdir().unwrap();
    let proxy = FaultProxy::to_daemon("/build?", Fault::Delay(std::time::Duration::from_secs(2)));
    let built = kiln(&[
        "build",
        context.path().to_str().unwrap(),
        "--tag",
        &tag,
        "--json",
    ])
    .env("DOCKER_HOST", proxy.docker_host())
    .env("KILN_CACHE_DIR", cache.path())
    .output()
    .unwrap();
    assert!(proxy.was_hit());
    assert_eq!(built.status.code(), Some(0), "{}", shown(&built));
    assert_eq!(json(&built)["outcome"], "built");
}

/// A local image made for `exists`, `push` and `pull` tests, removed when dropped.
fn local_image(tag: &str) -> ImageCleanup {
    let mut cleanup = ImageCleanup::new();
    cleanup.add(tag);
    let output = run(docker(&["tag", busybox(), tag])).unwrap();
    assert!(output.status.success(), "docker tag {tag}");
    cleanup
}

#[test]
fn an_inspect_cut_short_is_connection_lost_exit_3() {
    let test = "an_inspect_cut_short_is_connection_lost_exit_3";
    if live_docker(test).is_none() {
        return;
    }
    let tag = format!("{}:1", unique("kiln-fault"));
    let _cleanup = local_image(&tag);
    let proxy = FaultProxy::to_daemon("/images/", Fault::DropAnswerAfter(20));
    let lost = through(&proxy, &["exists", &tag]);
    assert!(proxy.was_hit());
    assert_failed(&lost, 3, "unreachable", "daemon connection lost");

    let next = kiln(&["exists", &tag]).output().unwrap();
    assert_eq!(next.status.code(), Some(0), "{}", shown(&next));
}

#[test]
fn an_inspect_answered_with_500_is_a_typed_engine_error_exit_3() {
    let test = "an_inspect_answered_with_500_is_a_typed_engine_error_exit_3";
    if live_docker(test).is_none() {
        return;
    }
    let tag = format!("{}:1", unique("kiln-fault"));
    let _cleanup = local_image(&tag);
    let proxy = FaultProxy::to_daemon("/images/", Fault::Status500);
    let failed = through(&proxy, &["exists", &tag]);
    assert!(proxy.was_hit());
    assert_failed(
        &failed,
        3,
        "engine",
        "injected internal server error (HTTP 500)",
    );
}

#[test]
fn an_inspect_answer_with_truncated_json_is_a_typed_engine_error_exit_3() {
    let test = "an_inspect_answer_with_truncated_json_is_a_typed_engine_error_exit_3";
    if live_docker(test).is_none() {
        return;
    }
    let tag = format!("{}:1", unique("kiln-fault"));
    let _cleanup = local_image(&tag);
    let proxy = FaultProxy::to_daemon("/images/", Fault::TruncateBody);
    let failed = through(&proxy, &["exists", &tag]);
    assert!(proxy.was_hit());
    assert_failed(&failed, 3, "engine", "not the JSON expected");
}

/// Both a daemon and an open registry, or a printed reason to skip.
fn setup(test: &str) -> Option<RegistryServer> {
    live_docker(test)?;
    registry_or_skip(test, &[])
}

#[test]
fn a_push_cut_short_is_connection_lost_exit_3_and_the_next_push_succeeds() {
    let test = "a_push_cut_short_is_connection_lost_exit_3_and_the_next_push_succeeds";
    let Some(registry) = setup(test) else {
        return;
    };
    let tag = registry.reference(&unique("kiln-fault"), "v1").familiar();
    let _cleanup = local_image(&tag);
    let proxy = FaultProxy::to_daemon("/push", Fault::DropAnswerAfter(0));
    let lost = through(&proxy, &["push", &tag]);
    assert!(proxy.was_hit());
    assert_failed(&lost, 3, "unreachable", "daemon connection lost");

    let pushed = kiln(&["push", &tag, "--json"]).output().unwrap();
    assert_eq!(pushed.status.code(), Some(0), "{}", shown(&pushed));
}

#[test]
fn a_pull_cut_short_is_connection_lost_exit_3_and_the_next_pull_succeeds() {
    let test = "a_pull_cut_short_is_connection_lost_exit_3_and_the_next_pull_succeeds";
    let Some(registry) = setup(test) else {
        return;
    };
    let tag = registry.reference(&unique("kiln-fault"), "v1").familiar();
    let _cleanup = local_image(&tag);
    let pushed = kiln(&["push", &tag]).output().unwrap();
    assert_eq!(pushed.status.code(), Some(0), "{}", shown(&pushed));
    remove_image(&tag);

    let proxy = FaultProxy::to_daemon("/images/create", Fault::DropAnswerAfter(0));
    let lost = through(&proxy, &["pull", &tag]);
    assert!(proxy.was_hit());
    assert_failed(&lost, 3, "unreachable", "daemon connection lost");

    let pulled = kiln(&["pull", &tag, "--json"]).output().unwrap();
    assert_eq!(pulled.status.code(), Some(0), "{}", shown(&pulled));
    assert_eq!(
        image_id(&tag).as_deref(),
        json(&pulled)["image_id"].as_str()
    );
}

#[test]
fn a_registry_that_answers_500_to_the_manifest_fails_the_push_with_a_typed_error() {
    let test = "a_registry_that_answers_500_to_the_manifest_fails_the_push_with_a_typed_error";
    let Some(registry) = setup(test) else {
        return;
    };
    let address = format!("127.0.0.1:{}", registry.port()).parse().unwrap();
    let proxy = FaultProxy::to_tcp(address, "/manifests/", Fault::Status500);
    let repo = unique("kiln-fault");
    let tag = format!("{}/{repo}:v1", proxy.host());
    let _cleanup = local_image(&tag);
    let failed = kiln(&["push", &tag, "--json"]).output().unwrap();
    assert!(proxy.was_hit());
    assert_failed(&failed, 4, "engine", "received unexpected HTTP status: 500");

    let direct = registry.reference(&repo, "v1").familiar();
    let _direct = local_image(&direct);
    let pushed = kiln(&["push", &direct]).output().unwrap();
    assert_eq!(pushed.status.code(), Some(0), "{}", shown(&pushed));
}

#[test]
fn a_registry_connection_cut_during_a_pull_fails_with_a_typed_error_and_the_next_pull_succeeds() {
    let test = "a_registry_connection_cut_during_a_pull_fails_with_a_typed_error_and_the_next_pull_succeeds";
    let Some(registry) = setup(test) else {
        return;
    };
    let address = format!("127.0.0.1:{}", registry.port()).parse().unwrap();
    let repo = unique("kiln-fault");
    let pushed_through = {
        let passing = FaultProxy::to_tcp(address, "no request matches this", Fault::Status500);
        let tag = format!("{}/{repo}:v1", passing.host());
        let _cleanup = local_image(&tag);
        let pushed = kiln(&["push", &tag]).output().unwrap();
        assert_eq!(pushed.status.code(), Some(0), "{}", shown(&pushed));
        assert!(!passing.was_hit());
        registry.reference(&repo, "v1").familiar()
    };
    let cutting = FaultProxy::to_tcp(address, "/manifests/", Fault::DropAnswerAfter(0));
    let tag = format!("{}/{repo}:v1", cutting.host());
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);
    let failed = kiln(&["pull", &tag, "--json"]).output().unwrap();
    assert!(cutting.was_hit());
    assert_failed(
        &failed,
        3,
        "unreachable",
        "registry connection lost during pull",
    );
    assert_eq!(image_id(&tag), None, "nothing pulled");

    cleanup.add(&pushed_through);
    let pulled = kiln(&["pull", &pushed_through, "--json"]).output().unwrap();
    assert_eq!(pulled.status.code(), Some(0), "{}", shown(&pulled));
}

#[test]
fn a_registry_connection_cut_during_a_push_is_connection_lost_exit_3() {
    let test = "a_registry_connection_cut_during_a_push_is_connection_lost_exit_3";
    let Some(registry) = setup(test) else {
        return;
    };
    let address = format!("127.0.0.1:{}", registry.port()).parse().unwrap();
    let cutting = FaultProxy::to_tcp(address, "/manifests/v1", Fault::DropAnswerAfter(0));
    let repo = unique("kiln-fault");
    let tag = format!("{}/{repo}:v1", cutting.host());
    let _cleanup = local_image(&tag);
    let failed = kiln(&["push", &tag, "--json"]).output().unwrap();
    assert!(cutting.was_hit());
    assert_failed(
        &failed,
        3,
        "unreachable",
        "registry connection lost during push",
    );

    let direct = registry.reference(&repo, "v1").familiar();
    let _direct = local_image(&direct);
    let pushed = kiln(&["push", &direct]).output().unwrap();
    assert_eq!(pushed.status.code(), Some(0), "{}", shown(&pushed));
}
