//! `DockerEngine` as a [`ContainerRuntime`]: containers created, started, stopped, waited for,
//! inspected, read and removed through the Docker Engine API.

use std::collections::HashMap;
use std::future::ready;
use std::time::Duration;

use async_trait::async_trait;
use bollard::container::LogOutput;
use bollard::errors::Error as BollardError;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, ListContainersOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use futures_util::StreamExt;
use kiln_core::{
    ContainerDetails, ContainerId, ContainerRuntime, ContainerSpec, ContainerSummary, Error,
    ExitStatus, LabelFilter, LogChunk, LogOptions, LogSource, LogStream, NetworkRuntime, Removal,
    Result,
};

use crate::container_model::{container_id, create_body, details_from, summary_from};
use crate::engine::DockerEngine;
use crate::errors::is_end_of_stream_glitch;
use crate::runtime_errors::{About, Answer, answer_of, map_runtime_error};

/// How long a stop request may take beyond its grace period.
const STOP_SLACK: Duration = Duration::from_secs(60);

impl DockerEngine {
    /// Maps an error of `operation` about `about`.
    pub(crate) fn runtime_error(
        &self,
        operation: &str,
        about: About<'_>,
        error: BollardError,
    ) -> Error {
        map_runtime_error(&self.endpoint().host, operation, about, error)
    }

    /// Docker's `label` filter for `filter` (none when it selects everything).
    pub(crate) fn label_filters(filter: &LabelFilter) -> HashMap<String, Vec<String>> {
        if filter.is_empty() {
            return HashMap::new();
        }
        HashMap::from([("label".to_owned(), filter.docker_terms())])
    }
}

/// The chunk of a log frame; `None` for the stdin echo that logs never carry.
fn chunk_of(output: LogOutput) -> Option<LogChunk> {
    let (stream, message) = match output {
        LogOutput::StdOut { message } => (LogSource::Stdout, message),
        LogOutput::StdErr { message } => (LogSource::Stderr, message),
        LogOutput::Console { message } => (LogSource::Console, message),
        LogOutput::StdIn { .. } => return None,
    };
    Some(LogChunk {
        stream,
        bytes: message.to_vec(),
    })
}

#[async_trait]
impl ContainerRuntime for DockerEngine {
    async fn create(&self, spec: ContainerSpec) -> Result<ContainerId> {
        tracing::trace!(name = %spec.name, image = %spec.image, "POST /containers/create");
        let docker = self.client().await?;
        let about = About::container(&spec.name)
            .and_image(&spec.image)
            .and_network(spec.network.as_ref().map(|a| a.network.as_str()));
        // Daemons before API 1.44 look the network up only at start: ask first, so that create
        // says it is missing, as later daemons do.
        if let Some(attachment) = &spec.network
            && self.inspect_network(&attachment.network).await?.is_none()
        {
            return Err(Error::NetworkNotFound {
                network: attachment.network.clone(),
            });
        }
        let options = CreateContainerOptionsBuilder::default()
            .name(&spec.name)
            .build();
        let created = docker
            .create_container(Some(options), create_body(&spec))
            .await
            .map_err(|error| self.runtime_error("create", about, error))?;
        container_id(&format!("create container {}", spec.name), &created.id)
    }

    async fn start(&self, id: &ContainerId) -> Result<()> {
        tracing::trace!(container = %id.short(), "POST /containers/{{id}}/start");
        let docker = self.client().await?;
        docker
            .start_container(id.as_str(), None)
            .await
            .map_err(|error| self.runtime_error("start", About::container(id.as_str()), error))
    }

    async fn stop(&self, id: &ContainerId, grace: Duration) -> Result<()> {
        tracing::trace!(container = %id.short(), ?grace, "POST /containers/{{id}}/stop");
        // The daemon answers once the container has ended: allow for the whole grace period.
        let docker = self
            .client()
            .await?
            .clone()
            .with_timeout(grace + STOP_SLACK);
        let seconds = i32::try_from(grace.as_secs() + u64::from(grace.subsec_nanos() > 0))
            .unwrap_or(i32::MAX);
        let options = StopContainerOptionsBuilder::default().t(seconds).build();
        docker
            .stop_container(id.as_str(), Some(options))
            .await
            .map_err(|error| self.runtime_error("stop", About::container(id.as_str()), error))
    }

    async fn kill(&self, id: &ContainerId) -> Result<()> {
        tracing::trace!(container = %id.short(), "POST /containers/{{id}}/kill");
        let docker = self.client().await?;
        let options = KillContainerOptionsBuilder::default()
            .signal("SIGKILL")
            .build();
        match docker.kill_container(id.as_str(), Some(options)).await {
            Ok(()) => Ok(()),
            Err(error) if answer_of(&error) == Some(Answer::NotRunning) => Ok(()),
            Err(error) => Err(self.runtime_error("kill", About::container(id.as_str()), error)),
        }
    }

    async fn wait(&self, id: &ContainerId) -> Result<ExitStatus> {
        tracing::trace!(container = %id.short(), "POST /containers/{{id}}/wait");
        let docker = self.client().await?;
        let about = About::container(id.as_str());
        let mut answers = docker.wait_container(id.as_str(), None);
        let code = match answers.next().await {
            Some(Ok(answer)) => answer.status_code,
            // bollard turns a non-zero exit code into an error.
            Some(Err(BollardError::DockerContainerWaitError { code, .. })) => code,
            Some(Err(error)) => return Err(self.runtime_error("wait for", about, error)),
            None => {
                return Err(Error::engine(
                    format!("wait for container {id}"),
                    "the daemon ended the answer without an exit code",
                ));
            }
        };
        // The OOM kill is only in the container's state (gone if someone removed the container
        // in the meantime: the exit code is known all the same).
        let details = self.inspect(id).await?;
        Ok(ExitStatus {
            code,
            oom_killed: details.is_some_and(|details| details.oom_killed),
        })
    }

    async fn inspect(&self, id: &ContainerId) -> Result<Option<ContainerDetails>> {
        tracing::trace!(container = %id.short(), "GET /containers/{{id}}/json");
        let docker = self.client().await?;
        match docker.inspect_container(id.as_str(), None).await {
            Ok(inspect) => details_from(inspect).map(Some),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(error) => Err(self.runtime_error("inspect", About::container(id.as_str()), error)),
        }
    }

    async fn logs(&self, id: &ContainerId, options: LogOptions) -> Result<LogStream> {
        tracing::trace!(container = %id.short(), ?options, "GET /containers/{{id}}/logs");
        // The stream reports a missing container only when read: ask first, so that the call
        // itself says so.
        if self.inspect(id).await?.is_none() {
            return Err(Error::ContainerNotFound {
                container: id.to_string(),
            });
        }
        let docker = self.client().await?;
        let tail = options
            .tail
            .map_or("all".to_owned(), |lines| lines.to_string());
        let query = LogsOptionsBuilder::default()
            .follow(options.follow)
            .stdout(true)
            .stderr(true)
            .timestamps(options.timestamps)
            .tail(&tail)
            .build();
        let endpoint = self.endpoint().host.clone();
        let name = id.to_string();
        let stream = docker
            .logs(id.as_str(), Some(query))
            .take_while(|item| ready(!matches!(item, Err(error) if is_end_of_stream_glitch(error))))
            .filter_map(move |item| {
                ready(match item {
                    Ok(output) => chunk_of(output).map(Ok),
                    Err(error) => Some(Err(map_runtime_error(
                        &endpoint,
                        "read the logs of",
                        About::container(&name),
                        error,
                    ))),
                })
            });
        Ok(Box::pin(stream))
    }

    async fn remove(&self, id: &ContainerId, force: bool) -> Result<Removal> {
        tracing::trace!(container = %id.short(), force, "DELETE /containers/{{id}}");
        let docker = self.client().await?;
        let options = RemoveContainerOptionsBuilder::default()
            .force(force)
            .v(true)
            .build();
        match docker.remove_container(id.as_str(), Some(options)).await {
            Ok(()) => Ok(Removal::Removed),
            Err(error) => match answer_of(&error) {
                // Another caller is removing it: nothing left to do here.
                Some(Answer::NoSuchContainer | Answer::RemovalInProgress) => Ok(Removal::NotFound),
                _ if matches!(
                    error,
                    BollardError::DockerResponseServerError {
                        status_code: 404,
                        ..
                    }
                ) =>
                {
                    Ok(Removal::NotFound)
                }
                _ => Err(self.runtime_error("remove", About::container(id.as_str()), error)),
            },
        }
    }

    async fn list(&self, filter: &LabelFilter) -> Result<Vec<ContainerSummary>> {
        tracing::trace!(%filter, "GET /containers/json");
        let docker = self.client().await?;
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&Self::label_filters(filter))
            .build();
        let listed = docker
            .list_containers(Some(options))
            .await
            .map_err(|error| {
                map_runtime_error(
                    &self.endpoint().host,
                    "list containers",
                    About::default(),
                    error,
                )
            })?;
        listed.into_iter().map(summary_from).collect()
    }

    async fn exec(&self, id: &ContainerId, argv: Vec<String>) -> Result<i64> {
        tracing::trace!(container = %id.short(), ?argv, "POST /containers/{{id}}/exec");
        let docker = self.client().await?;
        let about = || About::container(id.as_str());
        let config = bollard::models::ExecConfig {
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            cmd: Some(argv),
            ..Default::default()
        };
        let created = docker
            .create_exec(id.as_str(), config)
            .await
            .map_err(|error| self.runtime_error("exec in", about(), error))?;
        // Attached, the start returns once the output ends: the process has exited.
        match docker
            .start_exec(&created.id, None::<bollard::exec::StartExecOptions>)
            .await
            .map_err(|error| self.runtime_error("exec in", about(), error))?
        {
            bollard::exec::StartExecResults::Attached { mut output, .. } => {
                while let Some(chunk) = output.next().await {
                    if let Err(error) = chunk
                        && !is_end_of_stream_glitch(&error)
                    {
                        return Err(self.runtime_error("exec in", about(), error));
                    }
                }
            }
            bollard::exec::StartExecResults::Detached => {}
        }
        let inspected = docker
            .inspect_exec(&created.id)
            .await
            .map_err(|error| self.runtime_error("exec in", about(), error))?;
        inspected.exit_code.ok_or_else(|| {
            Error::engine(
                "exec in a container",
                format!(
                    "the daemon gave no exit code for the command in {}",
                    id.short()
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::{Endpoint, EndpointSource};
    use kiln_core::{ErrorKind, NetworkSpec};

    #[tokio::test]
    async fn a_missing_daemon_is_unreachable_for_containers_and_networks() {
        let engine = DockerEngine::new(Endpoint::new(
            "unix:///tmp/kiln-no-such-daemon.sock",
            EndpointSource::DockerHost,
        ));
        let id = ContainerId::parse(&"a".repeat(64)).unwrap();
        let errors = [
            engine
                .create(ContainerSpec::new("c", "app:1"))
                .await
                .unwrap_err(),
            engine.wait(&id).await.unwrap_err(),
            engine.logs(&id, LogOptions::new()).await.err().unwrap(),
            engine.list(&LabelFilter::any()).await.unwrap_err(),
            engine
                .create_network(NetworkSpec::new("n"))
                .await
                .unwrap_err(),
            engine.list_networks(&LabelFilter::any()).await.unwrap_err(),
        ];
        for error in errors {
            assert_eq!(error.kind(), ErrorKind::Unreachable, "{error}");
        }
    }

    #[test]
    fn label_filters_are_dockers_label_terms() {
        assert!(DockerEngine::label_filters(&LabelFilter::any()).is_empty());
        let filter = LabelFilter::any().has("a").equals("b", "c");
        let filters = DockerEngine::label_filters(&filter);
        assert_eq!(filters["label"], ["a", "b=c"]);
    }
}
