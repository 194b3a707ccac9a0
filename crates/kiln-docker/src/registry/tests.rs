//! Unit tests of the registry client's naming, error classification and manifest reading. The
//! client against a live registry is tested in `tests/tests/oci_registry_live.rs`, with the
//! tests crate's registry fixture.

use std::error::Error as StdError;
use std::time::Duration;

use base64::Engine as _;
use oci_client::errors::{OciDistributionError, OciEnvelope, OciError, OciErrorCode};

use super::call::*;
use super::connection::{install_default_crypto_provider, missing_crypto_provider};
use super::manifest::*;
use super::naming::*;
use super::*;
use kiln_core::Credentials;

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

#[test]
fn bare_statuses_are_classified_like_server_errors() {
    assert_eq!(classify_status(404, ""), Class::NotFound);
    assert_eq!(
        classify_status(401, ""),
        Class::AuthRefused("HTTP 401".to_owned())
    );
    assert_eq!(
        classify_status(503, ""),
        Class::Other {
            message: "the registry answered HTTP 503".to_owned(),
            transient: true,
        }
    );
    assert_eq!(
        classify_status(400, "bad"),
        Class::Other {
            message: "the registry answered HTTP 400: bad".to_owned(),
            transient: false,
        }
    );
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

#[test]
fn a_missing_crypto_provider_is_an_error_that_says_what_to_do() {
    let call = Call::new("check", &image("registry.example/app:1"), None);
    let error = missing_crypto_provider(&call);
    assert!(!error.is_transient());
    let Error::Internal { message, .. } = error else {
        panic!("expected an internal error: the application's set-up, not the registry");
    };
    assert!(
        message.contains("kiln::install_default_crypto_provider()"),
        "{message}"
    );
}

#[tokio::test]
async fn a_closed_port_is_unreachable() {
    install_default_crypto_provider();
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
    install_default_crypto_provider();
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
    install_default_crypto_provider();
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
    install_default_crypto_provider();
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
