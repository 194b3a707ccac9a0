//! A private registry for tests: Debian's `docker-registry` (distribution 2.8) on a free loopback
//! port, with its storage and htpasswd users (or the certificate of a token service) in a
//! temporary directory, killed when dropped.
//!
//! Docker treats loopback registries as insecure (plain HTTP), so the daemon pushes to and pulls
//! from [`RegistryServer::host`] without any configuration.

#![expect(
    clippy::disallowed_methods,
    reason = "the fixture runs docker-registry and htpasswd"
)]

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kiln_core::{Env, ImageRef, ProcessEnv};

use crate::token_service::{TOKEN_ISSUER, TOKEN_SERVICE_NAME, TokenService};

/// Where Debian's `docker-registry` package installs the registry.
pub const REGISTRY_BINARY: &str = "/usr/bin/docker-registry";

/// The tool that writes the bcrypt entries of the htpasswd file (Debian's `apache2-utils`).
pub const HTPASSWD_BINARY: &str = "htpasswd";

/// How long [`RegistryServer::start`] waits for the registry to answer.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How many fresh ports [`RegistryServer::start`] tries when another process takes the one it
/// picked between releasing it and the registry binding it.
const PORT_ATTEMPTS: usize = 5;

/// The media types a manifest `HEAD` accepts: Docker v2 manifests and lists, OCI manifests and
/// indexes.
const MANIFEST_TYPES: &[&str] = &[
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
];

/// How a test registry lets clients in.
#[derive(Debug, Clone, Copy)]
pub enum Access<'a> {
    /// Anyone, without credentials.
    Open,
    /// HTTP Basic authentication of these users (name, password), htpasswd with bcrypt.
    Users(&'a [(&'a str, &'a str)]),
    /// Bearer tokens of this token service (the OAuth flow of identity tokens).
    Tokens(&'a TokenService),
}

/// A running `docker-registry serve` on `127.0.0.1:<port>`, stopped when dropped.
///
/// With users, the registry requires HTTP Basic authentication (htpasswd with bcrypt entries) for
/// everything, `GET /v2/` included; without users it serves anyone.
#[derive(Debug)]
pub struct RegistryServer {
    child: Mutex<Child>,
    port: u16,
    log: PathBuf,
    // Last, so the directory outlives the process (Drop stops the process first anyway).
    dir: tempfile::TempDir,
}

/// A raw HTTP answer of the registry, as [`RegistryServer::request`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    /// The status code.
    pub status: u16,
    /// The headers, names lowercased, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body (empty for `HEAD`).
    pub body: Vec<u8>,
}

impl HttpReply {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }
}

impl RegistryServer {
    /// Starts a registry with `users` (name, password) on a free loopback port and waits until it
    /// answers `GET /v2/` (401 with users, 200 without), for up to 10 s.
    ///
    /// Passwords may hold any character: each goes to `htpasswd -Bbn` as one argument, no shell
    /// is involved.
    ///
    /// # Errors
    ///
    /// A description of what failed (the registry's log is included when it did not start).
    pub fn start(users: &[(&str, &str)]) -> Result<RegistryServer, String> {
        if users.is_empty() {
            RegistryServer::start_with(Access::Open)
        } else {
            RegistryServer::start_with(Access::Users(users))
        }
    }

    /// Starts a registry that lets clients in as `access` says, on a free loopback port, and
    /// waits until it answers `GET /v2/`, for up to 10 s.
    ///
    /// # Errors
    ///
    /// A description of what failed (the registry's log is included when it did not start).
    pub fn start_with(access: Access<'_>) -> Result<RegistryServer, String> {
        let dir = tempfile::Builder::new()
            .prefix("kiln-registry-")
            .tempdir()
            .map_err(|error| format!("cannot create the registry's directory: {error}"))?;
        let storage = dir.path().join("storage");
        fs::create_dir_all(&storage)
            .map_err(|error| format!("cannot create {}: {error}", storage.display()))?;
        let auth = match access {
            Access::Open => None,
            Access::Users(users) => {
                let path = dir.path().join("htpasswd");
                write_htpasswd(&path, users)?;
                Some(htpasswd_yaml(&path))
            }
            Access::Tokens(service) => Some(format!(
                "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    \
                 rootcertbundle: {}\n",
                yaml_quote(&service.realm()),
                yaml_quote(TOKEN_SERVICE_NAME),
                yaml_quote(TOKEN_ISSUER),
                yaml_quote(&service.certificate().to_string_lossy()),
            )),
        };
        let expected = if matches!(access, Access::Open) {
            200
        } else {
            401
        };

        let mut last_error = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port()?;
            let config = dir.path().join("config.yml");
            fs::write(&config, config_yaml(port, &storage, auth.as_deref()))
                .map_err(|error| format!("cannot write {}: {error}", config.display()))?;
            let log = dir.path().join(format!("registry-{port}.log"));
            let mut child = spawn_registry(&config, &log)?;
            match wait_ready(&mut child, port, expected) {
                Ok(()) => {
                    return Ok(RegistryServer {
                        child: Mutex::new(child),
                        port,
                        log,
                        dir,
                    });
                }
                Err(error) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let text = fs::read_to_string(&log).unwrap_or_default();
                    last_error = format!("{error}; registry log:\n{text}");
                    // Another process took the port between `free_port` and the registry's
                    // bind: try another one. Anything else is a real failure.
                    if !text.contains("address already in use") {
                        return Err(last_error);
                    }
                }
            }
        }
        Err(last_error)
    }

    /// `127.0.0.1:PORT`, the registry's address as references name it.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port the registry listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT/repo:tag` as an [`ImageRef`].
    ///
    /// # Panics
    ///
    /// When `repo` or `tag` breaks the reference grammar (a mistake in the test).
    pub fn reference(&self, repo: &str, tag: &str) -> ImageRef {
        let text = format!("{}/{repo}:{tag}", self.host());
        ImageRef::parse(&text).unwrap_or_else(|error| panic!("{text:?}: {error}"))
    }

    /// Kills the registry and waits for it to exit. Stopping twice does nothing; dropping the
    /// server stops it too.
    pub fn stop(&mut self) {
        let child = self
            .child
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if matches!(child.try_wait(), Ok(None)) {
            let _ = child.kill();
        }
        let _ = child.wait();
    }

    /// Whether the registry process is still running.
    pub fn is_running(&self) -> bool {
        matches!(lock(&self.child).try_wait(), Ok(None))
    }

    /// What the registry has logged so far (warnings and errors only).
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The directory holding the configuration, the htpasswd file and the storage.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Sends `METHOD path` (path starts with `/`) to the registry over plain HTTP/1.1, with
    /// Basic authentication when `basic_auth` is given and an `Accept` header listing `accept`.
    ///
    /// # Errors
    ///
    /// When the registry cannot be reached or its answer is not HTTP.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        basic_auth: Option<(&str, &str)>,
        accept: &[&str],
    ) -> Result<HttpReply, String> {
        http_request(self.port, method, path, basic_auth, accept)
    }

    /// The digest the registry gives for `repo:tag` (its `Docker-Content-Digest` answering a
    /// manifest `HEAD` that accepts Docker v2 and OCI manifests and indexes), or `None` when it
    /// answers anything but 200.
    pub fn manifest_digest(
        &self,
        repo: &str,
        tag: &str,
        user: &str,
        password: &str,
    ) -> Option<String> {
        let reply = self
            .request(
                "HEAD",
                &format!("/v2/{repo}/manifests/{tag}"),
                Some((user, password)),
                MANIFEST_TYPES,
            )
            .ok()?;
        if reply.status != 200 {
            return None;
        }
        reply.header("docker-content-digest").map(str::to_owned)
    }
}

impl Drop for RegistryServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A registry with `users`, or `None` (with a printed reason) when `docker-registry` (or, with
/// users, `htpasswd`) is not installed and the test should skip.
///
/// # Panics
///
/// When a tool is missing and `KILN_REQUIRE_DOCKER=1` is set, and whenever an installed registry
/// fails to start (that is a failure, not a reason to skip).
pub fn registry_or_skip(test: &str, users: &[(&str, &str)]) -> Option<RegistryServer> {
    if let Some(missing) = missing_tool(!users.is_empty()) {
        if ProcessEnv.flag("KILN_REQUIRE_DOCKER") {
            panic!(
                "{test}: KILN_REQUIRE_DOCKER=1 but {missing}: install docker-registry and \
                 apache2-utils (.ci/setup does)"
            );
        }
        crate::skip(test, &missing);
        return None;
    }
    match RegistryServer::start(users) {
        Ok(server) => Some(server),
        Err(error) => panic!("{test}: cannot start the test registry: {error}"),
    }
}

/// A registry that takes bearer tokens, with the token service that trades `identity_token` for
/// them, or `None` (with a printed reason) when `docker-registry` is not installed.
///
/// # Panics
///
/// As [`registry_or_skip`].
pub fn token_registry_or_skip(
    test: &str,
    identity_token: &str,
) -> Option<(RegistryServer, TokenService)> {
    token_registry_with_user_or_skip(test, identity_token, None)
}

/// As [`token_registry_or_skip`], with a token service that also grants tokens to `user`'s
/// password (name, password) in Basic-authenticated `GET` requests.
///
/// # Panics
///
/// As [`registry_or_skip`].
pub fn token_registry_with_user_or_skip(
    test: &str,
    identity_token: &str,
    user: Option<(&str, &str)>,
) -> Option<(RegistryServer, TokenService)> {
    if let Some(missing) = missing_tool(false) {
        if ProcessEnv.flag("KILN_REQUIRE_DOCKER") {
            panic!("{test}: KILN_REQUIRE_DOCKER=1 but {missing} (.ci/setup installs it)");
        }
        crate::skip(test, &missing);
        return None;
    }
    let tokens = TokenService::start_with_user(identity_token, user)
        .unwrap_or_else(|error| panic!("{test}: cannot start the token service: {error}"));
    let registry = RegistryServer::start_with(Access::Tokens(&tokens))
        .unwrap_or_else(|error| panic!("{test}: cannot start the test registry: {error}"));
    Some((registry, tokens))
}

/// Why the registry cannot be started here, if it cannot.
fn missing_tool(needs_htpasswd: bool) -> Option<String> {
    if !Path::new(REGISTRY_BINARY).is_file() {
        return Some(format!(
            "{REGISTRY_BINARY} is missing (Debian package docker-registry)"
        ));
    }
    if needs_htpasswd
        && Command::new(HTPASSWD_BINARY)
            .arg("-h")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
    {
        return Some(format!(
            "{HTPASSWD_BINARY} is missing (Debian package apache2-utils)"
        ));
    }
    None
}

/// Locks `mutex`, going on after a panic elsewhere (a child process handle stays usable).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A port that was free a moment ago: bound on 127.0.0.1:0, then released.
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|error| format!("cannot bind a loopback port: {error}"))?;
    listener
        .local_addr()
        .map(|address| address.port())
        .map_err(|error| format!("cannot read the bound port: {error}"))
}

/// Writes one bcrypt entry per user, made by `htpasswd -Bbn user password`.
fn write_htpasswd(path: &Path, users: &[(&str, &str)]) -> Result<(), String> {
    let mut file =
        File::create(path).map_err(|error| format!("cannot create {}: {error}", path.display()))?;
    for (user, password) in users {
        if user.is_empty() || user.contains(':') {
            return Err(format!(
                "user name {user:?} cannot go into an htpasswd file"
            ));
        }
        let output = Command::new(HTPASSWD_BINARY)
            .args(["-B", "-b", "-n", user, password])
            .stdin(Stdio::null())
            .output()
            .map_err(|error| format!("cannot run {HTPASSWD_BINARY}: {error}"))?;
        let entry = String::from_utf8_lossy(&output.stdout);
        let entry = entry.trim();
        if !output.status.success() || !entry.starts_with(&format!("{user}:$2")) {
            // The password is not part of the message: htpasswd never echoes it.
            return Err(format!(
                "{HTPASSWD_BINARY} -Bbn {user} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        writeln!(file, "{entry}")
            .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
    }
    Ok(())
}

/// A YAML single-quoted scalar (a `'` is doubled, nothing else needs escaping).
fn yaml_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The registry's configuration: loopback port, storage in `storage`, deletes allowed, htpasswd
/// authentication when a file is given, warnings and errors logged.
/// The `auth` section for the htpasswd file at `path`.
fn htpasswd_yaml(path: &Path) -> String {
    format!(
        "auth:\n  htpasswd:\n    realm: kiln-test-registry\n    path: {}\n",
        yaml_quote(&path.to_string_lossy()),
    )
}

fn config_yaml(port: u16, storage: &Path, auth: Option<&str>) -> String {
    let mut yaml = String::new();
    let _ = write!(
        yaml,
        "version: 0.1\n\
         log:\n  level: warn\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  \
         maintenance:\n    uploadpurging:\n      enabled: false\n\
         http:\n  addr: 127.0.0.1:{port}\n  secret: kiln-test-registry-{port}\n\
         health:\n  storagedriver:\n    enabled: false\n",
        yaml_quote(&storage.to_string_lossy()),
    );
    if let Some(auth) = auth {
        yaml.push_str(auth);
    }
    yaml
}

/// Starts `docker-registry serve CONFIG` with its output going to `log`.
fn spawn_registry(config: &Path, log: &Path) -> Result<Child, String> {
    let log_file =
        File::create(log).map_err(|error| format!("cannot create {}: {error}", log.display()))?;
    let log_copy = log_file
        .try_clone()
        .map_err(|error| format!("cannot share {}: {error}", log.display()))?;
    Command::new(REGISTRY_BINARY)
        .arg("serve")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(log_copy)
        .stderr(log_file)
        .spawn()
        .map_err(|error| format!("cannot start {REGISTRY_BINARY}: {error}"))
}

/// Polls `GET /v2/` until it answers `expected`, the process exits, or time runs out.
fn wait_ready(child: &mut Child, port: u16, expected: u16) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    let mut last = String::from("no answer yet");
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("docker-registry exited early ({status})"));
        }
        match http_request(port, "GET", "/v2/", None, &[]) {
            Ok(reply) if reply.status == expected => return Ok(()),
            Ok(reply) => last = format!("GET /v2/ answered {}", reply.status),
            Err(error) => last = error,
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "docker-registry did not answer {expected} on GET /v2/ within {START_TIMEOUT:?} ({last})"
    ))
}

/// One HTTP/1.1 request to `127.0.0.1:port` with `Connection: close`, read to the end.
fn http_request(
    port: u16,
    method: &str,
    path: &str,
    basic_auth: Option<(&str, &str)>,
    accept: &[&str],
) -> Result<HttpReply, String> {
    let timeout = Duration::from_secs(5);
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&address, timeout)
        .map_err(|error| format!("cannot connect to {address}: {error}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|error| format!("cannot set timeouts: {error}"))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: kiln-tests\r\n\
         Connection: close\r\n"
    );
    if let Some((user, password)) = basic_auth {
        let _ = write!(
            request,
            "Authorization: Basic {}\r\n",
            STANDARD.encode(format!("{user}:{password}"))
        );
    }
    if !accept.is_empty() {
        let _ = write!(request, "Accept: {}\r\n", accept.join(", "));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|error| format!("cannot send {method} {path}: {error}"))?;
    let _ = stream.shutdown(Shutdown::Write);
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|error| format!("cannot read the answer to {method} {path}: {error}"))?;
    parse_reply(&raw, method == "HEAD")
}

/// Parses a whole HTTP/1.1 answer (status line, headers, body as sent; chunked bodies are
/// decoded).
fn parse_reply(raw: &[u8], head: bool) -> Result<HttpReply, String> {
    let end = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or_else(|| format!("not an HTTP answer: {:?}", String::from_utf8_lossy(raw)))?;
    let head_text = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head_text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .filter(|_| status_line.starts_with("HTTP/1."))
        .ok_or_else(|| format!("not an HTTP status line: {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let mut body = if head {
        Vec::new()
    } else {
        raw[end + 4..].to_vec()
    };
    let chunked = headers
        .iter()
        .any(|(name, value)| name == "transfer-encoding" && value.eq_ignore_ascii_case("chunked"));
    if chunked && !head {
        body = decode_chunked(&body)?;
    }
    Ok(HttpReply {
        status,
        headers,
        body,
    })
}

/// Decodes a chunked transfer-encoded body.
fn decode_chunked(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|window| window == b"\r\n")
            .ok_or("a chunk size line is not terminated")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = data.get(..size).ok_or("a chunk is cut short")?;
        body.extend_from_slice(chunk);
        data = data.get(size + 2..).ok_or("a chunk is not terminated")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = "kiln";
    const PASSWORD: &str = "pa??w>rd~ü x";

    #[test]
    fn chunked_bodies_are_decoded() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        let reply = parse_reply(raw, false).unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, b"abcde");
        assert_eq!(reply.header("Transfer-Encoding"), Some("chunked"));
    }

    #[test]
    fn config_quotes_paths() {
        let auth = htpasswd_yaml(Path::new("/tmp/h"));
        let yaml = config_yaml(5001, Path::new("/tmp/it's"), Some(&auth));
        assert!(yaml.contains("rootdirectory: '/tmp/it''s'"), "{yaml}");
        assert!(yaml.contains("addr: 127.0.0.1:5001"), "{yaml}");
        assert!(yaml.contains("path: '/tmp/h'"), "{yaml}");
        assert!(!config_yaml(5001, Path::new("/s"), None).contains("auth:"));
    }

    #[test]
    fn registry_requires_the_right_basic_auth() {
        let Some(mut server) = registry_or_skip(
            "registry_requires_the_right_basic_auth",
            &[(USER, PASSWORD)],
        ) else {
            return;
        };
        assert!(server.is_running());
        assert!(server.host().starts_with("127.0.0.1:"));
        assert_eq!(
            server.reference("team/app", "v1").to_string(),
            format!("{}/team/app:v1", server.host())
        );

        let anonymous = server.request("GET", "/v2/", None, &[]).unwrap();
        assert_eq!(anonymous.status, 401);
        assert!(
            anonymous
                .header("www-authenticate")
                .is_some_and(|value| value.starts_with("Basic")),
            "{anonymous:?}"
        );
        let right = server
            .request("GET", "/v2/", Some((USER, PASSWORD)), &[])
            .unwrap();
        assert_eq!(right.status, 200, "{right:?}");
        let wrong = server
            .request("GET", "/v2/", Some((USER, "pa??w>rd~ü")), &[])
            .unwrap();
        assert_eq!(wrong.status, 401);
        let unknown_user = server
            .request("GET", "/v2/", Some(("other", PASSWORD)), &[])
            .unwrap();
        assert_eq!(unknown_user.status, 401);

        // No such manifest yet.
        assert_eq!(
            server.manifest_digest("team/app", "v1", USER, PASSWORD),
            None
        );

        server.stop();
        assert!(!server.is_running());
        assert!(server.request("GET", "/v2/", None, &[]).is_err());
        server.stop();
    }

    #[test]
    fn registry_without_users_serves_anyone() {
        let Some(server) = registry_or_skip("registry_without_users_serves_anyone", &[]) else {
            return;
        };
        let reply = server.request("GET", "/v2/", None, &[]).unwrap();
        assert_eq!(reply.status, 200);
        let port = server.port();
        drop(server);
        assert!(http_request(port, "GET", "/v2/", None, &[]).is_err());
    }
}
