//! The `X-Registry-Auth` header, encoded the way the daemon decodes it.
//!
//! The daemon reads the header as URL-safe base64 and silently drops what it cannot decode,
//! while bollard writes standard base64: a password whose encoding contains `+` or `/` (such as
//! `pa??word`) then fails with "no basic auth credentials" (docs/ARCHITECTURE.md, "Known daemon
//! behaviour kiln works around"). kiln encodes its own headers URL-safe and re-encodes
//! bollard's.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use bollard::BollardRequest;
use hyper::header::HeaderValue;
use kiln_core::Credentials;
use serde_json::json;

/// The header value for `credentials` at `registry` (`{}` when anonymous).
pub(crate) fn header(credentials: Option<&Credentials>, registry: &str) -> String {
    let body = match credentials {
        Some(credentials) => match credentials.expose_identity_token() {
            Some(token) => json!({ "identitytoken": token, "serveraddress": registry }),
            None => json!({
                "username": credentials.username(),
                "password": credentials.expose_password().unwrap_or_default(),
                "serveraddress": registry,
            }),
        },
        None => json!({}),
    };
    URL_SAFE.encode(body.to_string())
}

/// bollard credentials for `credentials` at `registry`.
pub(crate) fn bollard_credentials(
    credentials: Option<&Credentials>,
    registry: &str,
) -> Option<bollard::auth::DockerCredentials> {
    let credentials = credentials?;
    Some(bollard::auth::DockerCredentials {
        username: Some(credentials.username().to_owned()).filter(|name| !name.is_empty()),
        password: credentials.expose_password().map(str::to_owned),
        identitytoken: credentials.expose_identity_token().map(str::to_owned),
        serveraddress: Some(registry.to_owned()),
        ..Default::default()
    })
}

/// A bollard request modifier that re-encodes registry headers from standard to URL-safe
/// base64.
pub(crate) fn reencode(mut request: BollardRequest) -> BollardRequest {
    for name in ["X-Registry-Auth", "X-Registry-Config"] {
        let Some(value) = request.headers().get(name) else {
            continue;
        };
        let Ok(decoded) = STANDARD.decode(value.as_bytes()) else {
            continue;
        };
        if let Ok(value) = HeaderValue::from_str(&URL_SAFE.encode(decoded)) {
            request.headers_mut().insert(name, value);
        }
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn awkward_passwords_survive_url_safe_encoding() {
        let credentials = Credentials::password("user", "pa??w>rd~ü");
        let value = header(Some(&credentials), "127.0.0.1:5000");
        assert!(!value.contains('+') && !value.contains('/'), "{value}");
        let decoded: serde_json::Value =
            serde_json::from_slice(&URL_SAFE.decode(&value).unwrap()).unwrap();
        assert_eq!(decoded["password"], "pa??w>rd~ü");
        assert_eq!(URL_SAFE.decode(header(None, "r")).unwrap(), b"{}");
    }

    #[test]
    fn bollard_headers_are_reencoded() {
        let standard = STANDARD.encode(r#"{"password":"a??"}"#);
        assert!(
            standard.contains('/') || standard.contains('+'),
            "{standard}"
        );
        let request = hyper::Request::builder()
            .header("X-Registry-Auth", &standard)
            .body(bollard::body_full(bytes::Bytes::new()))
            .unwrap();
        let request = reencode(request);
        let value = request
            .headers()
            .get("X-Registry-Auth")
            .unwrap()
            .to_str()
            .unwrap();
        assert_eq!(URL_SAFE.decode(value).unwrap(), br#"{"password":"a??"}"#);
    }
}
