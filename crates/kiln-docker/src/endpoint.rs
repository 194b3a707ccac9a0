//! Where the Docker daemon is: `DOCKER_HOST`, then the current Docker context, then the default.
//!
//! This follows the Docker CLI's order: `DOCKER_HOST` wins; otherwise the context named by
//! `DOCKER_CONTEXT`, else the CLI config's `currentContext`, is read from the contexts store
//! (`<config>/contexts/meta/<sha256(name)>/meta.json`, TLS files under `contexts/tls/`); otherwise
//! the local socket. Nothing here changes the environment or the CLI's configuration.
//!
//! An `ssh://` host takes no TLS settings; the password of an `ssh://user:password@` host is
//! replaced by `***` here (such a host is refused when the engine connects), so it is never
//! kept, shown or logged. `KILN_SSH_CONFIG` names the ssh client configuration for ssh hosts.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use kiln_core::{Env, Error};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::ssh::redact_password;

/// The daemon's socket when nothing else is configured.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// Client certificate files for a TLS connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA certificate (`ca.pem`).
    pub ca: PathBuf,
    /// The client certificate (`cert.pem`).
    pub cert: PathBuf,
    /// The client key (`key.pem`).
    pub key: PathBuf,
}

/// Where an endpoint came from, for diagnostics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointSource {
    /// The `DOCKER_HOST` variable.
    DockerHost,
    /// A Docker CLI context, named by `DOCKER_CONTEXT` or the CLI config.
    Context(String),
    /// The default socket.
    Default,
}

impl fmt::Display for EndpointSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointSource::DockerHost => f.write_str("DOCKER_HOST"),
            EndpointSource::Context(name) => write!(f, "Docker context {name:?}"),
            EndpointSource::Default => f.write_str("default socket"),
        }
    }
}

/// A resolved daemon endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The host URL: `unix:///path`, `tcp://host:port`, `http://...`, `https://...` or
    /// `ssh://[user@]host[:port][/path/to/socket]`.
    pub host: String,
    /// TLS files, when the connection uses TLS.
    pub tls: Option<TlsFiles>,
    /// Where this endpoint came from.
    pub source: EndpointSource,
    /// The configuration file the ssh client reads instead of the user's (`ssh -F`), for
    /// `ssh://` hosts: `KILN_SSH_CONFIG`.
    pub ssh_config: Option<PathBuf>,
}

impl Endpoint {
    /// An endpoint for `host`, from `source`, with no TLS files and no ssh configuration.
    pub fn new(host: impl Into<String>, source: EndpointSource) -> Endpoint {
        Endpoint {
            host: redact_password(&host.into()),
            tls: None,
            source,
            ssh_config: None,
        }
    }

    /// Whether the daemon is reached over ssh.
    pub fn is_ssh(&self) -> bool {
        self.host.starts_with("ssh://")
    }
}

#[derive(Debug, Deserialize)]
struct CliConfig {
    #[serde(rename = "currentContext", default)]
    current_context: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ContextMeta {
    #[serde(rename = "Endpoints", default)]
    endpoints: ContextEndpoints,
}

#[derive(Debug, Default, Deserialize)]
struct ContextEndpoints {
    docker: Option<ContextDockerEndpoint>,
}

#[derive(Debug, Deserialize)]
struct ContextDockerEndpoint {
    #[serde(rename = "Host")]
    host: Option<String>,
}

/// The Docker CLI's configuration directory: `DOCKER_CONFIG`, else `~/.docker`.
pub fn docker_config_dir(env: &dyn Env) -> Option<PathBuf> {
    env.path("DOCKER_CONFIG")
        .or_else(|| env.path("HOME").map(|home| home.join(".docker")))
}

/// Resolves the daemon endpoint from the environment and the Docker CLI's context store.
pub fn resolve_endpoint(env: &dyn Env) -> Result<Endpoint, Error> {
    let mut endpoint = endpoint_from(env)?;
    endpoint.ssh_config = env.path("KILN_SSH_CONFIG");
    Ok(endpoint)
}

fn endpoint_from(env: &dyn Env) -> Result<Endpoint, Error> {
    if let Some(host) = env.var("DOCKER_HOST").filter(|host| !host.is_empty()) {
        let mut endpoint = Endpoint::new(host, EndpointSource::DockerHost);
        if !endpoint.is_ssh() {
            endpoint.tls = tls_from_env(env, &endpoint.host)?;
        }
        return Ok(endpoint);
    }
    let config_dir = docker_config_dir(env);
    let context_name = match env.var("DOCKER_CONTEXT").filter(|name| !name.is_empty()) {
        Some(name) => Some(name),
        None => config_dir.as_deref().and_then(current_context),
    };
    match context_name {
        Some(name) if name != "default" => {
            let Some(config_dir) = config_dir else {
                return Err(context_error(
                    &name,
                    "neither DOCKER_CONFIG nor HOME is set",
                ));
            };
            endpoint_of_context(&config_dir, &name)
        }
        _ => Ok(Endpoint::new(DEFAULT_HOST, EndpointSource::Default)),
    }
}

/// `DOCKER_TLS_VERIFY` (or `DOCKER_TLS`) with certificates from `DOCKER_CERT_PATH` (else `~/.docker`).
fn tls_from_env(env: &dyn Env, host: &str) -> Result<Option<TlsFiles>, Error> {
    let wants_tls = env.var("DOCKER_TLS_VERIFY").is_some_and(|v| !v.is_empty())
        || env.var("DOCKER_TLS").is_some_and(|v| !v.is_empty());
    if !wants_tls {
        return Ok(None);
    }
    let dir = env
        .path("DOCKER_CERT_PATH")
        .or_else(|| docker_config_dir(env))
        .ok_or_else(|| {
            Error::invalid_input(
                "DOCKER_TLS_VERIFY",
                "1",
                "DOCKER_CERT_PATH (or HOME) to locate ca.pem, cert.pem and key.pem",
            )
        })?;
    let files = TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    for file in [&files.ca, &files.cert, &files.key] {
        if !file.is_file() {
            return Err(Error::invalid_input(
                "TLS certificate for DOCKER_HOST",
                file.display().to_string(),
                format!("an existing file (TLS is on for {host} because DOCKER_TLS_VERIFY is set)"),
            ));
        }
    }
    Ok(Some(files))
}

fn current_context(config_dir: &Path) -> Option<String> {
    let text = fs::read_to_string(config_dir.join("config.json")).ok()?;
    let config: CliConfig = serde_json::from_str(&text).ok()?;
    config.current_context.filter(|name| !name.is_empty())
}

fn context_error(name: &str, problem: &str) -> Error {
    Error::invalid_input(
        "Docker context",
        name,
        format!("a context in the Docker CLI's store ({problem})"),
    )
}

fn endpoint_of_context(config_dir: &Path, name: &str) -> Result<Endpoint, Error> {
    let id = hex::encode(Sha256::digest(name.as_bytes()));
    let meta_path = config_dir.join("contexts/meta").join(&id).join("meta.json");
    let text = fs::read_to_string(&meta_path)
        .map_err(|_| context_error(name, &format!("{} is missing", meta_path.display())))?;
    let meta: ContextMeta = serde_json::from_str(&text).map_err(|error| {
        context_error(
            name,
            &format!("{} is invalid: {error}", meta_path.display()),
        )
    })?;
    let docker = meta
        .endpoints
        .docker
        .ok_or_else(|| context_error(name, "it has no docker endpoint"))?;
    let host = docker
        .host
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| DEFAULT_HOST.to_owned());
    let tls_dir = config_dir.join("contexts/tls").join(&id).join("docker");
    let tls = TlsFiles {
        ca: tls_dir.join("ca.pem"),
        cert: tls_dir.join("cert.pem"),
        key: tls_dir.join("key.pem"),
    };
    let mut endpoint = Endpoint::new(host, EndpointSource::Context(name.to_owned()));
    let has_tls = tls.ca.is_file() && tls.cert.is_file() && tls.key.is_file();
    if has_tls && !endpoint.is_ssh() {
        endpoint.tls = Some(tls);
    }
    Ok(endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::MapEnv;

    fn write_context(config: &Path, name: &str, host: &str) {
        let id = hex::encode(Sha256::digest(name.as_bytes()));
        let dir = config.join("contexts/meta").join(id);
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join("meta.json"),
            format!(
                r#"{{"Name":"{name}","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"{host}","SkipTLSVerify":false}}}}}}"#
            ),
        )
        .unwrap();
    }

    #[test]
    fn default_socket_when_nothing_is_set() {
        let endpoint = resolve_endpoint(&MapEnv::new()).unwrap();
        assert_eq!(endpoint.host, DEFAULT_HOST);
        assert_eq!(endpoint.source, EndpointSource::Default);
    }

    #[test]
    fn docker_host_wins_over_contexts() {
        let dir = tempfile::tempdir().unwrap();
        write_context(dir.path(), "remote", "tcp://10.0.0.1:2375");
        let env = MapEnv::new()
            .with("DOCKER_HOST", "unix:///tmp/other.sock")
            .with("DOCKER_CONTEXT", "remote")
            .with("DOCKER_CONFIG", dir.path().to_str().unwrap());
        let endpoint = resolve_endpoint(&env).unwrap();
        assert_eq!(endpoint.host, "unix:///tmp/other.sock");
        assert_eq!(endpoint.source, EndpointSource::DockerHost);
    }

    #[test]
    fn docker_context_variable_then_current_context() {
        let dir = tempfile::tempdir().unwrap();
        write_context(dir.path(), "remote", "tcp://10.0.0.1:2375");
        write_context(dir.path(), "other", "unix:///run/other.sock");
        fs::write(
            dir.path().join("config.json"),
            r#"{"currentContext":"other"}"#,
        )
        .unwrap();
        let config = dir.path().to_str().unwrap();

        let env = MapEnv::new()
            .with("DOCKER_CONFIG", config)
            .with("DOCKER_CONTEXT", "remote");
        let endpoint = resolve_endpoint(&env).unwrap();
        assert_eq!(endpoint.host, "tcp://10.0.0.1:2375");
        assert_eq!(endpoint.source, EndpointSource::Context("remote".into()));

        let env = MapEnv::new().with("DOCKER_CONFIG", config);
        assert_eq!(
            resolve_endpoint(&env).unwrap().host,
            "unix:///run/other.sock"
        );

        let env = MapEnv::new()
            .with("DOCKER_CONFIG", config)
            .with("DOCKER_CONTEXT", "default");
        assert_eq!(resolve_endpoint(&env).unwrap().host, DEFAULT_HOST);
    }

    #[test]
    fn missing_context_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let env = MapEnv::new()
            .with("DOCKER_CONFIG", dir.path().to_str().unwrap())
            .with("DOCKER_CONTEXT", "ghost");
        let error = resolve_endpoint(&env).unwrap_err().to_string();
        assert!(error.contains("\"ghost\""), "{error}");
    }

    #[test]
    fn tls_needs_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let env = MapEnv::new()
            .with("DOCKER_HOST", "tcp://127.0.0.1:2376")
            .with("DOCKER_TLS_VERIFY", "1")
            .with("DOCKER_CERT_PATH", dir.path().to_str().unwrap());
        let error = resolve_endpoint(&env).unwrap_err().to_string();
        assert!(error.contains("ca.pem"), "{error}");
        for file in ["ca.pem", "cert.pem", "key.pem"] {
            fs::write(dir.path().join(file), "x").unwrap();
        }
        let endpoint = resolve_endpoint(&env).unwrap();
        assert_eq!(endpoint.tls.unwrap().key, dir.path().join("key.pem"));
    }

    #[test]
    fn ssh_hosts_take_the_ssh_configuration_and_no_tls() {
        let dir = tempfile::tempdir().unwrap();
        let env = MapEnv::new()
            .with("DOCKER_HOST", "ssh://deploy@build-1:2222")
            .with("DOCKER_TLS_VERIFY", "1")
            .with("DOCKER_CERT_PATH", dir.path().to_str().unwrap())
            .with("KILN_SSH_CONFIG", "/etc/kiln/ssh_config");
        let endpoint = resolve_endpoint(&env).unwrap();
        assert_eq!(endpoint.host, "ssh://deploy@build-1:2222");
        assert!(endpoint.is_ssh());
        assert_eq!(endpoint.tls, None, "no certificates are looked for");
        assert_eq!(
            endpoint.ssh_config.as_deref(),
            Some(Path::new("/etc/kiln/ssh_config"))
        );

        write_context(dir.path(), "remote", "ssh://root@10.0.0.9");
        let env = MapEnv::new()
            .with("DOCKER_CONFIG", dir.path().to_str().unwrap())
            .with("DOCKER_CONTEXT", "remote");
        let endpoint = resolve_endpoint(&env).unwrap();
        assert_eq!(endpoint.host, "ssh://root@10.0.0.9");
        assert_eq!(endpoint.ssh_config, None);
    }

    #[test]
    fn an_ssh_password_is_never_kept() {
        let dir = tempfile::tempdir().unwrap();
        write_context(dir.path(), "remote", "ssh://root:s3cret@10.0.0.9");
        for env in [
            MapEnv::new().with("DOCKER_HOST", "ssh://root:s3cret@10.0.0.9"),
            MapEnv::new()
                .with("DOCKER_CONFIG", dir.path().to_str().unwrap())
                .with("DOCKER_CONTEXT", "remote"),
        ] {
            let endpoint = resolve_endpoint(&env).unwrap();
            assert_eq!(endpoint.host, "ssh://root:***@10.0.0.9");
            assert!(!format!("{endpoint:?}").contains("s3cret"));
        }
    }
}
