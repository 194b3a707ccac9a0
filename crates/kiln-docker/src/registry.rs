//! [`OciRegistry`]: kiln's registry client on oci-client — manifest digests by `HEAD`, platforms
//! and labels by `GET`, never a pull through the daemon.
//!
//! The daemon cannot tell apart a missing tag, refused credentials and an unreachable registry
//! (`GET /distribution/{name}/json` answers 500 for the last two); asking the registry directly
//! can. Each answer maps to one [`kiln_core::Error`] class:
//!
//! | oci-client error                                         | kiln                          |
//! |----------------------------------------------------------|-------------------------------|
//! | `RegistryError` with `MANIFEST_UNKNOWN`, `NAME_UNKNOWN`, `NOT_FOUND`; `ServerError` 404 | `Ok(None)` |
//! | `UnauthorizedError` (401), `RegistryError` with `UNAUTHORIZED` / `DENIED`, `ServerError` 401 / 403, `AuthenticationFailure` | [`Error::AuthRefused`] |
//! | `RequestError` that is a connect error (refused, DNS) or a timeout; the whole operation over its time limit | [`Error::Unreachable`] |
//! | anything else (5xx, 429, TLS failures, malformed manifests, digest mismatches) | [`Error::Registry`], with the oci-client error as its cause |
//!
//! No message kiln builds from these errors carries the password or token: every reason is
//! scrubbed of the secrets of the request before it leaves this module, and a cause that
//! mentions one is kept only as a scrubbed copy of its messages.
//!
//! Loopback registries (`localhost`, `127.0.0.0/8`, `[::1]`, any port) are spoken to over plain
//! HTTP, as Docker treats them as insecure by default; every other registry over HTTPS.

mod call;
mod connection;
mod copy;
mod index;
mod manifest;
mod naming;
mod token;

use std::collections::BTreeMap;

use async_trait::async_trait;
use kiln_core::{
    Digest, Error, ImageRef, IndexEntry, Registry, RegistryOptions, RemoteImage, Result,
};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use call::Call;
pub use connection::{
    OciRegistry, REGISTRY_CONNECT_TIMEOUT, REGISTRY_REQUEST_TIMEOUT,
    install_default_crypto_provider,
};
use manifest::{Descriptor, ImageConfig, Manifest, index_platforms};
pub use naming::is_loopback_registry;
use naming::oci_reference;

/// The largest image config kiln reads (real ones are a few kilobytes).
const MAX_CONFIG_SIZE: i64 = 8 << 20;

/// Docker v2 image manifest.
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker v2 manifest list.
const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// OCI image manifest.
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker image config.
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// OCI image config.
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// What a tag may point at. The same list (and order) oci-client's `HEAD` sends, so that the
/// digest [`Registry::describe`] reports is the one [`Registry::head`] reports.
const MANIFEST_TYPES: &[&str] = &[
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_MANIFEST,
    OCI_INDEX,
];

/// What an index entry may point at (kiln reads the labels of one platform's image).
const IMAGE_MANIFEST_TYPES: &[&str] = &[DOCKER_MANIFEST, OCI_MANIFEST];

/// The annotation BuildKit puts on the attestation entries of an index (platform `unknown/unknown`).
const REFERENCE_TYPE_ANNOTATION: &str = "vnd.docker.reference.type";

impl OciRegistry {
    /// Fetches the manifest or index `reference` addresses, with the given accepted types.
    async fn manifest(
        &self,
        client: &Client,
        reference: &Reference,
        auth: &RegistryAuth,
        accept: &[&str],
        call: &Call,
    ) -> Result<Option<(Manifest, String)>> {
        let Some((body, digest)) = self
            .run(call, client.pull_manifest_raw(reference, auth, accept))
            .await?
        else {
            return Ok(None);
        };
        let manifest = Manifest::parse(&body).map_err(|message| {
            call.error(&format!(
                "the manifest of {reference} is not valid: {message}"
            ))
        })?;
        Ok(Some((manifest, digest)))
    }

    /// The labels of the image config `config`, empty when it is not an image config.
    async fn labels(
        &self,
        client: &Client,
        reference: &Reference,
        config: &Descriptor,
        call: &Call,
    ) -> Result<BTreeMap<String, String>> {
        let media_type = config.media_type.as_deref().unwrap_or(OCI_CONFIG);
        if media_type != DOCKER_CONFIG && media_type != OCI_CONFIG {
            // An artifact (Helm chart, signature...): no image config, so no labels.
            return Ok(BTreeMap::new());
        }
        if config.size.is_some_and(|size| size > MAX_CONFIG_SIZE) {
            return Err(call.error(&format!(
                "the image config {} is {} bytes, more than kiln reads ({MAX_CONFIG_SIZE})",
                config.digest,
                config.size.unwrap_or_default()
            )));
        }
        let mut data = Vec::new();
        let pulled = self
            .run(
                call,
                client.pull_blob(reference, config.digest.as_str(), &mut data),
            )
            .await?;
        if pulled.is_none() {
            return Err(call.error(&format!(
                "the registry lists the image config {} but does not have it",
                config.digest
            )));
        }
        let config: ImageConfig = serde_json::from_slice(&data).map_err(|error| {
            call.error_from(
                &format!("the image config is not valid JSON: {error}"),
                error,
            )
        })?;
        Ok(config
            .config
            .and_then(|config| config.labels)
            .unwrap_or_default()
            .into_iter()
            .map(|(key, value)| (key, value.unwrap_or_default()))
            .collect())
    }
}

#[async_trait]
impl Registry for OciRegistry {
    async fn head(&self, image: &ImageRef, options: RegistryOptions) -> Result<Option<Digest>> {
        let credentials = options.credentials;
        let call = Call::new("check", image, credentials.as_ref());
        let client = self.client(image.domain(), &call)?;
        let reference = oci_reference(image);
        let auth = self
            .auth(image, credentials.as_ref(), "pull", &call)
            .await?;
        self.run(&call, client.fetch_manifest_digest(&reference, &auth))
            .await?
            .map(|digest| call.digest(&digest))
            .transpose()
    }

    async fn publish_index(
        &self,
        image: &ImageRef,
        entries: Vec<IndexEntry>,
        options: RegistryOptions,
    ) -> Result<Digest> {
        index::publish(self, image, options.credentials, entries).await
    }

    async fn copy(
        &self,
        from: &ImageRef,
        to: &ImageRef,
        options: RegistryOptions,
    ) -> Result<Digest> {
        copy::copy(self, from, to, options.credentials).await
    }

    async fn describe(
        &self,
        image: &ImageRef,
        options: RegistryOptions,
    ) -> Result<Option<RemoteImage>> {
        let RegistryOptions {
            credentials,
            platform,
            ..
        } = options;
        let call = Call::new("describe", image, credentials.as_ref());
        let client = self.client(image.domain(), &call)?;
        let reference = oci_reference(image);
        let auth = self
            .auth(image, credentials.as_ref(), "pull", &call)
            .await?;
        // One time limit for the whole description (manifest, platform manifest, config).
        let described = tokio::time::timeout(self.request_timeout, async {
            let Some((manifest, digest)) = self
                .manifest(&client, &reference, &auth, MANIFEST_TYPES, &call)
                .await?
            else {
                return Ok(None);
            };
            let (platforms, config) = match manifest {
                Manifest::Image { config } => (Vec::new(), Some(config)),
                Manifest::Index { entries } => {
                    let platforms = index_platforms(&entries);
                    let chosen = match &platform {
                        Some(wanted) => platforms
                            .iter()
                            .find(|(_, candidate)| candidate == wanted)
                            .map(|(entry, _)| entry),
                        None => platforms.first().map(|(entry, _)| entry),
                    };
                    let config = match chosen {
                        Some(entry) => {
                            let by_digest = reference.clone_with_digest(entry.digest.clone());
                            match self
                                .manifest(&client, &by_digest, &auth, IMAGE_MANIFEST_TYPES, &call)
                                .await?
                            {
                                Some((Manifest::Image { config }, _)) => Some(config),
                                Some((Manifest::Index { .. }, _)) => {
                                    return Err(call.error(&format!(
                                        "the index entry {} is itself an index",
                                        entry.digest
                                    )));
                                }
                                None => {
                                    return Err(call.error(&format!(
                                        "the index lists the manifest {} but the registry \
                                         does not have it",
                                        entry.digest
                                    )));
                                }
                            }
                        }
                        None => None,
                    };
                    let platforms = platforms.into_iter().map(|(_, platform)| platform);
                    (platforms.collect(), config)
                }
            };
            let labels = match config {
                Some(config) => self.labels(&client, &reference, &config, &call).await?,
                None => BTreeMap::new(),
            };
            Ok(Some(RemoteImage {
                digest: call.digest(&digest)?,
                platforms,
                labels,
            }))
        })
        .await;
        described.unwrap_or_else(|_| {
            Err(Error::Unreachable {
                endpoint: call.endpoint.clone(),
                reason: format!("no answer within {:?}", self.request_timeout),
            })
        })
    }
}

#[cfg(test)]
mod tests;
