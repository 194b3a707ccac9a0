//! The session's other services: `Auth` answering a registry with the credentials the build
//! was given for it (a cache source or a private base; none for the others, which the daemon
//! then pulls anonymously), no token authority (so the daemon fetches registry tokens itself),
//! and `Health`, which the daemon checks every second and closes the session when it fails.

use bollard_buildkit_proto::health::health_check_response::ServingStatus;
use bollard_buildkit_proto::health::health_server::Health;
use bollard_buildkit_proto::health::{
    HealthCheckRequest, HealthCheckResponse, HealthListRequest, HealthListResponse,
};
use bollard_buildkit_proto::moby::filesync::v1::auth_server::Auth;
use bollard_buildkit_proto::moby::filesync::v1::{
    CredentialsRequest, CredentialsResponse, FetchTokenRequest, FetchTokenResponse,
    GetTokenAuthorityRequest, GetTokenAuthorityResponse, VerifyTokenAuthorityRequest,
    VerifyTokenAuthorityResponse,
};
use futures_util::Stream;
use kiln_core::Credentials;
use std::pin::Pin;
use tonic::{Request, Response, Status};

/// `Auth` with the build's credentials, by registry domain.
#[derive(Default)]
pub(crate) struct SessionAuth {
    credentials: Vec<(String, Credentials)>,
}

impl SessionAuth {
    /// Answers each registry of `credentials` with its own, the others with none.
    pub(crate) fn new(credentials: Vec<(String, Credentials)>) -> Self {
        SessionAuth { credentials }
    }

    fn answer(&self, host: &str) -> CredentialsResponse {
        let Some((_, credentials)) = self.credentials.iter().find(|(domain, _)| {
            domain == host || (host == "registry-1.docker.io" && domain == "docker.io")
        }) else {
            return CredentialsResponse::default();
        };
        match credentials.expose_identity_token() {
            // An identity token travels as the secret of an empty user name, as the Docker CLI
            // sends it.
            Some(token) => CredentialsResponse {
                username: String::new(),
                secret: token.to_owned(),
            },
            None => CredentialsResponse {
                username: credentials.username().to_owned(),
                secret: credentials.expose_password().unwrap_or_default().to_owned(),
            },
        }
    }
}

impl std::fmt::Debug for SessionAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let domains: Vec<&str> = self.credentials.iter().map(|(d, _)| d.as_str()).collect();
        f.debug_struct("SessionAuth")
            .field("domains", &domains)
            .finish()
    }
}

#[async_trait::async_trait]
impl Auth for SessionAuth {
    async fn credentials(
        &self,
        request: Request<CredentialsRequest>,
    ) -> Result<Response<CredentialsResponse>, Status> {
        let host = &request.get_ref().host;
        let answer = self.answer(host);
        tracing::debug!(%host, found = !answer.secret.is_empty(), "session credentials asked");
        Ok(Response::new(answer))
    }

    async fn fetch_token(
        &self,
        _request: Request<FetchTokenRequest>,
    ) -> Result<Response<FetchTokenResponse>, Status> {
        // Asked only of a session that named a token authority, which this one does not.
        Err(Status::unimplemented(
            "kiln's session fetches no registry tokens",
        ))
    }

    async fn get_token_authority(
        &self,
        _request: Request<GetTokenAuthorityRequest>,
    ) -> Result<Response<GetTokenAuthorityResponse>, Status> {
        Err(Status::unavailable("client-side authentication disabled"))
    }

    async fn verify_token_authority(
        &self,
        _request: Request<VerifyTokenAuthorityRequest>,
    ) -> Result<Response<VerifyTokenAuthorityResponse>, Status> {
        Err(Status::unimplemented("client-side authentication disabled"))
    }
}

/// `Health`: serving, for as long as the session is open.
#[derive(Debug, Default)]
pub(crate) struct Serving;

type HealthStream = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

#[async_trait::async_trait]
impl Health for Serving {
    async fn check(
        &self,
        _request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        Ok(Response::new(HealthCheckResponse {
            status: ServingStatus::Serving as i32,
        }))
    }

    async fn list(
        &self,
        _request: Request<HealthListRequest>,
    ) -> Result<Response<HealthListResponse>, Status> {
        Err(Status::unimplemented("the session's health has no list"))
    }

    type WatchStream = HealthStream;

    async fn watch(
        &self,
        _request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented(
            "the session's health is checked, not watched",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_registry_gets_its_own_credentials_and_the_others_none() {
        let auth = SessionAuth::new(vec![
            (
                "localhost:5000".to_owned(),
                Credentials::password("kiln", "pa?ss"),
            ),
            (
                "token.example".to_owned(),
                Credentials::identity_token("refresh"),
            ),
        ]);
        let given = auth.answer("localhost:5000");
        assert_eq!(
            (given.username.as_str(), given.secret.as_str()),
            ("kiln", "pa?ss")
        );
        let token = auth.answer("token.example");
        assert_eq!(
            (token.username.as_str(), token.secret.as_str()),
            ("", "refresh")
        );
        assert_eq!(auth.answer("other:5000"), CredentialsResponse::default());
        assert!(
            !format!("{auth:?}").contains("pa?ss"),
            "Debug names domains only"
        );
    }
}
