//! Identity tokens: what `docker login` stores for registries whose logins go through OAuth
//! (Azure Container Registry, OIDC setups) is a refresh token. The registry's token service
//! trades it for an access token scoped to one repository — the exchange the daemon makes on
//! push and pull, made here for the requests kiln sends itself.

use kiln_core::{Credentials, Error, ImageRef, Result};
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;

use super::call::{Call, Class, classify_request_error};
use super::connection::{OciRegistry, require_crypto_provider};

/// The `client_id` kiln names itself with to token services.
const CLIENT_ID: &str = "kiln";

/// What a token service answers; `access_token` in OAuth 2 form, `token` in the older one.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    token: Option<String>,
}

impl OciRegistry {
    /// How oci-client authenticates `call` on `image` with `credentials` for `actions` (`pull`,
    /// `pull,push`): a password as Basic (oci-client trades it for a token when the registry
    /// asks for bearer authentication), an identity token traded here for an access token,
    /// anonymous without credentials.
    pub(super) async fn auth(
        &self,
        image: &ImageRef,
        credentials: Option<&Credentials>,
        actions: &str,
        call: &Call,
    ) -> Result<RegistryAuth> {
        let Some(credentials) = credentials else {
            return Ok(RegistryAuth::Anonymous);
        };
        if let Some(password) = credentials.expose_password() {
            return Ok(RegistryAuth::Basic(
                credentials.username().to_owned(),
                password.to_owned(),
            ));
        }
        match credentials.expose_identity_token() {
            Some(token) => self.exchange(image, token, actions, call).await,
            None => Ok(RegistryAuth::Anonymous),
        }
    }

    /// Asks the registry where its token service is (`GET /v2/`'s bearer challenge), then
    /// trades `identity_token` there for an access token (grant type `refresh_token`).
    async fn exchange(
        &self,
        image: &ImageRef,
        identity_token: &str,
        actions: &str,
        call: &Call,
    ) -> Result<RegistryAuth> {
        tracing::trace!(operation = %call.operation, "trading an identity token for an access token");
        require_crypto_provider(call)?;
        let client = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .timeout(self.request_timeout)
            .build()
            .map_err(|error| call.error_from(&error.to_string(), error))?;
        let failed = |error: reqwest::Error| {
            let class = classify_request_error(error.is_timeout(), error.is_connect(), &error);
            match call.map_class(class) {
                Err(Error::Registry {
                    registry,
                    operation,
                    message,
                    transient,
                    source: _,
                }) => Error::Registry {
                    registry,
                    operation,
                    message,
                    transient,
                    source: Some(call.shareable(error)),
                },
                Err(other) => other,
                Ok(()) => call.error_from(&error.to_string(), error),
            }
        };
        let probe = client
            .get(format!("{}/v2/", call.endpoint))
            .send()
            .await
            .map_err(failed)?;
        if probe.status().is_success() {
            return Ok(RegistryAuth::Anonymous);
        }
        let challenge = probe
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|value| value.to_str().ok())
            .and_then(BearerChallenge::parse)
            .ok_or_else(|| Error::AuthRefused {
                registry: call.registry.clone(),
                reason: "the credentials are an identity token, but the registry offers no \
                         token service (no bearer challenge on /v2/)"
                    .to_owned(),
            })?;
        let mut form = vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", identity_token.to_owned()),
            ("client_id", CLIENT_ID.to_owned()),
            ("scope", format!("repository:{}:{actions}", image.path())),
        ];
        if let Some(service) = challenge.service {
            form.push(("service", service));
        }
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&form)
            .finish();
        let answer = client
            .post(&challenge.realm)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .map_err(failed)?;
        let status = answer.status();
        let text = answer.text().await.map_err(failed)?;
        if !status.is_success() {
            let detail = format!("the token service answered {status}: {}", text.trim());
            let class = if matches!(status.as_u16(), 400 | 401 | 403) {
                Class::AuthRefused(detail)
            } else {
                Class::Other {
                    message: detail,
                    transient: status.is_server_error(),
                }
            };
            return Err(call
                .map_class(class)
                .err()
                .unwrap_or_else(|| call.error("the token service lost the answer")));
        }
        let answer: TokenAnswer = serde_json::from_str(&text).map_err(|error| {
            call.error_from(
                &format!("the token service's answer is not a token: {error}"),
                error,
            )
        })?;
        answer
            .access_token
            .or(answer.token)
            .filter(|token| !token.is_empty())
            .map(RegistryAuth::Bearer)
            .ok_or_else(|| call.error("the token service answered without a token"))
    }
}

/// A `WWW-Authenticate: Bearer realm="…",service="…"` challenge.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct BearerChallenge {
    pub(super) realm: String,
    pub(super) service: Option<String>,
}

impl BearerChallenge {
    /// Reads a bearer challenge; `None` for other schemes or without a realm.
    pub(super) fn parse(header: &str) -> Option<BearerChallenge> {
        let (scheme, parameters) = header.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let mut realm = None;
        let mut service = None;
        for (key, value) in challenge_parameters(parameters) {
            match key.to_ascii_lowercase().as_str() {
                "realm" => realm = Some(value),
                "service" => service = Some(value),
                _ => {}
            }
        }
        Some(BearerChallenge {
            realm: realm?,
            service,
        })
    }
}

/// The `key=value` and `key="quoted, value"` pairs of a challenge, in order.
fn challenge_parameters(text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut rest = text.trim_start();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key.trim().trim_start_matches(',').trim().to_owned();
        let after = after.trim_start();
        let (value, remainder) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((index, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => {
                        end = index + 1;
                        break;
                    }
                    other => value.push(other),
                }
            }
            (value, &quoted[end..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        pairs.push((key, value));
        rest = remainder.trim_start().trim_start_matches(',').trim_start();
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges() {
        assert_eq!(
            BearerChallenge::parse(
                r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull""#
            ),
            Some(BearerChallenge {
                realm: "https://auth.example.com/token".into(),
                service: Some("registry.example.com".into()),
            })
        );
        assert_eq!(
            BearerChallenge::parse(r#"bearer realm="http://127.0.0.1:1/t, with comma""#),
            Some(BearerChallenge {
                realm: "http://127.0.0.1:1/t, with comma".into(),
                service: None,
            })
        );
        assert_eq!(
            BearerChallenge::parse("Bearer realm=http://x/token, service=x"),
            Some(BearerChallenge {
                realm: "http://x/token".into(),
                service: Some("x".into()),
            })
        );
        assert_eq!(BearerChallenge::parse(r#"Basic realm="registry""#), None);
        assert_eq!(BearerChallenge::parse(r#"Bearer service="x""#), None);
    }
}
