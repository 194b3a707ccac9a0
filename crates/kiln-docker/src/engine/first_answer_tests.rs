//! The first answer of a daemon: `GET /version` asked once per engine and kept for `info()`,
//! against a fake daemon on a loopback port that counts the requests it serves.

use std::sync::{Arc, Mutex};

use kiln_core::{ErrorKind, ImageEngine};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::DockerEngine;
use crate::endpoint::{Endpoint, EndpointSource};

/// A fake daemon answering every request with `version_body`; returns its address and the
/// request lines it has served.
async fn fake_daemon(version_body: &'static str) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = format!("tcp://{}", listener.local_addr().unwrap());
    let served = Arc::new(Mutex::new(Vec::new()));
    let log = served.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut pending = Vec::new();
                let mut buffer = [0u8; 4096];
                loop {
                    // One request at a time: the headers end with an empty line, a GET has no body.
                    while !pending.windows(4).any(|window| window == b"\r\n\r\n") {
                        match socket.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(read) => pending.extend_from_slice(&buffer[..read]),
                        }
                    }
                    let end = pending
                        .windows(4)
                        .position(|window| window == b"\r\n\r\n")
                        .unwrap()
                        + 4;
                    let request: Vec<u8> = pending.drain(..end).collect();
                    let line = String::from_utf8_lossy(&request);
                    log.lock()
                        .unwrap()
                        .push(line.lines().next().unwrap_or_default().to_owned());
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                         Content-Length: {}\r\n\r\n{version_body}",
                        version_body.len()
                    );
                    if socket.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (host, served)
}

const VERSION: &str = r#"{"Version":"20.10.24","ApiVersion":"1.41","Os":"linux","Arch":"amd64"}"#;

#[tokio::test]
async fn the_version_is_asked_once_and_kept_for_info() {
    let (host, served) = fake_daemon(VERSION).await;
    let engine = DockerEngine::new(Endpoint::new(&host, EndpointSource::DockerHost));
    let first = engine.info().await.unwrap();
    let second = engine.info().await.unwrap();
    engine.client().await.unwrap();
    assert_eq!(first.version, "20.10.24");
    assert_eq!(first.api_version, "1.41");
    assert!(first.buildkit, "API 1.41 on linux has BuildKit");
    assert_eq!(second.version, first.version);
    let served = served.lock().unwrap().clone();
    assert_eq!(served, ["GET /version HTTP/1.1"], "{served:?}");
}

#[tokio::test]
async fn a_version_answer_without_an_api_version_is_not_a_daemon() {
    let (host, _) = fake_daemon(r#"{"Version":"1.0"}"#).await;
    let engine = DockerEngine::new(Endpoint::new(&host, EndpointSource::DockerHost));
    let error = engine.info().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unreachable, "{error}");
    assert!(error.to_string().contains("not a Docker daemon"), "{error}");
}
