//! A connection to the daemon lost in the middle of a build — while the context is uploaded,
//! or while the daemon answers — is "daemon connection lost", exit 3, and the next build
//! through a working connection succeeds.

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use kiln_core::{Env, ProcessEnv};
use kiln_tests::images::busybox;
use kiln_tests::output::{json, stderr, stdout};
use kiln_tests::{ImageCleanup, kiln, live_docker, unique};

/// Where the proxy cuts a connection that carries a build request.
#[derive(Debug, Clone, Copy)]
enum Cut {
    /// After this many bytes of the request (its headers and the context upload).
    Request(usize),
    /// After this many bytes of the daemon's answer to it.
    Answer(usize),
}

/// The daemon's socket: `DOCKER_HOST` when it is a unix socket, else the default.
fn daemon_socket() -> PathBuf {
    ProcessEnv
        .var("DOCKER_HOST")
        .and_then(|host| host.strip_prefix("unix://").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/var/run/docker.sock"))
}

/// A proxy on a loopback port to the daemon's socket that passes everything through, except
/// that a connection carrying a `/build` request is cut as `cut` says. Returns its host.
fn cutting_proxy(cut: Cut) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = format!("tcp://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(daemon) = UnixStream::connect(daemon_socket()) else {
                continue;
            };
            let building = Arc::new(AtomicBool::new(false));
            let (client_in, daemon_out) =
                (client.try_clone().unwrap(), daemon.try_clone().unwrap());
            let seen = Arc::clone(&building);
            std::thread::spawn(move || upstream(client_in, daemon_out, &seen, cut));
            std::thread::spawn(move || downstream(daemon, client, &building, cut));
        }
    });
    host
}

/// Client to daemon: marks the connection once a build request passes, and cuts it `Request`
/// bytes after.
fn upstream(mut client: TcpStream, mut daemon: UnixStream, building: &AtomicBool, cut: Cut) {
    let mut buffer = vec![0u8; 16 * 1024];
    let mut since_build = 0usize;
    loop {
        let read = match client.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        let chunk = &buffer[..read];
        if !building.load(Ordering::SeqCst) && contains(chunk, b"/build?") {
            building.store(true, Ordering::SeqCst);
        }
        if building.load(Ordering::SeqCst)
            && let Cut::Request(limit) = cut
        {
            since_build += read;
            if since_build > limit {
                let _ = daemon.write_all(&chunk[..read - (since_build - limit)]);
                let _ = client.shutdown(Shutdown::Both);
                let _ = daemon.shutdown(Shutdown::Both);
                return;
            }
        }
        if daemon.write_all(chunk).is_err() {
            break;
        }
    }
    let _ = daemon.shutdown(Shutdown::Write);
}

/// Daemon to client: cuts the answer to a build request after `Answer` bytes.
fn downstream(mut daemon: UnixStream, mut client: TcpStream, building: &AtomicBool, cut: Cut) {
    let mut buffer = vec![0u8; 16 * 1024];
    let mut answered = 0usize;
    loop {
        let read = match daemon.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        if building.load(Ordering::SeqCst)
            && let Cut::Answer(limit) = cut
        {
            answered += read;
            if answered > limit {
                let _ = client.write_all(&buffer[..read - (answered - limit)]);
                let _ = client.shutdown(Shutdown::Both);
                let _ = daemon.shutdown(Shutdown::Both);
                return;
            }
        }
        if client.write_all(&buffer[..read]).is_err() {
            break;
        }
    }
    let _ = client.shutdown(Shutdown::Write);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Builds a context through a proxy that cuts as `cut` says, expects exit 3 with "daemon
/// connection lost", then builds it directly and expects success.
fn lost_then_recovered(test: &str, cut: Cut) {
    if live_docker(test).is_none() {
        return;
    }
    let context = tempfile::tempdir().unwrap();
    fs::write(
        context.path().join("Dockerfile"),
        format!(
            "FROM {}\nCOPY big /big\nRUN for i in 1 2 3 4 5 6 7 8; do echo line $i; done\n",
            busybox()
        ),
    )
    .unwrap();
    // Incompressible enough that the upload is larger than the cut.
    let big: Vec<u8> = (0..4u32 * 1024 * 1024)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(context.path().join("big"), big).unwrap();
    let tag = format!("{}:1", unique("kiln-lost"));
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);
    let cache = tempfile::tempdir().unwrap();
    let context_arg = context.path().display().to_string();
    let args = ["build", &context_arg, "--tag", &tag, "--json"];

    let lost = kiln(&args)
        .env("DOCKER_HOST", cutting_proxy(cut))
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
        Cut::Request(256 * 1024),
    );
}

#[test]
fn a_connection_lost_during_the_build_output_is_exit_3() {
    lost_then_recovered(
        "a_connection_lost_during_the_build_output_is_exit_3",
        Cut::Answer(300),
    );
}
