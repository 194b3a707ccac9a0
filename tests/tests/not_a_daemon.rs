//! A `DOCKER_HOST` where an HTTP server answers that is not a Docker daemon: kiln says so and
//! exits 3 (unreachable), never "image absent" (1) or "build failed" (4). Needs no daemon.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use kiln_tests::kiln;
use kiln_tests::output::{json, stderr};

/// Starts an HTTP server on a loopback port that answers every request with `status` and
/// `body`; returns its `DOCKER_HOST`. The server lives as long as the test process.
fn http_server(status: &'static str, body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = format!("tcp://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            // The request line and headers; a body, if any, is never read.
            while reader.read_line(&mut line).is_ok_and(|read| read > 0) && line != "\r\n" {
                line.clear();
            }
            let reply = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    host
}

fn assert_not_a_daemon(docker_host: &str, args: &[&str]) {
    let output = kiln(args).env("DOCKER_HOST", docker_host).output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(3),
        "{args:?} at {docker_host}: {}",
        stderr(&output)
    );
    let error = &json(&output)["error"];
    assert_eq!(error["kind"], "unreachable", "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains(docker_host), "{message}");
    assert!(message.contains("is not a Docker daemon"), "{message}");
}

#[test]
fn an_http_server_at_docker_host_is_not_a_daemon() {
    let not_found = http_server("404 Not Found", "<html><h1>Not Found</h1></html>");
    let not_json = http_server("200 OK", "<html>hello</html>");
    for host in [&not_found, &not_json] {
        assert_not_a_daemon(host, &["exists", "busybox:latest", "--json"]);
        assert_not_a_daemon(host, &["build", "examples/hello", "--json"]);
    }
}
