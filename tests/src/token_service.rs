//! A registry token service for tests: trades one identity token (an OAuth refresh token, what
//! `docker login` stores for registries such as ACR) for access tokens that a `docker-registry`
//! in token mode ([`crate::registry::Access::Tokens`]) accepts, and, when given a user, grants
//! them to that user's password too (`GET /token?scope=…` with Basic authentication, the flow of
//! Docker Hub and most registries).
//!
//! Access tokens are JWTs signed RS256 with a key made by `openssl`; the signing certificate
//! travels in the `x5c` header and is the registry's `rootcertbundle`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::json;

use crate::tcp_daemon::openssl;

/// The `service` the registry names in its challenges and expects as the tokens' audience.
pub const TOKEN_SERVICE_NAME: &str = "kiln-test-registry";
/// The `issuer` the registry expects in the tokens.
pub const TOKEN_ISSUER: &str = "kiln-test-token-service";

/// A token service on a loopback port, stopped when dropped.
#[derive(Debug)]
pub struct TokenService {
    port: u16,
    dir: tempfile::TempDir,
    stop: Arc<AtomicBool>,
    exchanges: Arc<AtomicUsize>,
    password_grants: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

/// What the serving thread needs.
struct Issuer {
    identity_token: String,
    /// `Basic <base64(user:password)>` of the one user whose password gets tokens, if any.
    basic: Option<String>,
    key: RsaKeyPair,
    certificate_der: Vec<u8>,
    exchanges: Arc<AtomicUsize>,
    password_grants: Arc<AtomicUsize>,
}

impl TokenService {
    /// A service that honours `identity_token` (and nothing else) in `refresh_token` grants.
    ///
    /// # Errors
    ///
    /// What failed: the key, the certificate or the listener.
    pub fn start(identity_token: &str) -> Result<TokenService, String> {
        TokenService::start_with_user(identity_token, None)
    }

    /// A service that honours `identity_token` in `refresh_token` grants and, when `user` (name,
    /// password) is given, that user's password in Basic-authenticated `GET` requests.
    ///
    /// # Errors
    ///
    /// What failed: the key, the certificate or the listener.
    pub fn start_with_user(
        identity_token: &str,
        user: Option<(&str, &str)>,
    ) -> Result<TokenService, String> {
        let dir = tempfile::tempdir().map_err(|error| error.to_string())?;
        openssl(
            dir.path(),
            "genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -outform DER -out token-key.der",
        )?;
        openssl(
            dir.path(),
            "req -x509 -new -key token-key.der -keyform DER -days 2 -subj /CN=kiln-token-service \
             -out token.crt",
        )?;
        openssl(dir.path(), "x509 -in token.crt -outform DER -out token.der")?;
        let read = |name: &str| {
            std::fs::read(dir.path().join(name)).map_err(|error| format!("{name}: {error}"))
        };
        let key = RsaKeyPair::from_der(&read("token-key.der")?)
            .map_err(|error| format!("token-key.der: {error}"))?;
        let exchanges = Arc::new(AtomicUsize::new(0));
        let password_grants = Arc::new(AtomicUsize::new(0));
        let issuer = Issuer {
            identity_token: identity_token.to_owned(),
            basic: user.map(|(name, password)| {
                format!("Basic {}", STANDARD.encode(format!("{name}:{password}")))
            }),
            key,
            certificate_der: read("token.der")?,
            exchanges: Arc::clone(&exchanges),
            password_grants: Arc::clone(&password_grants),
        };
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|error| format!("cannot listen on a loopback port: {error}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let _ = issuer.answer(stream);
                }
            }
        });
        Ok(TokenService {
            port,
            dir,
            stop,
            exchanges,
            password_grants,
            thread: Some(thread),
        })
    }

    /// Where clients ask for tokens (`http://127.0.0.1:PORT/token`).
    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    /// The certificate the tokens are signed with (PEM), the registry's `rootcertbundle`.
    pub fn certificate(&self) -> PathBuf {
        self.dir.path().join("token.crt")
    }

    /// How many identity tokens were traded for access tokens so far.
    pub fn exchanges(&self) -> usize {
        self.exchanges.load(Ordering::SeqCst)
    }

    /// How many tokens were granted to the user's password so far.
    pub fn password_grants(&self) -> usize {
        self.password_grants.load(Ordering::SeqCst)
    }
}

impl Drop for TokenService {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop, which then sees the flag.
        let _ = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Issuer {
    /// Reads one HTTP request and answers it: `POST /token` with a `refresh_token` grant of the
    /// known identity token gets a token, so does `GET /token?scope=…` with the user's Basic
    /// authentication; anything else 401.
    fn answer(&self, stream: TcpStream) -> std::io::Result<()> {
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut request_line = String::new();
        reader.read_line(&mut request_line)?;
        let mut content_length = 0;
        let mut authorization = None;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.trim().eq_ignore_ascii_case("content-length") {
                    content_length = value.trim().parse().unwrap_or(0);
                } else if name.trim().eq_ignore_ascii_case("authorization") {
                    authorization = Some(value.trim().to_owned());
                }
            }
        }
        let mut body = vec![0; content_length];
        reader.read_exact(&mut body)?;
        let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
        let field = |name: &str| {
            form.iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };
        let exchanged = request_line.starts_with("POST /token ")
            && field("grant_type") == Some("refresh_token")
            && field("refresh_token") == Some(self.identity_token.as_str());
        // `GET /token?service=…&scope=…&scope=… HTTP/1.1`: each scope its own parameter.
        let query = request_line
            .strip_prefix("GET /token?")
            .and_then(|rest| rest.split(' ').next());
        let by_password = query.is_some()
            && self.basic.is_some()
            && authorization.as_deref() == self.basic.as_deref();
        let scope = if by_password {
            self.password_grants.fetch_add(1, Ordering::SeqCst);
            form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .filter(|(key, _)| key == "scope")
                .map(|(_, value)| value.into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            field("scope").unwrap_or_default().to_owned()
        };
        let (status, answer) = if exchanged || by_password {
            if exchanged {
                self.exchanges.fetch_add(1, Ordering::SeqCst);
            }
            let token = self.access_token(&scope);
            (
                "200 OK",
                json!({"access_token": token, "expires_in": 300}).to_string(),
            )
        } else {
            (
                "401 Unauthorized",
                json!({"error": "invalid_grant"}).to_string(),
            )
        };
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{answer}",
            answer.len()
        )?;
        stream.flush()
    }

    /// A JWT granting the repository actions of `scope` (`repository:NAME:pull,push`, several
    /// separated by spaces), as distribution's token auth reads them.
    fn access_token(&self, scope: &str) -> String {
        let access: Vec<_> = scope
            .split_whitespace()
            .filter_map(|one| {
                let (kind, rest) = one.split_once(':')?;
                let (name, actions) = rest.rsplit_once(':')?;
                Some(json!({
                    "type": kind,
                    "name": name,
                    "actions": actions.split(',').collect::<Vec<_>>(),
                }))
            })
            .collect();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        let header = json!({
            "alg": "RS256",
            "typ": "JWT",
            "x5c": [STANDARD.encode(&self.certificate_der)],
        });
        let claims = json!({
            "iss": TOKEN_ISSUER,
            "sub": "kiln-test",
            "aud": TOKEN_SERVICE_NAME,
            "exp": now + 300,
            "nbf": now.saturating_sub(10),
            "iat": now,
            "jti": format!("kiln-{now}-{}", self.exchanges.load(Ordering::SeqCst)),
            "access": access,
        });
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signed.as_bytes(),
                &mut signature,
            )
            .expect("RS256 signing with a freshly made key");
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}
