//! Publishing an image index (manifest list) for a multi-platform image: each platform's
//! manifest is read back for its media type and size, and the index is put under the tag.

use kiln_core::{Credentials, Digest, Error, ImageRef, IndexEntry, Result};
use oci_client::manifest::{ImageIndexEntry, OciImageIndex};
use serde_json::json;

use super::call::Call;
use super::connection::OciRegistry;
use super::naming::oci_reference;

/// The media type of the index kiln publishes.
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// The manifests an index entry may be.
const ENTRY_TYPES: &[&str] = &[
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
];

/// Publishes the index of `entries` under `image` and returns its digest.
pub(crate) async fn publish(
    registry: &OciRegistry,
    image: &ImageRef,
    credentials: Option<Credentials>,
    entries: Vec<IndexEntry>,
) -> Result<Digest> {
    let call = Call::new("publish the index", image, credentials.as_ref());
    let client = registry.client(image.domain(), &call)?;
    let reference = oci_reference(image);
    let auth = registry
        .auth(image, credentials.as_ref(), "pull,push", &call)
        .await?;
    let mut manifests = Vec::with_capacity(entries.len());
    for entry in entries {
        let by_digest = reference.clone_with_digest(entry.digest.to_string());
        let Some((body, digest)) = registry
            .run(
                &call,
                client.pull_manifest_raw(&by_digest, &auth, ENTRY_TYPES),
            )
            .await?
        else {
            return Err(Error::ImageNotFound {
                image: format!("{}@{}", image.familiar_repository(), entry.digest),
            });
        };
        let media_type = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|manifest| manifest["mediaType"].as_str().map(str::to_owned))
            .unwrap_or_else(|| ENTRY_TYPES[0].to_owned());
        let platform = serde_json::from_value(json!({
            "architecture": entry.platform.architecture(),
            "os": entry.platform.os(),
            "variant": entry.platform.variant(),
        }))
        .map_err(|error| call.error_from(&error.to_string(), error))?;
        manifests.push(ImageIndexEntry {
            media_type,
            digest,
            size: i64::try_from(body.len()).unwrap_or(i64::MAX),
            platform: Some(platform),
            annotations: None,
            artifact_type: None,
        });
    }
    let index = OciImageIndex {
        schema_version: 2,
        media_type: Some(OCI_INDEX.to_owned()),
        manifests,
        artifact_type: None,
        annotations: None,
    };
    registry
        .run(&call, client.push_manifest_list(&reference, &auth, index))
        .await?;
    registry
        .run(&call, client.fetch_manifest_digest(&reference, &auth))
        .await?
        .ok_or_else(|| call.error("the registry lost the index it accepted"))
        .and_then(|digest| call.digest(&digest))
}
