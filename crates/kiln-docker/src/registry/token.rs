//! Identity tokens: what `docker login` stores for registries whose logins go through OAuth
//! (Azure Container Registry, OIDC setups) is a refresh token. The registry's token service
//! trades it for an access token scoped to one repository — the exchange the daemon makes on
//! push and pull, made here for the requests kiln sends itself. A call that spans two
//! repositories (a copy's cross-repository mounts) gets one token for both, whatever the
//! credentials.

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

/// One repository and the actions a token must grant on it: `repository:team/app:pull,push`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Scope<'a> {
    /// The repository path (`team/app`).
    pub(super) repository: &'a str,
    /// `pull` or `pull,push`.
    pub(super) actions: &'a str,
}

impl Scope<'_> {
    /// The scope as token services read it.
    fn text(&self) -> String {
        format!("repository:{}:{}", self.repository, self.actions)
    }
}

/// How the registry's `GET /v2/` answers a client without credentials.
enum Gate {
    /// It lets anyone in (2xx).
    Open,
    /// It asks for bearer tokens of this service.
    Bearer(BearerChallenge),
    /// It asks for something else (Basic authentication).
    Other,
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
            Some(token) => {
                let scope = Scope {
                    repository: image.path(),
                    actions,
                };
                self.exchange(token, &[scope], call).await
            }
            None => Ok(RegistryAuth::Anonymous),
        }
    }

    /// How oci-client authenticates a `call` that spans several repositories (`scopes`, e.g. a
    /// cross-repository mount, which needs `pull` on the source in the token of the target).
    ///
    /// oci-client asks a token service for one repository at a time, so where the registry
    /// hands out bearer tokens kiln fetches one token that grants every scope itself: for a
    /// password or anonymously by `GET` on the token service (Basic authentication of the
    /// password), for an identity token by the OAuth `refresh_token` grant. Where it does not,
    /// a password is sent as Basic and no credentials as none.
    pub(super) async fn auth_across(
        &self,
        scopes: &[Scope<'_>],
        credentials: Option<&Credentials>,
        call: &Call,
    ) -> Result<RegistryAuth> {
        let password = credentials.and_then(|credentials| {
            credentials
                .expose_password()
                .map(|password| (credentials.username(), password))
        });
        if password.is_none()
            && let Some(token) = credentials.and_then(Credentials::expose_identity_token)
        {
            return self.exchange(token, scopes, call).await;
        }
        match self.gate(call).await? {
            Gate::Bearer(challenge) => self.fetch_token(&challenge, password, scopes, call).await,
            Gate::Open | Gate::Other => Ok(match password {
                Some((user, password)) => RegistryAuth::Basic(user.to_owned(), password.to_owned()),
                None => RegistryAuth::Anonymous,
            }),
        }
    }

    /// A reqwest client with kiln's timeouts, for the requests oci-client does not make.
    fn http_client(&self, call: &Call) -> Result<reqwest::Client> {
        require_crypto_provider(call)?;
        reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .timeout(self.request_timeout)
            .build()
            .map_err(|error| call.error_from(&error.to_string(), error))
    }

    /// Asks the registry how it lets clients in (`GET /v2/` and its challenge).
    async fn gate(&self, call: &Call) -> Result<Gate> {
        let client = self.http_client(call)?;
        let probe = client
            .get(format!("{}/v2/", call.endpoint))
            .send()
            .await
            .map_err(|error| request_failed(call, error))?;
        if probe.status().is_success() {
            return Ok(Gate::Open);
        }
        Ok(probe
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|value| value.to_str().ok())
            .and_then(BearerChallenge::parse)
            .map_or(Gate::Other, Gate::Bearer))
    }

    /// Asks the registry where its token service is (`GET /v2/`'s bearer challenge), then
    /// trades `identity_token` there for an access token granting `scopes` (grant type
    /// `refresh_token`).
    async fn exchange(
        &self,
        identity_token: &str,
        scopes: &[Scope<'_>],
        call: &Call,
    ) -> Result<RegistryAuth> {
        tracing::trace!(operation = %call.operation, "trading an identity token for an access token");
        let challenge = match self.gate(call).await? {
            Gate::Open => return Ok(RegistryAuth::Anonymous),
            Gate::Bearer(challenge) => challenge,
            Gate::Other => {
                return Err(Error::AuthRefused {
                    registry: call.registry.clone(),
                    reason: "the credentials are an identity token, but the registry offers no \
                             token service (no bearer challenge on /v2/)"
                        .to_owned(),
                });
            }
        };
        let scope = scopes.iter().map(Scope::text).collect::<Vec<_>>().join(" ");
        let mut form = vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", identity_token.to_owned()),
            ("client_id", CLIENT_ID.to_owned()),
            ("scope", scope),
        ];
        if let Some(service) = challenge.service {
            form.push(("service", service));
        }
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&form)
            .finish();
        let answer = self
            .http_client(call)?
            .post(&challenge.realm)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .map_err(|error| request_failed(call, error))?;
        read_token(answer, call).await
    }

    /// Fetches a token granting `scopes` from the token service of `challenge` by `GET`, with
    /// Basic authentication of `password` (user, password) or anonymously.
    async fn fetch_token(
        &self,
        challenge: &BearerChallenge,
        password: Option<(&str, &str)>,
        scopes: &[Scope<'_>],
        call: &Call,
    ) -> Result<RegistryAuth> {
        tracing::trace!(operation = %call.operation, "fetching a token for several repositories");
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(service) = &challenge.service {
            pairs.push(("service", service.clone()));
        }
        pairs.extend(scopes.iter().map(|scope| ("scope", scope.text())));
        if let Some((user, _)) = password {
            pairs.push(("account", user.to_owned()));
        }
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        let separator = if challenge.realm.contains('?') {
            '&'
        } else {
            '?'
        };
        let url = format!("{}{separator}{query}", challenge.realm);
        let mut request = self.http_client(call)?.get(url);
        if let Some((user, password)) = password {
            request = request.basic_auth(user, Some(password));
        }
        let answer = request
            .send()
            .await
            .map_err(|error| request_failed(call, error))?;
        read_token(answer, call).await
    }
}

/// kiln's error for a request to the registry or its token service that got no answer.
fn request_failed(call: &Call, error: reqwest::Error) -> Error {
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
}

/// The access token a token service answered, or kiln's error for its refusal.
async fn read_token(answer: reqwest::Response, call: &Call) -> Result<RegistryAuth> {
    let status = answer.status();
    let text = answer
        .text()
        .await
        .map_err(|error| request_failed(call, error))?;
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

    #[test]
    fn scopes_read_as_token_services_expect() {
        let scope = Scope {
            repository: "team/app",
            actions: "pull,push",
        };
        assert_eq!(scope.text(), "repository:team/app:pull,push");
    }
}
