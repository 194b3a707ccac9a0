//! The session's other services, as bollard's session served them for kiln's builds: `Auth`
//! answering every registry with no credentials (kiln's builds pass none, so the daemon pulls
//! `FROM` images anonymously, as before), no token authority (so the daemon fetches registry
//! tokens itself), and `Health`, which the daemon checks every second, closing the session when
//! it fails.

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
use std::pin::Pin;
use tonic::{Request, Response, Status};

/// `Auth` with no credentials for any registry.
#[derive(Debug, Default)]
pub(crate) struct AnonymousAuth;

#[async_trait::async_trait]
impl Auth for AnonymousAuth {
    async fn credentials(
        &self,
        request: Request<CredentialsRequest>,
    ) -> Result<Response<CredentialsResponse>, Status> {
        tracing::trace!(host = %request.get_ref().host, "session credentials asked: none given");
        Ok(Response::new(CredentialsResponse::default()))
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
