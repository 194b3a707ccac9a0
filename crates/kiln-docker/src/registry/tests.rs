//! Unit tests of the registry client's naming, error classification and manifest reading.

use std::error::Error as StdError;
use std::time::Duration;

use base64::Engine as _;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciEnvelope, OciError, OciErrorCode};

use super::call::*;
use super::connection::install_crypto_provider;
use super::manifest::*;
use super::naming::*;
use super::*;
use kiln_core::{Credentials, Platform};

/// Registry options with `credentials`.
fn with(credentials: Option<Credentials>) -> RegistryOptions {
    RegistryOptions::new().credentials(credentials)
}

const USER: &str = "kiln";
const PASSWORD: &str = "pa??w>rd~ü x";

fn image(text: &str) -> ImageRef {
    ImageRef::parse(text).unwrap()
}

#[test]
fn loopback_registries_are_told_apart() {
    for domain in [
        "localhost",
        "localhost:5000",
        "LocalHost:1",
        "127.0.0.1",
        "127.0.0.1:5000",
        "127.1.2.3:65535",
        "[::1]",
        "[::1]:5000",
        "[0:0:0:0:0:0:0:1]:80",
    ] {
        assert!(is_loopback_registry(domain), "{domain}");
    }
    for domain in [
        "docker.io",
        "registry.example:5000",
        "localhost.example",
        "128.0.0.1:5000",
        "10.0.0.1",
        "[::2]:5000",
        "[::1",
        "[::1]x",
        "127.0.0.1:port",
        "127.0.0.1:70000",
        "",
    ] {
        assert!(!is_loopback_registry(domain), "{domain}");
    }
}

#[test]
fn references_map_to_oci_client() {
    let hub = oci_reference(&image("alpine"));
    assert_eq!(hub.registry(), "docker.io");
    assert_eq!(hub.resolve_registry(), "index.docker.io");
    assert_eq!(hub.repository(), "library/alpine");
    assert_eq!(hub.tag(), Some("latest"));
    assert_eq!(hub.digest(), None);

    let digest = format!("sha256:{}", "a".repeat(64));
    let local = oci_reference(&image(&format!("localhost:5000/team/app:1@{digest}")));
    assert_eq!(local.resolve_registry(), "localhost:5000");
    assert_eq!(local.repository(), "team/app");
    assert_eq!(local.tag(), Some("1"));
    assert_eq!(local.digest(), Some(digest.as_str()));

    let pinned = oci_reference(&image(&format!("[::1]:5000/app@{digest}")));
    assert_eq!(pinned.resolve_registry(), "[::1]:5000");
    assert_eq!(pinned.tag(), None);
    assert_eq!(pinned.digest(), Some(digest.as_str()));

    let call = Call::new("check", &image("alpine"), None);
    assert_eq!(call.endpoint, "https://index.docker.io");
    assert_eq!(call.registry, "docker.io");
    let call = Call::new("check", &image("127.0.0.1:5000/app:1"), None);
    assert_eq!(call.endpoint, "http://127.0.0.1:5000");
}

#[tokio::test]
async fn credentials_map_to_registry_auth() {
    let registry = OciRegistry::new();
    let image = ImageRef::parse("127.0.0.1:5000/app:1").unwrap();
    let call = Call::new("check", &image, None);
    assert_eq!(
        registry.auth(&image, None, "pull", &call).await.unwrap(),
        RegistryAuth::Anonymous
    );
    let password = Credentials::password(USER, PASSWORD);
    assert_eq!(
        registry
            .auth(&image, Some(&password), "pull", &call)
            .await
            .unwrap(),
        RegistryAuth::Basic(USER.to_owned(), PASSWORD.to_owned())
    );
}

fn envelope(json: &str) -> OciDistributionError {
    OciDistributionError::RegistryError {
        envelope: serde_json::from_str(json).unwrap(),
        url: "http://127.0.0.1:5000/v2/app/manifests/1".to_owned(),
    }
}

fn server_error(code: u16, message: &str) -> OciDistributionError {
    OciDistributionError::ServerError {
        code,
        url: "https://registry.example/v2/app/manifests/1".to_owned(),
        message: message.to_owned(),
    }
}

#[test]
fn registry_answers_are_classified() {
    let unknown = r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#;
    assert_eq!(classify(&envelope(unknown)), Class::NotFound);
    let name = r#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known"}]}"#;
    assert_eq!(classify(&envelope(name)), Class::NotFound);
    assert_eq!(classify(&server_error(404, "")), Class::NotFound);

    let denied = r#"{"errors":[{"code":"DENIED","message":"requested access is denied"}]}"#;
    assert_eq!(
        classify(&envelope(denied)),
        Class::AuthRefused("requested access is denied".to_owned())
    );
    let unauthorized = r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#;
    assert!(matches!(
        classify(&envelope(unauthorized)),
        Class::AuthRefused(_)
    ));
    assert!(matches!(
        classify(&OciDistributionError::UnauthorizedError {
            url: "u".to_owned()
        }),
        Class::AuthRefused(_)
    ));
    assert!(matches!(
        classify(&server_error(403, "forbidden")),
        Class::AuthRefused(_)
    ));
    assert!(matches!(
        classify(&OciDistributionError::AuthenticationFailure(
            "bad".to_owned()
        )),
        Class::AuthRefused(_)
    ));

    let limited = r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}"#;
    assert!(matches!(
        classify(&envelope(limited)),
        Class::Other {
            transient: true,
            ..
        }
    ));
    assert!(matches!(
        classify(&server_error(503, "unavailable")),
        Class::Other {
            transient: true,
            ..
        }
    ));
    assert!(matches!(
        classify(&server_error(400, "bad")),
        Class::Other {
            transient: false,
            ..
        }
    ));
    // A blob the manifest names but the registry lacks is a broken image, not an absent tag.
    let blob = r#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}"#;
    assert!(matches!(classify(&envelope(blob)), Class::Other { .. }));
    assert!(matches!(
        classify(&OciDistributionError::ManifestParsingError("eh".to_owned())),
        Class::Other {
            transient: false,
            ..
        }
    ));
}

/// An error with a source chain, like reqwest's.
#[derive(Debug)]
struct Wrapped(&'static str, Box<dyn StdError + Send + Sync>);

impl std::fmt::Display for Wrapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl StdError for Wrapped {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(self.1.as_ref())
    }
}

fn request_error(inner: std::io::Error) -> Wrapped {
    Wrapped(
        "error sending request for url (http://127.0.0.1:1/v2/)",
        Box::new(Wrapped("client error (Connect)", Box::new(inner))),
    )
}

#[test]
fn transport_failures_are_classified() {
    let refused = request_error(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
    assert_eq!(
        classify_request_error(false, true, &refused),
        Class::Unreachable("connection refused".to_owned())
    );
    let dns = request_error(std::io::Error::other(
        "failed to lookup address information: Name or service not known",
    ));
    let Class::Unreachable(reason) = classify_request_error(false, true, &dns) else {
        panic!("a DNS failure is unreachable");
    };
    assert!(reason.contains("Name or service not known"), "{reason}");
    assert!(!reason.contains("http://"), "{reason}");
    assert!(matches!(
        classify_request_error(true, true, &refused),
        Class::Unreachable(_)
    ));
    assert!(matches!(
        classify_request_error(true, false, &refused),
        Class::Unreachable(_)
    ));
    let reset = request_error(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
    assert_eq!(
        classify_request_error(false, false, &reset),
        Class::Other {
            message: "the exchange with the registry failed: connection reset".to_owned(),
            transient: true
        }
    );
    // hyper-rustls wraps the rustls error in two io::Errors.
    let tls = request_error(std::io::Error::other(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
    )));
    let Class::Other { message, transient } = classify_request_error(false, true, &tls) else {
        panic!("a TLS failure is permanent");
    };
    assert!(!transient);
    assert!(message.contains("UnknownIssuer"), "{message}");
}

#[test]
fn reasons_never_carry_the_secret() {
    let credentials = Credentials::password(USER, PASSWORD);
    let call = Call::new("check", &image("127.0.0.1:5000/app:1"), Some(&credentials));
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    for error in [
        OciDistributionError::AuthenticationFailure(format!(
            "password {PASSWORD} is wrong for {basic}"
        )),
        server_error(403, &format!("no, {PASSWORD}")),
        server_error(500, &format!("oops {PASSWORD}")),
        envelope(&format!(
            r#"{{"errors":[{{"code":"DENIED","message":"{}"}}]}}"#,
            PASSWORD
        )),
    ] {
        let mapped = call.map_error(error).unwrap_err();
        let mut text = format!("{mapped} {mapped:?}");
        let mut cause = std::error::Error::source(&mapped);
        while let Some(error) = cause {
            text.push_str(&format!(" {error} {error:?}"));
            cause = error.source();
        }
        assert!(!text.contains(PASSWORD), "{text}");
        assert!(!text.contains(&basic), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }

    let token = Credentials::identity_token("s3cr3t-token");
    let call = Call::new("check", &image("registry.example/app:1"), Some(&token));
    let mapped = call
        .map_error(server_error(401, "token s3cr3t-token expired"))
        .unwrap_err();
    let text = mapped.to_string();
    assert!(!text.contains("s3cr3t-token"), "{text}");
    assert!(text.contains("identity token"), "{text}");
    assert!(
        matches!(mapped, Error::AuthRefused { ref registry, .. } if registry == "registry.example")
    );
}

#[test]
fn registry_errors_keep_the_client_error_as_their_cause() {
    let call = Call::new("check", &image("127.0.0.1:5000/app:1"), None);
    let mapped = call.map_error(server_error(503, "try later")).unwrap_err();
    let Error::Registry {
        ref registry,
        transient,
        ..
    } = mapped
    else {
        panic!("a 503 is a registry error: {mapped:?}");
    };
    assert_eq!(registry, "127.0.0.1:5000");
    assert!(transient);
    let cause = std::error::Error::source(&mapped).expect("the cause is kept");
    assert!(
        cause.downcast_ref::<OciDistributionError>().is_some(),
        "{cause:?}"
    );
}

#[test]
fn auth_reasons_say_who_asked() {
    let refused = || OciDistributionError::UnauthorizedError {
        url: "u".to_owned(),
    };
    let anonymous = Call::new("check", &image("127.0.0.1:5000/app:1"), None);
    let Err(Error::AuthRefused { reason, .. }) = anonymous.map_error(refused()) else {
        panic!("401 is an auth refusal");
    };
    assert!(reason.contains("none were given"), "{reason}");
    let user = Call::new(
        "check",
        &image("127.0.0.1:5000/app:1"),
        Some(&Credentials::password(USER, PASSWORD)),
    );
    let Err(Error::AuthRefused { reason, .. }) = user.map_error(refused()) else {
        panic!("401 is an auth refusal");
    };
    assert!(reason.contains("\"kiln\""), "{reason}");
    let missing = OciDistributionError::RegistryError {
        envelope: OciEnvelope {
            errors: vec![OciError {
                code: OciErrorCode::ManifestUnknown,
                message: String::new(),
                detail: serde_json::Value::Null,
            }],
        },
        url: "u".to_owned(),
    };
    assert!(user.map_error(missing).is_ok());
}

#[test]
fn manifests_and_indexes_are_read() {
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}",
                "config":{{"mediaType":"{DOCKER_CONFIG}","size":7,"digest":"sha256:c"}},
                "layers":[]}}"#
    );
    let Ok(Manifest::Image { config }) = Manifest::parse(manifest.as_bytes()) else {
        panic!("an image manifest");
    };
    assert_eq!(config.digest, "sha256:c");
    assert_eq!(config.size, Some(7));

    // An OCI index may leave out its media type.
    let index = r#"{"schemaVersion":2,"manifests":[
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:a","size":1,
             "platform":{"os":"linux","architecture":"amd64"}},
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:att","size":1,
             "platform":{"os":"unknown","architecture":"unknown"},
             "annotations":{"vnd.docker.reference.type":"attestation-manifest"}},
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:b","size":1,
             "platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:n","size":1},
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:v","size":1,
             "platform":{"os":"linux","architecture":"arm","variant":"v7"}}]}"#;
    let Ok(Manifest::Index { entries }) = Manifest::parse(index.as_bytes()) else {
        panic!("an index");
    };
    let platforms = index_platforms(&entries);
    let listed: Vec<(&str, String)> = platforms
        .iter()
        .map(|(entry, platform)| (entry.digest.as_str(), platform.to_string()))
        .collect();
    assert_eq!(
        listed,
        [
            ("sha256:a", "linux/amd64".to_owned()),
            ("sha256:b", "linux/arm64".to_owned()),
            ("sha256:v", "linux/arm/v7".to_owned()),
        ]
    );

    let list =
        format!(r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST_LIST}","manifests":[]}}"#);
    assert!(matches!(
        Manifest::parse(list.as_bytes()),
        Ok(Manifest::Index { .. })
    ));
    assert!(Manifest::parse(b"{\"schemaVersion\":2}").is_err());
    assert!(Manifest::parse(b"not json").is_err());
    let config: ImageConfig =
        serde_json::from_str(r#"{"config":{"Labels":null},"os":"linux"}"#).unwrap();
    assert!(config.config.unwrap().labels.is_none());
}

#[test]
fn registry_is_usable_behind_the_trait() {
    fn assert_registry<T: Registry + Default + Clone>() {}
    assert_registry::<OciRegistry>();
    let registry: std::sync::Arc<dyn Registry> = std::sync::Arc::new(OciRegistry::new());
    assert!(format!("{registry:?}").contains("OciRegistry"));
}

#[tokio::test]
async fn a_closed_port_is_unreachable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let registry = OciRegistry::new();
    let image = image(&format!("127.0.0.1:{port}/app:1"));
    for result in [
        registry
            .head(&image, RegistryOptions::new())
            .await
            .map(|_| ()),
        registry
            .describe(&image, RegistryOptions::new())
            .await
            .map(|_| ()),
    ] {
        let Err(Error::Unreachable { endpoint, reason }) = result else {
            panic!("expected unreachable, got {result:?}");
        };
        assert_eq!(endpoint, format!("http://127.0.0.1:{port}"));
        assert_eq!(reason, "connection refused");
    }
}

#[tokio::test]
async fn a_silent_registry_times_out() {
    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let registry =
        OciRegistry::with_timeouts(Duration::from_millis(500), Duration::from_millis(700));
    let started = std::time::Instant::now();
    let result = registry
        .head(
            &image(&format!("127.0.0.1:{port}/app:1")),
            RegistryOptions::new(),
        )
        .await;
    assert!(
        matches!(result, Err(Error::Unreachable { .. })),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(listener);
}

#[tokio::test]
async fn https_clients_can_be_made() {
    // Not a loopback registry: HTTPS, which needs the crypto provider. `.invalid` never
    // resolves, so this fails fast as unreachable (and must not panic).
    let registry = OciRegistry::with_timeouts(Duration::from_secs(2), Duration::from_secs(5));
    let result = registry
        .head(&image("registry.invalid/app:1"), RegistryOptions::new())
        .await;
    let Err(Error::Unreachable { endpoint, reason }) = result else {
        panic!("expected unreachable, got {result:?}");
    };
    assert_eq!(endpoint, "https://registry.invalid");
    assert!(!reason.contains("registry.invalid/v2"), "{reason}");
}

#[tokio::test]
async fn https_to_a_plain_http_server_is_a_tls_failure() {
    // A plain-HTTP server reached by a name that is not a loopback registry (this machine's
    // address or host name) is spoken to over HTTPS, and the handshake fails for good.
    let test = "https_to_a_plain_http_server_is_a_tls_failure";
    let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut stream in listener.incoming().flatten() {
            let mut buffer = [0u8; 1024];
            let _ = stream.read(&mut buffer);
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let Some(host) = non_loopback_names()
        .into_iter()
        .find(|host| std::net::TcpStream::connect((host.as_str(), port)).is_ok())
    else {
        eprintln_skip(
            test,
            "this machine has no non-loopback name that reaches it",
        );
        return;
    };
    let registry = OciRegistry::with_timeouts(Duration::from_secs(2), Duration::from_secs(5));
    let result = registry
        .head(
            &image(&format!("{host}:{port}/app:1")),
            RegistryOptions::new(),
        )
        .await;
    let Err(Error::Registry {
        message, transient, ..
    }) = result
    else {
        panic!("expected a TLS failure from {host}, got {result:?}");
    };
    assert!(message.contains("TLS"), "{message}");
    assert!(!transient);
}

/// Names of this machine that [`is_loopback_registry`] does not treat as loopback: its
/// address on the default route and its host name.
fn non_loopback_names() -> Vec<String> {
    let mut names = Vec::new();
    if let Ok(socket) = std::net::UdpSocket::bind("0.0.0.0:0")
        && socket.connect("192.0.2.1:9").is_ok()
        && let Ok(address) = socket.local_addr()
        && !address.ip().is_loopback()
        && !address.ip().is_unspecified()
    {
        names.push(address.ip().to_string());
    }
    if let Ok(name) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let name = name.trim().to_ascii_lowercase();
        if !name.is_empty()
            && !is_loopback_registry(&name)
            && ImageRef::parse(&format!("{name}:1/a")).is_ok()
        {
            names.push(name);
        }
    }
    names
}

#[allow(clippy::print_stderr)] // tests explain a skip
fn eprintln_skip(test: &str, reason: &str) {
    eprintln!("SKIPPED {test}: {reason}; set KILN_REQUIRE_DOCKER=1 to fail instead");
}

/// A minimal copy of the tests crate's registry fixture: `docker-registry serve` on a free
/// loopback port with htpasswd users, killed when dropped.
struct TestRegistry {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TestRegistry {
    /// The registry, or `None` when `docker-registry` / `htpasswd` are missing (fails
    /// instead under `KILN_REQUIRE_DOCKER=1`).
    fn start(test: &str, users: &[(&str, &str)]) -> Option<TestRegistry> {
        use kiln_core::Env as _;
        use std::process::{Command, Stdio};

        let htpasswd_works = Command::new("htpasswd")
            .arg("-h")
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !std::path::Path::new("/usr/bin/docker-registry").is_file() || !htpasswd_works {
            let reason = "docker-registry or htpasswd is missing (install docker-registry \
                              and apache2-utils: .ci/setup)";
            assert!(
                !kiln_core::ProcessEnv.flag("KILN_REQUIRE_DOCKER"),
                "{test}: KILN_REQUIRE_DOCKER=1 but {reason}"
            );
            eprintln_skip(test, reason);
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut htpasswd = String::new();
        for (user, password) in users {
            let output = Command::new("htpasswd")
                .args(["-Bbn", user, password])
                .output()
                .unwrap();
            assert!(output.status.success());
            htpasswd.push_str(String::from_utf8(output.stdout).unwrap().trim());
            htpasswd.push('\n');
        }
        std::fs::write(dir.path().join("htpasswd"), htpasswd).unwrap();
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let config = format!(
                "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n\
                     storage:\n  filesystem:\n    rootdirectory: '{root}/storage'\n  \
                     delete:\n    enabled: true\n\
                     http:\n  addr: 127.0.0.1:{port}\n  secret: kiln-test\n\
                     auth:\n  htpasswd:\n    realm: kiln-test\n    path: '{root}/htpasswd'\n",
                root = dir.path().display()
            );
            std::fs::write(dir.path().join("config.yml"), config).unwrap();
            let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
            let mut child = Command::new("/usr/bin/docker-registry")
                .arg("serve")
                .arg(dir.path().join("config.yml"))
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap();
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while std::time::Instant::now() < deadline && child.try_wait().unwrap().is_none() {
                if v2_status(port) == Some(401) {
                    return Some(TestRegistry {
                        child,
                        port,
                        _dir: dir,
                    });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(dir.path().join("registry.log")).unwrap();
            assert!(
                log.contains("address already in use"),
                "{test}: docker-registry did not start: {log}"
            );
        }
        panic!("{test}: no free port for docker-registry");
    }

    fn reference(&self, repo: &str, tag: &str) -> ImageRef {
        image(&format!("127.0.0.1:{}/{repo}:{tag}", self.port))
    }
}

/// The status of `GET /v2/` on `127.0.0.1:port`, if anything answers.
fn v2_status(port: u16) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream
        .write_all(b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.split(' ').nth(1)?.parse().ok()
}

/// Pushes `data` as a blob of `reference`'s repository and returns its digest.
async fn push_blob(client: &Client, reference: &Reference, data: &[u8]) -> String {
    use sha2::Digest as _;
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)));
    client
        .push_blob(reference, data.to_vec(), &digest)
        .await
        .unwrap();
    digest
}

/// Pushes an image whose config has `labels` under `reference` (when it has a tag) and
/// returns the manifest's digest and size.
async fn push_image(
    client: &Client,
    reference: &Reference,
    architecture: &str,
    labels: serde_json::Value,
) -> (String, usize) {
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": architecture,
        "os": "linux",
        "config": {"Labels": labels},
        "rootfs": {"type": "layers", "diff_ids": []},
    }))
    .unwrap();
    let layer = format!("layer of {architecture}").into_bytes();
    let config_digest = push_blob(client, reference, &config).await;
    let layer_digest = push_blob(client, reference, &layer).await;
    let manifest: oci_client::manifest::OciManifest = serde_json::from_value(serde_json::json!({
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": DOCKER_CONFIG, "size": config.len(), "digest": config_digest},
        "layers": [{
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "size": layer.len(),
            "digest": layer_digest,
        }],
    }))
    .unwrap();
    let size = serde_json::to_vec(&manifest).unwrap().len();
    let location = client.push_manifest(reference, &manifest).await.unwrap();
    let digest = location.rsplit('/').next().unwrap().to_owned();
    assert!(digest.starts_with("sha256:"), "{location}");
    (digest, size)
}

fn push_client(port: u16) -> Client {
    install_crypto_provider();
    Client::try_from(ClientConfig {
        protocol: ClientProtocol::HttpsExcept(vec![format!("127.0.0.1:{port}")]),
        ..ClientConfig::default()
    })
    .unwrap()
}

#[tokio::test]
async fn live_registry_answers_head_and_describe() {
    let test = "live_registry_answers_head_and_describe";
    let Some(server) = TestRegistry::start(test, &[(USER, PASSWORD)]) else {
        return;
    };
    let registry = OciRegistry::new();
    let credentials = Credentials::password(USER, PASSWORD);
    let app = server.reference("kiln/app", "v1");

    // Nothing pushed yet: an unknown repository is an absent tag.
    assert_eq!(
        registry
            .head(&app, with(Some(credentials.clone())))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        registry
            .describe(&app, with(Some(credentials.clone())))
            .await
            .unwrap(),
        None
    );

    let client = push_client(server.port);
    let auth = RegistryAuth::Basic(USER.to_owned(), PASSWORD.to_owned());
    let target = oci_reference(&app);
    client
        .auth(&target, &auth, oci_client::RegistryOperation::Push)
        .await
        .unwrap();
    let (digest, _) = push_image(
        &client,
        &target,
        "amd64",
        serde_json::json!({"org.kiln.fingerprint": "abc", "empty": ""}),
    )
    .await;
    let digest = Digest::parse(&digest).unwrap();

    assert_eq!(
        registry
            .head(&app, with(Some(credentials.clone())))
            .await
            .unwrap(),
        Some(digest.clone())
    );
    let described = registry
        .describe(&app, with(Some(credentials.clone())))
        .await
        .unwrap()
        .expect("the pushed image");
    assert_eq!(described.digest, digest);
    assert!(described.platforms.is_empty());
    assert_eq!(
        described.labels,
        BTreeMap::from([
            ("empty".to_owned(), String::new()),
            ("org.kiln.fingerprint".to_owned(), "abc".to_owned()),
        ])
    );
    // Addressed by its digest, too.
    let pinned = image(&format!("127.0.0.1:{}/kiln/app@{digest}", server.port));
    assert_eq!(
        registry
            .head(&pinned, with(Some(credentials.clone())))
            .await
            .unwrap(),
        Some(digest.clone())
    );
    // Another tag of the same repository is absent.
    let other = server.reference("kiln/app", "v2");
    assert_eq!(
        registry
            .head(&other, with(Some(credentials.clone())))
            .await
            .unwrap(),
        None
    );

    // Without credentials, with a wrong password, with a token the registry cannot use.
    let wrong_password = "pa??w>rd~ü";
    for (credentials, says) in [
        (None, "none were given"),
        (
            Some(Credentials::password(USER, wrong_password)),
            "user \"kiln\"",
        ),
        (
            Some(Credentials::password("nobody", PASSWORD)),
            "user \"nobody\"",
        ),
        (
            Some(Credentials::identity_token(PASSWORD)),
            "identity token",
        ),
    ] {
        for result in [
            registry
                .head(&app, with(credentials.clone()))
                .await
                .map(|_| ()),
            registry
                .describe(&app, with(credentials.clone()))
                .await
                .map(|_| ()),
        ] {
            let error = result.unwrap_err();
            let Error::AuthRefused { registry, reason } = &error else {
                panic!("expected an auth refusal, got {error:?}");
            };
            assert_eq!(registry, &format!("127.0.0.1:{}", server.port));
            assert!(reason.contains(says), "{reason}");
            let text = format!("{error} {error:?}");
            assert!(!text.contains(wrong_password), "{text}");
            assert!(!text.contains("w>rd"), "{text}");
        }
    }

    // A multi-platform index: amd64, arm64 and an attestation entry.
    let multi = server.reference("kiln/multi", "1");
    let multi_target = oci_reference(&multi);
    let (amd64, amd64_size) = push_image(
        &client,
        &oci_reference(&server.reference("kiln/multi", "amd64")),
        "amd64",
        serde_json::json!({"arch": "amd64"}),
    )
    .await;
    let (arm64, arm64_size) = push_image(
        &client,
        &oci_reference(&server.reference("kiln/multi", "arm64")),
        "arm64",
        serde_json::json!({"arch": "arm64"}),
    )
    .await;
    let index: oci_client::manifest::OciManifest = serde_json::from_value(serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": DOCKER_MANIFEST, "digest": amd64, "size": amd64_size,
             "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": DOCKER_MANIFEST, "digest": arm64, "size": arm64_size,
             "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            {"mediaType": DOCKER_MANIFEST, "digest": amd64, "size": amd64_size,
             "platform": {"os": "unknown", "architecture": "unknown"},
             "annotations": {"vnd.docker.reference.type": "attestation-manifest"}},
        ],
    }))
    .unwrap();
    let location = client.push_manifest(&multi_target, &index).await.unwrap();
    let index_digest = Digest::parse(location.rsplit('/').next().unwrap()).unwrap();

    assert_eq!(
        registry
            .head(&multi, with(Some(credentials.clone())))
            .await
            .unwrap(),
        Some(index_digest.clone())
    );
    let first = registry
        .describe(&multi, with(Some(credentials.clone())))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.digest, index_digest);
    assert_eq!(
        first.platforms,
        [Platform::linux_amd64(), Platform::linux_arm64()]
    );
    assert_eq!(first.labels["arch"], "amd64");
    let arm = registry
        .describe(
            &multi,
            with(Some(credentials.clone())).platform(Some(Platform::parse("aarch64").unwrap())),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(arm.digest, index_digest);
    assert_eq!(arm.labels["arch"], "arm64");
    let absent_platform = registry
        .describe(
            &multi,
            with(Some(credentials.clone()))
                .platform(Some(Platform::parse("linux/arm/v7").unwrap())),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(absent_platform.labels.is_empty());
    assert_eq!(absent_platform.platforms.len(), 2);

    // Once the registry is gone, it is unreachable.
    let port = server.port;
    drop(server);
    let result = registry.head(&app, with(Some(credentials))).await;
    let Err(Error::Unreachable { endpoint, .. }) = result else {
        panic!("expected unreachable, got {result:?}");
    };
    assert_eq!(endpoint, format!("http://127.0.0.1:{port}"));
}
