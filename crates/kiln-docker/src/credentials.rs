//! Registry credentials: given explicitly, from `KILN_REGISTRY_USERNAME`/`KILN_REGISTRY_PASSWORD`,
//! or from the Docker CLI's configuration (`auths`, `credsStore`, `credHelpers` in
//! `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`), in that order.
//!
//! Secrets never leave this module except inside [`Credentials`], whose `Debug` redacts them;
//! errors ([`Error::Credentials`], a local configuration problem) name the registry and the
//! helper, never a secret or a helper's output.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use docker_credential::{CredentialRetrievalError, DockerCredential};
use kiln_core::{Credentials, Env, Error};
use serde::Deserialize;

use crate::endpoint::docker_config_dir;

/// The helper program (`docker-credential-NAME`) the Docker configuration in `config_file` names
/// for `key`: its `credHelpers` entry, else its `credsStore`.
fn configured_helper(config_file: &Path, key: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct HelperConfig {
        #[serde(rename = "credsStore")]
        store: Option<String>,
        #[serde(rename = "credHelpers", default)]
        helpers: BTreeMap<String, String>,
    }
    let config: HelperConfig = serde_json::from_slice(&std::fs::read(config_file).ok()?).ok()?;
    let name = config.helpers.get(key).cloned().or(config.store)?;
    Some(format!("docker-credential-{name}"))
}

/// Where credentials for a registry come from.
#[derive(Debug, Clone, Default)]
pub struct CredentialSource {
    explicit: BTreeMap<String, Credentials>,
    from_env: Option<Credentials>,
    config_dir: Option<PathBuf>,
}

/// The key Docker's configuration uses for a registry.
fn config_key(registry: &str) -> &str {
    match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => "https://index.docker.io/v1/",
        other => other,
    }
}

impl CredentialSource {
    /// Credentials from the environment and the Docker CLI configuration it points at.
    pub fn from_env(env: &dyn Env) -> Self {
        let from_env = match (
            env.var("KILN_REGISTRY_USERNAME"),
            env.var("KILN_REGISTRY_PASSWORD"),
        ) {
            (Some(username), Some(password)) if !username.is_empty() => {
                Some(Credentials::password(username, password))
            }
            _ => None,
        };
        CredentialSource {
            explicit: BTreeMap::new(),
            from_env,
            config_dir: docker_config_dir(env),
        }
    }

    /// Uses `credentials` for `registry` (e.g. `127.0.0.1:5000`, `docker.io`), before anything else.
    pub fn with(mut self, registry: impl Into<String>, credentials: Credentials) -> Self {
        self.explicit.insert(registry.into(), credentials);
        self
    }

    /// The credentials for `registry`, or `None` to go anonymous. Reading the Docker
    /// configuration may run a credential helper: call this on a blocking thread, or use
    /// [`CredentialSource::resolve`].
    pub fn lookup(&self, registry: &str) -> Result<Option<Credentials>, Error> {
        if let Some(credentials) = self.explicit.get(registry) {
            return Ok(Some(credentials.clone()));
        }
        if let Some(credentials) = &self.from_env {
            return Ok(Some(credentials.clone()));
        }
        let Some(dir) = &self.config_dir else {
            return Ok(None);
        };
        let config_file = dir.join("config.json");
        let Ok(file) = File::open(&config_file) else {
            return Ok(None);
        };
        let key = config_key(registry);
        let unusable = |problem: String| Error::Credentials {
            registry: registry.to_owned(),
            problem,
            source: None,
        };
        match docker_credential::get_credential_from_reader(BufReader::new(file), key) {
            Ok(DockerCredential::UsernamePassword(username, password)) => {
                Ok(Some(Credentials::password(username, password)))
            }
            Ok(DockerCredential::IdentityToken(token)) => {
                Ok(Some(Credentials::identity_token(token)))
            }
            Err(
                CredentialRetrievalError::NoCredentialConfigured
                | CredentialRetrievalError::ConfigNotFound
                | CredentialRetrievalError::ConfigReadError,
            ) => Ok(None),
            Err(CredentialRetrievalError::HelperFailure { helper, .. }) => {
                // Its output is not kept: it may hold the secret.
                Err(unusable(format!("the credential helper {helper} failed")))
            }
            Err(CredentialRetrievalError::HelperCommunicationError) => {
                Err(unusable(match configured_helper(&config_file, key) {
                    Some(helper) => format!(
                        "the credential helper {helper} named in {} cannot be run: expected \
                         an executable {helper} on PATH",
                        config_file.display()
                    ),
                    None => "its credential helper cannot be run".to_owned(),
                }))
            }
            Err(CredentialRetrievalError::MalformedHelperResponse) => {
                Err(unusable(match configured_helper(&config_file, key) {
                    Some(helper) => format!(
                        "the credential helper {helper} answered something other than \
                         {{\"Username\": …, \"Secret\": …}}"
                    ),
                    None => "its credential helper answered something unreadable".to_owned(),
                }))
            }
            // The remaining errors carry no data, so no secret: they are kept as the cause.
            Err(other) => Err(Error::Credentials {
                registry: registry.to_owned(),
                problem: format!(
                    "the Docker configuration's credentials for it cannot be used: {other}"
                ),
                source: Some(kiln_core::ErrorSource::new(other)),
            }),
        }
    }

    /// [`CredentialSource::lookup`] on a blocking thread.
    pub async fn resolve(&self, registry: &str) -> Result<Option<Credentials>, Error> {
        let source = self.clone();
        let registry = registry.to_owned();
        tokio::task::spawn_blocking(move || {
            let found = source.lookup(&registry);
            // Whether credentials were found, never what they are.
            if let Ok(credentials) = &found {
                tracing::debug!(%registry, found = credentials.is_some(), "registry credentials");
            }
            found
        })
        .await
        .map_err(|error| Error::internal_from("read registry credentials", error))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::MapEnv;

    fn config(dir: &std::path::Path, json: &str) -> MapEnv {
        std::fs::write(dir.join("config.json"), json).unwrap();
        MapEnv::new().with("DOCKER_CONFIG", dir.to_str().unwrap())
    }

    #[test]
    fn auths_from_the_cli_configuration() {
        let dir = tempfile::tempdir().unwrap();
        // "user:pa??w>rd~ü" in standard base64.
        let auth = base64_standard("user:pa??w>rd~ü");
        let env = config(
            dir.path(),
            &format!(r#"{{"auths":{{"127.0.0.1:5000":{{"auth":"{auth}"}}}}}}"#),
        );
        let source = CredentialSource::from_env(&env);
        let found = source.lookup("127.0.0.1:5000").unwrap().unwrap();
        assert_eq!(found.username(), "user");
        assert_eq!(found.expose_password(), Some("pa??w>rd~ü"));
        assert_eq!(source.lookup("other:5000").unwrap(), None);
    }

    #[test]
    fn explicit_then_environment_then_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let env = config(dir.path(), r#"{"auths":{}}"#)
            .with("KILN_REGISTRY_USERNAME", "env-user")
            .with("KILN_REGISTRY_PASSWORD", "env-pass");
        let source =
            CredentialSource::from_env(&env).with("reg:1", Credentials::password("explicit", "x"));
        assert_eq!(
            source.lookup("reg:1").unwrap().unwrap().username(),
            "explicit"
        );
        assert_eq!(
            source.lookup("reg:2").unwrap().unwrap().username(),
            "env-user"
        );
    }

    #[test]
    fn a_missing_helper_is_a_configuration_problem_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let env = config(
            dir.path(),
            r#"{"credHelpers":{"reg:1":"kiln-test-no-such-helper"}}"#,
        );
        let error = CredentialSource::from_env(&env)
            .lookup("reg:1")
            .unwrap_err();
        assert_eq!(error.kind(), kiln_core::ErrorKind::InvalidInput);
        assert!(matches!(error, Error::Credentials { .. }), "{error:?}");
        assert!(error.to_string().contains("reg:1"), "{error}");
        assert!(
            error
                .to_string()
                .contains("docker-credential-kiln-test-no-such-helper"),
            "{error}"
        );
    }

    #[test]
    fn the_store_is_named_when_no_helper_is_given_for_the_registry() {
        let dir = tempfile::tempdir().unwrap();
        let config_file = dir.path().join("config.json");
        std::fs::write(
            &config_file,
            r#"{"credsStore":"store","credHelpers":{"reg:1":"special"}}"#,
        )
        .unwrap();
        assert_eq!(
            configured_helper(&config_file, "reg:1").as_deref(),
            Some("docker-credential-special")
        );
        assert_eq!(
            configured_helper(&config_file, "reg:2").as_deref(),
            Some("docker-credential-store")
        );
    }

    fn base64_standard(text: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(text)
    }
}
