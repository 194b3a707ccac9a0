//! [`Registry::copy`](kiln_core::Registry::copy) on oci-client: a tag written as a manifest `PUT`
//! whose blobs the registry mounts from the source repository or already holds — no blob data
//! ever passes through kiln.
//!
//! For each blob the manifest references (config, layers), depth first: `HEAD` it in the target
//! repository; when absent, `POST /v2/<to>/blobs/uploads/?mount=<digest>&from=<from>`. A
//! registry that answers a mount with an upload session (202) instead of the mounted blob (201)
//! fails the copy with [`Error::BlobNotMounted`]. An index's manifests are copied the same way
//! and put by digest before the index; then the manifest's bytes go unchanged, with their own
//! media type, under the target tag, so the digest stays the source's.
//!
//! Each request has the client's request time limit on its own (as in `index.rs`): a copy
//! makes two or so per blob, so no limit fits the whole of it. A refused mount leaves the
//! upload session the registry opened; registries purge abandoned sessions themselves.

use std::collections::BTreeSet;

use kiln_core::{Credentials, Digest, Error, ImageRef, Result};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use reqwest::header::HeaderValue;
use serde::Deserialize;

use super::call::Call;
use super::connection::OciRegistry;
use super::manifest::Descriptor;
use super::naming::oci_reference;
use super::token::Scope;
use super::{MANIFEST_TYPES, OCI_INDEX, OCI_MANIFEST};

/// How deep indexes may nest (an index of indexes of manifests is depth 2).
const MAX_INDEX_DEPTH: usize = 4;

/// Layers that live outside the registry (Windows base layers and other non-distributable
/// ones): a registry accepts manifests that name them without holding them, so a copy leaves
/// them alone.
const FOREIGN_LAYER_PREFIXES: &[&str] = &[
    "application/vnd.docker.image.rootfs.foreign.",
    "application/vnd.oci.image.layer.nondistributable.",
];

/// What a copy reads of a manifest or index: its media type and what it references.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct References {
    media_type: Option<String>,
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

impl References {
    fn parse(body: &[u8], call: &Call, what: &str) -> Result<References> {
        serde_json::from_slice(body).map_err(|error| {
            call.error_from(&format!("the manifest {what} is not valid: {error}"), error)
        })
    }

    /// The media type to put the manifest with: its own, else the one the referring index
    /// gave, else what its shape says (an OCI index has `manifests`, an OCI manifest not).
    fn media_type(&self, described: Option<&str>) -> String {
        let shape = if self.manifests.is_empty() {
            OCI_MANIFEST
        } else {
            OCI_INDEX
        };
        self.media_type
            .as_deref()
            .or(described)
            .unwrap_or(shape)
            .to_owned()
    }
}

/// Points `to` at the manifest `from` names, mounting every blob it needs; returns its digest.
pub(super) async fn copy(
    registry: &OciRegistry,
    from: &ImageRef,
    to: &ImageRef,
    credentials: Option<Credentials>,
) -> Result<Digest> {
    kiln_core::check_copy(from, to)?;
    let call = Call::new(&format!("copy {from} to"), to, credentials.as_ref());
    let client = registry.client(to.domain(), &call)?;
    let scopes = [
        Scope {
            repository: to.path(),
            actions: "pull,push",
        },
        Scope {
            repository: from.path(),
            actions: "pull",
        },
    ];
    let scopes = if from.path() == to.path() {
        &scopes[..1]
    } else {
        &scopes[..]
    };
    let auth = registry
        .auth_across(scopes, credentials.as_ref(), &call)
        .await?;
    let mut copier = Copier {
        registry,
        client,
        auth,
        source: oci_reference(from),
        target: oci_reference(to),
        call,
        present: BTreeSet::new(),
    };
    let Some((body, digest)) = copier.pull(&copier.source.clone()).await? else {
        return Err(Error::ImageNotFound {
            image: from.familiar(),
        });
    };
    let digest = copier.call.digest(&digest)?;
    let references = References::parse(&body, &copier.call, &from.to_string())?;
    copier.bring_references(&references, 0).await?;
    let media_type = references.media_type(None);
    let tag = copier.target.clone();
    let location = copier.put(&tag, body, &media_type).await?;
    // A registry names the manifest it stored in the location (`/v2/<to>/manifests/<digest>`).
    if let Some(stored) = location
        .rsplit('/')
        .next()
        .filter(|last| last.starts_with("sha256:"))
        && stored != digest.as_str()
    {
        return Err(copier.call.error(&format!(
            "the registry stored the manifest as {stored}, not as the source's {digest}"
        )));
    }
    Ok(digest)
}

/// One copy's client, authentication, repositories and the blobs known to be in the target.
struct Copier<'a> {
    registry: &'a OciRegistry,
    client: Client,
    auth: RegistryAuth,
    source: Reference,
    target: Reference,
    call: Call,
    /// Blobs and manifests already in the target repository (found, mounted or put).
    present: BTreeSet<String>,
}

impl Copier<'_> {
    /// The raw manifest at `reference` and its digest; `None` when absent.
    async fn pull(&self, reference: &Reference) -> Result<Option<(bytes::Bytes, String)>> {
        self.registry
            .run(
                &self.call,
                self.client
                    .pull_manifest_raw(reference, &self.auth, MANIFEST_TYPES),
            )
            .await
    }

    /// Puts `body` as `media_type` at `reference` (a tag, or a digest); returns the location.
    async fn put(
        &self,
        reference: &Reference,
        body: bytes::Bytes,
        media_type: &str,
    ) -> Result<String> {
        let content_type = HeaderValue::from_str(media_type).map_err(|error| {
            self.call.error_from(
                &format!("the manifest's media type {media_type:?} cannot be sent"),
                error,
            )
        })?;
        self.registry
            .run(
                &self.call,
                self.client.push_manifest_raw(reference, body, content_type),
            )
            .await?
            .ok_or_else(|| {
                self.call
                    .error("the registry answered the manifest's upload with \"not found\"")
            })
    }

    /// Makes everything `references` names available in the target repository: its blobs,
    /// and for an index each manifest it lists (`depth`: how many indexes lead here).
    async fn bring_references(&mut self, references: &References, depth: usize) -> Result<()> {
        for blob in references.config.iter().chain(&references.layers) {
            self.bring_blob(blob).await?;
        }
        if !references.manifests.is_empty() && depth >= MAX_INDEX_DEPTH {
            return Err(self.call.error(&format!(
                "the source's indexes nest more than {MAX_INDEX_DEPTH} deep"
            )));
        }
        for child in &references.manifests {
            Box::pin(self.bring_manifest(child, depth + 1)).await?;
        }
        Ok(())
    }

    /// Copies the manifest `descriptor` names from the source repository to the target one,
    /// by digest, after what it references.
    async fn bring_manifest(&mut self, descriptor: &Descriptor, depth: usize) -> Result<()> {
        if self.present.contains(&descriptor.digest) {
            return Ok(());
        }
        let by_digest = self.source.clone_with_digest(descriptor.digest.clone());
        let Some((body, _)) = self.pull(&by_digest).await? else {
            return Err(self.call.error(&format!(
                "the source index lists the manifest {} but the registry does not have it",
                descriptor.digest
            )));
        };
        let references = References::parse(&body, &self.call, &descriptor.digest)?;
        self.bring_references(&references, depth).await?;
        let media_type = references.media_type(descriptor.media_type.as_deref());
        // Put by digest with the digest in the tag's place: oci-client's workaround for
        // registries that answer without a location strips the tag from the URL's end, and the
        // URL ends with the digest.
        let target = Reference::with_tag(
            self.target.registry().to_owned(),
            self.target.repository().to_owned(),
            descriptor.digest.clone(),
        );
        self.put(&target, body, &media_type).await?;
        self.present.insert(descriptor.digest.clone());
        Ok(())
    }

    /// Makes the blob `descriptor` names available in the target repository: found there by
    /// `HEAD`, else mounted from the source repository.
    async fn bring_blob(&mut self, descriptor: &Descriptor) -> Result<()> {
        let digest = descriptor.digest.as_str();
        let foreign = descriptor.media_type.as_deref().is_some_and(|media_type| {
            FOREIGN_LAYER_PREFIXES
                .iter()
                .any(|prefix| media_type.starts_with(prefix))
        });
        if foreign || self.present.contains(digest) {
            return Ok(());
        }
        let exists = self
            .registry
            .run(&self.call, self.client.blob_exists(&self.target, digest))
            .await?;
        if exists != Some(true) {
            self.mount(digest).await?;
        }
        self.present.insert(digest.to_owned());
        Ok(())
    }

    /// Mounts the blob `digest` from the source repository into the target one.
    async fn mount(&self, digest: &str) -> Result<()> {
        // oci-client expects 201 Created; any other success (202 Accepted: an upload session
        // instead of the mount) is its spec violation error, which here means "refused".
        let mount = async {
            match self
                .client
                .mount_blob(&self.target, &self.source, digest)
                .await
            {
                Ok(()) => Ok(None),
                Err(OciDistributionError::SpecViolationError(answer)) => Ok(Some(answer)),
                Err(other) => Err(other),
            }
        };
        let refusal = match self.registry.run(&self.call, mount).await? {
            Some(None) => return Ok(()),
            Some(Some(answer)) => {
                format!("it offered an upload session instead of mounting it ({answer})")
            }
            None => "it answered \"not found\"".to_owned(),
        };
        Err(Error::BlobNotMounted {
            registry: self.call.registry.clone(),
            blob: digest.to_owned(),
            from: self.source.repository().to_owned(),
            to: self.target.repository().to_owned(),
            reason: self.call.redact(&refusal),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> Call {
        Call::new(
            "copy",
            &ImageRef::parse("127.0.0.1:5000/app:1").unwrap(),
            None,
        )
    }

    #[test]
    fn a_manifest_keeps_its_own_media_type() {
        let docker = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
            "config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:c","size":1},
            "layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"sha256:l","size":2}]}"#;
        let references = References::parse(docker, &call(), "docker").unwrap();
        assert_eq!(
            references.media_type(Some(OCI_MANIFEST)),
            super::super::DOCKER_MANIFEST
        );
        assert_eq!(references.layers.len(), 1);
        assert_eq!(references.config.as_ref().unwrap().digest, "sha256:c");
    }

    #[test]
    fn a_manifest_without_a_media_type_takes_the_index_entrys_or_its_shapes() {
        let bare = br#"{"schemaVersion":2,"config":{"digest":"sha256:c","size":1},"layers":[]}"#;
        let references = References::parse(bare, &call(), "bare").unwrap();
        assert_eq!(references.media_type(None), OCI_MANIFEST);
        assert_eq!(
            references.media_type(Some(super::super::DOCKER_MANIFEST)),
            super::super::DOCKER_MANIFEST
        );
        let index = br#"{"schemaVersion":2,"manifests":[{"digest":"sha256:m","size":1}]}"#;
        let references = References::parse(index, &call(), "index").unwrap();
        assert_eq!(references.media_type(None), OCI_INDEX);
    }

    #[test]
    fn a_manifest_that_is_not_json_is_a_registry_error_naming_it() {
        let error = References::parse(b"{", &call(), "sha256:x").unwrap_err();
        assert!(matches!(error, Error::Registry { .. }), "{error:?}");
        assert!(error.to_string().contains("sha256:x"), "{error}");
    }
}
