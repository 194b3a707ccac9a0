//! Builds through the daemon: the classic builder, or BuildKit through the daemon's own session
//! (no buildx needed), with the context streamed and the output turned into events.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bollard::errors::Error as BollardError;
use bollard::models::{BuildInfo, BuildInfoAux};
use bollard::query_parameters::{BuildImageOptionsBuilder, BuilderVersion};
use futures_util::StreamExt;
use kiln_core::{
    BuildRequest, BuilderKind, BuiltImage, Error, EventSink, ImageEngine, ImageId, ImageRef, Result,
};

use crate::build_query::{is_uri_too_long, too_long};
use crate::buildkit_output::BuildkitOutput;
use crate::classic_output::ClassicOutput;
use crate::engine::{DockerEngine, build_timeout};
use crate::errors::is_end_of_stream_glitch;
use crate::registry_auth::bollard_credentials;
use crate::upload::tar_stream;

/// The output follower of either builder.
enum Output {
    Classic(ClassicOutput),
    Buildkit(BuildkitOutput),
}

impl Output {
    fn new(builder: BuilderKind, events: EventSink) -> Self {
        match builder {
            BuilderKind::Classic => Output::Classic(ClassicOutput::new(events)),
            BuilderKind::Buildkit => Output::Buildkit(BuildkitOutput::new(events)),
        }
    }

    /// Follows one message; returns the image id when the message carries it.
    fn feed(&mut self, info: BuildInfo) -> Option<String> {
        if let (Some(text), Output::Classic(output)) = (&info.stream, &mut *self) {
            output.feed(text);
        }
        match info.aux {
            Some(BuildInfoAux::Default(aux)) => aux.id,
            Some(BuildInfoAux::BuildKit(status)) => {
                if let Output::Buildkit(output) = self {
                    output.feed(&status);
                }
                None
            }
            None => None,
        }
    }

    fn fail(&mut self, message: &str) -> Error {
        match self {
            Output::Classic(output) => output.fail(message),
            Output::Buildkit(output) => output.fail(message),
        }
    }

    fn finish(&mut self) {
        if let Output::Classic(output) = self {
            output.finish();
        }
    }

    fn built_id(&self) -> Option<&str> {
        match self {
            Output::Classic(output) => output.built_id(),
            Output::Buildkit(_) => None,
        }
    }

    fn warnings(&self) -> Vec<String> {
        match self {
            Output::Classic(output) => output.warnings().to_vec(),
            Output::Buildkit(output) => output.warnings().to_vec(),
        }
    }
}

/// A session id for a BuildKit build: unique per process and build.
fn session_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    format!("kiln-{}-{nanos:x}", std::process::id())
}

/// Whether a failed build hit the classic builder's cache race: looking for a cached step, the
/// daemon lists the candidate images and then reads each one; an image deleted in between (by
/// anyone, for any reason) fails the build with "unable to find image", whether or not it
/// would have matched. Nothing is wrong with the build itself: running it again works.
fn lost_a_cached_image(error: &Error) -> bool {
    matches!(error, Error::BuildFailed { message, .. } if message.starts_with("unable to find image"))
}

impl DockerEngine {
    /// Runs `request` with its builder and tags the image with every tag of the request,
    /// once more when the daemon lost an image it was looking at (see `lost_a_cached_image`).
    pub(crate) async fn run_build(&self, request: BuildRequest) -> Result<BuiltImage> {
        match self.build_once(request.clone()).await {
            Err(error) if lost_a_cached_image(&error) => {
                tracing::debug!(%error, "retrying the build once: the classic builder's cache race");
                request.events.warn(format!(
                    "{error}: another process deleted an image while the daemon compared it \
                     with this build's steps (a race in the classic builder's cache); building again"
                ));
                self.build_once(request).await
            }
            other => other,
        }
    }

    async fn build_once(&self, request: BuildRequest) -> Result<BuiltImage> {
        let Some(primary) = request.tags.first() else {
            return Err(Error::invalid_input("build tags", "", "at least one tag"));
        };
        // The request's Debug leaves build arg values out: some may be secrets.
        tracing::trace!(?request, "POST /build");
        let docker = self
            .client()
            .await?
            .clone()
            .with_timeout(build_timeout(request.context.content_bytes()));
        let build_args: HashMap<&str, &str> = request
            .build_args
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        let labels: HashMap<&str, &str> = request
            .labels
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        let mut options = BuildImageOptionsBuilder::default()
            .dockerfile(&request.dockerfile)
            .t(&primary.familiar())
            .rm(true)
            .forcerm(true)
            .nocache(request.no_cache)
            .buildargs(&build_args)
            .labels(&labels);
        options = match request.builder {
            BuilderKind::Classic => options.version(BuilderVersion::BuilderV1),
            BuilderKind::Buildkit => options
                .version(BuilderVersion::BuilderBuildKit)
                .session(&session_id()),
        };
        if let Some(platform) = &request.platform {
            options = options.platform(&platform.to_string());
        }
        if let Some(target) = &request.target {
            options = options.target(target);
        }
        let cache_from: Vec<String> = request.cache_from.iter().map(ImageRef::familiar).collect();
        if request.builder == BuilderKind::Buildkit && !cache_from.is_empty() {
            options = options.cachefrom(&cache_from);
        }
        // What the daemon asks the session for when it pulls a private base or cache source.
        let credentials: HashMap<String, bollard::auth::DockerCredentials> = request
            .registry_credentials
            .iter()
            .filter_map(|(domain, credentials)| {
                bollard_credentials(Some(credentials), domain)
                    .map(|converted| (domain.clone(), converted))
            })
            .collect();

        let (body, upload) = tar_stream(Arc::clone(&request.context), request.events.clone());
        let mut stream = docker.build_image(
            options.build(),
            Some(credentials).filter(|given| !given.is_empty()),
            Some(bollard::body_try_stream(body)),
        );
        let mut output = Output::new(request.builder, request.events.clone());
        let mut image_id: Option<String> = None;
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => image_id = output.feed(info).or(image_id),
                Err(BollardError::DockerStreamError { error }) => return Err(output.fail(&error)),
                Err(error) if image_id.is_some() && is_end_of_stream_glitch(&error) => break,
                Err(error) => {
                    if let Some(upload_error) = upload.take_error() {
                        return Err(Error::context("<build context>", upload_error));
                    }
                    return Err(match error {
                        BollardError::DockerResponseServerError { message, .. } => {
                            output.fail(&message)
                        }
                        other if is_uri_too_long(&other) => too_long(&request.build_args, None),
                        other => self.map("build", &primary.familiar(), other),
                    });
                }
            }
        }
        output.finish();
        let found = image_id.or_else(|| output.built_id().map(str::to_owned));
        let image_id = match found.as_deref().map(ImageId::parse) {
            Some(Ok(id)) => id,
            _ => {
                // The classic builder's short id, or BuildKit's exporter that named none: ask.
                let name = found.unwrap_or_else(|| primary.familiar());
                self.inspect_name(&name)
                    .await?
                    .map(|details| details.id)
                    .ok_or_else(|| {
                        Error::engine("build", "the daemon ended the build without an image id")
                    })?
            }
        };
        for tag in &request.tags[1..] {
            self.tag(&image_id, tag).await?;
        }
        Ok(BuiltImage {
            image_id,
            warnings: output.warnings(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_race_is_recognised() {
        let race = Error::BuildFailed {
            step: Some("Step 2/6 : ARG BUILD_MODE".into()),
            message: "unable to find image \"sha256:ae4b\"".into(),
            log_tail: vec![],
        };
        assert!(lost_a_cached_image(&race));
        let real = Error::BuildFailed {
            step: None,
            message: "The command '/bin/sh -c false' returned a non-zero code: 1".into(),
            log_tail: vec![],
        };
        assert!(!lost_a_cached_image(&real));
    }
}
