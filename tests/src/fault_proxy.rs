//! A fault-injecting proxy on a loopback port, in front of the daemon's unix socket or of a TCP
//! server (the test registry): it passes everything through, except that the requests whose
//! first bytes contain a chosen text (`"POST /build?"`, `"GET /images/"`) meet a [`Fault`].
//!
//! kiln reaches the daemon through it with `DOCKER_HOST=tcp://127.0.0.1:PORT`; the daemon reaches
//! a registry through it as `127.0.0.1:PORT`, which it talks plain HTTP to as to any loopback
//! registry.
//!
//! [`recorded`] and [`labelled`] check what a fault must not leave behind: cache entries for
//! an image that was not built, and images or containers of a build that failed.
//!
//! The proxy also logs every request it passes (method, path and query, read by HTTP framing:
//! [`FaultProxy::requests`]); [`FaultProxy::recording_tcp`] makes one that only logs, to count
//! what a client asked a registry.

mod requests;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use kiln_core::{Env, ProcessEnv};

use requests::RequestReader;
pub use requests::SeenRequest;

/// What happens to a matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The connection is cut after this many bytes of the request (headers and body).
    DropRequestAfter(usize),
    /// The connection is cut after this many bytes of the answer.
    DropAnswerAfter(usize),
    /// The answer is held back this long, then passed through.
    Delay(Duration),
    /// The answer arrives complete as HTTP, but its body is cut in the middle (a JSON body
    /// that no longer parses); the connection is then closed.
    TruncateBody,
    /// The proxy answers `500 Internal Server Error` itself; the request never reaches the
    /// server.
    Status500,
}

/// Where the proxy forwards to.
#[derive(Debug, Clone)]
enum Upstream {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

/// Either kind of upstream connection.
enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    fn connect(upstream: &Upstream) -> std::io::Result<Stream> {
        Ok(match upstream {
            Upstream::Unix(path) => Stream::Unix(UnixStream::connect(path)?),
            Upstream::Tcp(address) => Stream::Tcp(TcpStream::connect(address)?),
        })
    }

    fn try_clone(&self) -> std::io::Result<Stream> {
        Ok(match self {
            Stream::Unix(stream) => Stream::Unix(stream.try_clone()?),
            Stream::Tcp(stream) => Stream::Tcp(stream.try_clone()?),
        })
    }

    fn shutdown(&self, how: Shutdown) {
        let _ = match self {
            Stream::Unix(stream) => stream.shutdown(how),
            Stream::Tcp(stream) => stream.shutdown(how),
        };
    }
}

impl Read for Stream {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Unix(stream) => stream.read(buffer),
            Stream::Tcp(stream) => stream.read(buffer),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buffer: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Unix(stream) => stream.write(buffer),
            Stream::Tcp(stream) => stream.write(buffer),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Unix(stream) => stream.flush(),
            Stream::Tcp(stream) => stream.flush(),
        }
    }
}

/// The proxy, listening until dropped.
pub struct FaultProxy {
    address: SocketAddr,
    stopped: Arc<AtomicBool>,
    hits: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<SeenRequest>>>,
}

impl FaultProxy {
    /// A proxy to the live daemon's socket (`DOCKER_HOST` when it is a unix socket, else the
    /// default) that applies `fault` to requests containing `matching`.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound.
    pub fn to_daemon(matching: &str, fault: Fault) -> FaultProxy {
        let socket = ProcessEnv
            .var("DOCKER_HOST")
            .and_then(|host| host.strip_prefix("unix://").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("/var/run/docker.sock"));
        FaultProxy::start(Upstream::Unix(socket), matching, fault)
    }

    /// A proxy to a TCP server on `address` (the test registry) that applies `fault` to
    /// requests containing `matching`.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound.
    pub fn to_tcp(address: SocketAddr, matching: &str, fault: Fault) -> FaultProxy {
        FaultProxy::start(Upstream::Tcp(address), matching, fault)
    }

    /// A proxy to a TCP server on `address` (the test registry) that passes everything
    /// unchanged and only logs the requests ([`FaultProxy::requests`]).
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound.
    pub fn recording_tcp(address: SocketAddr) -> FaultProxy {
        // No request contains the empty text, so the fault never applies.
        FaultProxy::start(Upstream::Tcp(address), "", Fault::Status500)
    }

    fn start(upstream: Upstream, matching: &str, fault: Fault) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let address = listener.local_addr().expect("the bound address");
        let stopped = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let rule = Rule {
            matching: matching.as_bytes().to_vec(),
            fault,
            hits: Arc::clone(&hits),
            seen: Arc::clone(&seen),
        };
        let stop = Arc::clone(&stopped);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = Stream::connect(&upstream) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let rule = rule.clone();
                std::thread::spawn(move || relay(client, server, &rule));
            }
        });
        FaultProxy {
            address,
            stopped,
            hits,
            seen,
        }
    }

    /// `tcp://127.0.0.1:PORT`, for `DOCKER_HOST`.
    pub fn docker_host(&self) -> String {
        format!("tcp://{}", self.address)
    }

    /// `127.0.0.1:PORT`, for a registry reference.
    pub fn host(&self) -> String {
        self.address.to_string()
    }

    /// Whether a matching request has passed (and met the fault).
    pub fn was_hit(&self) -> bool {
        self.hits.load(Ordering::SeqCst)
    }

    /// Every request that reached the proxy so far, in the order their heads arrived (across
    /// connections: the order in which the proxy read them).
    pub fn requests(&self) -> Vec<SeenRequest> {
        lock(&self.seen).clone()
    }
}

/// Locks the request log, going on after a panic on a relay thread.
fn lock(seen: &Mutex<Vec<SeenRequest>>) -> MutexGuard<'_, Vec<SeenRequest>> {
    seen.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
        // Wakes the accepting thread so that it sees the flag.
        let _ = TcpStream::connect(self.address);
    }
}

#[derive(Clone)]
struct Rule {
    matching: Vec<u8>,
    fault: Fault,
    hits: Arc<AtomicBool>,
    /// The log every connection adds its requests to.
    seen: Arc<Mutex<Vec<SeenRequest>>>,
}

/// One client connection: requests go up on this thread, answers come down on another.
fn relay(client: TcpStream, server: Stream, rule: &Rule) {
    let matched = Arc::new(AtomicBool::new(false));
    let (Ok(client_up), Ok(server_down)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let down_rule = rule.clone();
    let down_matched = Arc::clone(&matched);
    std::thread::spawn(move || downstream(server_down, client, &down_rule, &down_matched));
    upstream(client_up, server, rule, &matched);
}

/// Client to server: logs the requests, marks the connection once a matching request passes
/// and applies the request-side faults.
fn upstream(mut client: TcpStream, mut server: Stream, rule: &Rule, matched: &AtomicBool) {
    let mut buffer = vec![0u8; 16 * 1024];
    let mut since_match = 0usize;
    let mut reader = RequestReader::new();
    loop {
        let read = match client.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        let chunk = &buffer[..read];
        let requests = reader.feed(chunk);
        if !requests.is_empty() {
            lock(&rule.seen).extend(requests);
        }
        if !matched.load(Ordering::SeqCst) && contains(chunk, &rule.matching) {
            matched.store(true, Ordering::SeqCst);
            rule.hits.store(true, Ordering::SeqCst);
            if rule.fault == Fault::Status500 {
                let body = br#"{"message":"fault proxy: injected internal server error"}"#;
                let head = format!(
                    "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = client.write_all(head.as_bytes());
                let _ = client.write_all(body);
                let _ = client.shutdown(Shutdown::Both);
                server.shutdown(Shutdown::Both);
                return;
            }
        }
        if matched.load(Ordering::SeqCst)
            && let Fault::DropRequestAfter(limit) = rule.fault
        {
            since_match += read;
            if since_match > limit {
                let _ = server.write_all(&chunk[..read - (since_match - limit)]);
                let _ = client.shutdown(Shutdown::Both);
                server.shutdown(Shutdown::Both);
                return;
            }
        }
        if server.write_all(chunk).is_err() {
            break;
        }
    }
    server.shutdown(Shutdown::Write);
}

/// Server to client: applies the answer-side faults once the connection carries a matching
/// request.
fn downstream(mut server: Stream, mut client: TcpStream, rule: &Rule, matched: &AtomicBool) {
    let mut buffer = vec![0u8; 16 * 1024];
    let mut answered = 0usize;
    let mut delayed = false;
    loop {
        let read = match server.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        // The answer to a request comes only after the request, so a read that returns once
        // the request matched is the start of its answer.
        if matched.load(Ordering::SeqCst) {
            match rule.fault {
                Fault::TruncateBody => {
                    let mut answer = (&buffer[..read]).chain(&mut server);
                    let _ = truncated_answer(&mut answer, &mut client);
                    let _ = client.shutdown(Shutdown::Both);
                    server.shutdown(Shutdown::Both);
                    return;
                }
                Fault::DropAnswerAfter(limit) => {
                    answered += read;
                    if answered > limit {
                        let _ = client.write_all(&buffer[..read - (answered - limit)]);
                        let _ = client.shutdown(Shutdown::Both);
                        server.shutdown(Shutdown::Both);
                        return;
                    }
                }
                Fault::Delay(pause) if !delayed => {
                    delayed = true;
                    std::thread::sleep(pause);
                }
                _ => {}
            }
        }
        if client.write_all(&buffer[..read]).is_err() {
            break;
        }
    }
    let _ = client.shutdown(Shutdown::Write);
}

/// Reads one whole HTTP answer (with `Content-Length` or chunked) and passes it on with half
/// its body and a `Content-Length` that says so, so the HTTP exchange completes and the body
/// does not parse.
fn truncated_answer(server: &mut impl Read, client: &mut TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(server);
    let mut head = Vec::new();
    let mut length = None;
    let mut chunked = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let lower = line.to_ascii_lowercase();
        if line == "\r\n" {
            break;
        }
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse::<usize>().ok();
            continue;
        }
        if lower.starts_with("transfer-encoding:") {
            chunked = lower.contains("chunked");
            continue;
        }
        if lower.starts_with("connection:") {
            continue;
        }
        head.extend_from_slice(line.as_bytes());
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                .map_err(std::io::Error::other)?;
            let mut chunk = vec![0u8; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = length {
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    }
    body.truncate(body.len() / 2);
    head.extend_from_slice(
        format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    client.write_all(&head)?;
    client.write_all(&body)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

/// The files under the `records/`, `tags/` and `manifests/` directories of the cache directory
/// `cache`: what kiln recorded.
pub fn recorded(cache: &Path) -> Vec<PathBuf> {
    ["records", "tags", "manifests"]
        .iter()
        .flat_map(|dir| files(&cache.join(dir)))
        .collect()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for path in entries.flatten().map(|entry| entry.path()) {
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// The ids `docker LIST -a -q --filter label=LABEL` prints (`LIST` is `images` or `ps`).
///
/// # Panics
///
/// When the Docker CLI cannot be run.
pub fn labelled(list: &str, label: &str) -> Vec<String> {
    list_labelled(list, label).expect("docker lists what carries a label")
}

/// Waits until nothing `docker LIST` shows carries `label` any more, for up to 30 s, and returns
/// what is left then: the daemon removes the container of a build whose client went away once it
/// notices, not at once.
///
/// # Panics
///
/// When the Docker CLI cannot be run.
pub fn labelled_after_cleanup(list: &str, label: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = labelled(list, label);
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn list_labelled(list: &str, label: &str) -> Result<Vec<String>, String> {
    let filter = format!("label={label}");
    let listed = crate::docker_cli::run(crate::docker_cli::docker(&[
        list, "-a", "-q", "--filter", &filter,
    ]))?;
    Ok(String::from_utf8_lossy(&listed.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect())
}

/// Removes every image carrying a label when dropped: the intermediate images the daemon keeps
/// as build cache of a build that a fault stopped.
pub struct LabelledImages(pub String);

impl Drop for LabelledImages {
    fn drop(&mut self) {
        // A parent is refused while an image built on it exists, whatever the order it is
        // named in: each pass removes what it can, the next the parents it freed.
        for _ in 0..8 {
            let Ok(mut ids) = list_labelled("images", &self.0) else {
                return;
            };
            ids.sort_unstable();
            ids.dedup();
            if ids.is_empty() {
                return;
            }
            let mut args = vec!["rmi", "-f"];
            args.extend(ids.iter().map(String::as_str));
            let _ = crate::docker_cli::run(crate::docker_cli::docker(&args));
        }
    }
}
