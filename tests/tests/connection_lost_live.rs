//! A connection to the daemon lost in the middle of a build — while the context is uploaded,
//! or while the daemon answers — is "daemon connection lost", exit 3, and the next build
//! through a working connection succeeds.

use std::fs;

use kiln_tests::fault_proxy::{
    Fault, FaultProxy, LabelledImages, labelled_after_cleanup, recorded,
};
use kiln_tests::images::busybox;
use kiln_tests::output::{json, stderr, stdout};
use kiln_tests::{ImageCleanup, kiln, live_docker, unique};

/// Builds a context through a proxy that cuts as `cut` says, expects exit 3 with "daemon
/// connection lost", then builds it directly and expects success.
fn lost_then_recovered(test: &str, fault: Fault) {
    if live_docker(test).is_none() {
        return;
    }
    let mark = unique("kiln-lost");
    let context = tempfile::tempdir().unwrap();
    fs::write(
        context.path().join("Dockerfile"),
        format!(
            "FROM {}\nLABEL kiln.test.lost={mark}\nCOPY big /big\nRUN for i in 1 2 3 4 5 6 7 8; do echo line $i; done\n",
            busybox()
        ),
    )
    .unwrap();
    // Incompressible enough that the upload is larger than the cut.
    let big: Vec<u8> = (0..4u32 * 1024 * 1024)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(context.path().join("big"), big).unwrap();
    let tag = format!("{mark}:1");
    let mut cleanup = ImageCleanup::new();
    let _intermediate = LabelledImages(format!("kiln.test.lost={mark}"));
    cleanup.add(&tag);
    let cache = tempfile::tempdir().unwrap();
    let context_arg = context.path().display().to_string();
    // The tar upload is the classic builder's: BuildKit pulls the context through the session.
    let args = [
        "build",
        &context_arg,
        "--tag",
        &tag,
        "--json",
        "--builder",
        "classic",
    ];

    let proxy = FaultProxy::to_daemon("/build?", fault);
    let lost = kiln(&args)
        .env("DOCKER_HOST", proxy.docker_host())
        .env("KILN_CACHE_DIR", cache.path())
        .output()
        .unwrap();
    assert_eq!(
        lost.status.code(),
        Some(3),
        "stdout: {}\nstderr: {}",
        stdout(&lost),
        stderr(&lost)
    );
    let failure = json(&lost);
    assert_eq!(failure["error"]["kind"], "unreachable", "{failure}");
    let message = failure["error"]["message"].as_str().unwrap();
    assert!(message.contains("daemon connection lost"), "{message}");
    assert_eq!(recorded(cache.path()), Vec::<std::path::PathBuf>::new());
    let label = format!("kiln.test.lost={mark}");
    assert_eq!(
        labelled_after_cleanup("ps", &label),
        Vec::<String>::new(),
        "no container"
    );

    let next = kiln(&args)
        .env("KILN_CACHE_DIR", cache.path())
        .output()
        .unwrap();
    assert_eq!(next.status.code(), Some(0), "{}", stderr(&next));
    assert_eq!(json(&next)["outcome"], "built");
}

#[test]
fn a_connection_lost_during_the_upload_is_exit_3() {
    lost_then_recovered(
        "a_connection_lost_during_the_upload_is_exit_3",
        Fault::DropRequestAfter(256 * 1024),
    );
}

#[test]
fn a_connection_lost_during_the_build_output_is_exit_3() {
    lost_then_recovered(
        "a_connection_lost_during_the_build_output_is_exit_3",
        Fault::DropAnswerAfter(300),
    );
}
