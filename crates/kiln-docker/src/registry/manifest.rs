//! The parts of manifests, indexes and image configs kiln reads from a registry.

use std::collections::BTreeMap;

use kiln_core::Platform;
use serde::Deserialize;

use super::{DOCKER_MANIFEST_LIST, OCI_INDEX, REFERENCE_TYPE_ANNOTATION};

/// A content descriptor, as manifests and indexes hold them.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Descriptor {
    pub(super) media_type: Option<String>,
    pub(super) digest: String,
    pub(super) size: Option<i64>,
    pub(super) platform: Option<DescriptorPlatform>,
    #[serde(default)]
    pub(super) annotations: BTreeMap<String, String>,
}

/// The platform of an index entry.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct DescriptorPlatform {
    pub(super) os: String,
    pub(super) architecture: String,
    pub(super) variant: Option<String>,
}

/// The parts of a manifest or index kiln reads, whichever media type it has.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawManifest {
    pub(super) media_type: Option<String>,
    pub(super) config: Option<Descriptor>,
    pub(super) manifests: Option<Vec<Descriptor>>,
}

/// A manifest as kiln sees it: an image (its config) or an index (its entries).
#[derive(Debug)]
pub(super) enum Manifest {
    Image { config: Descriptor },
    Index { entries: Vec<Descriptor> },
}

impl Manifest {
    /// Reads a Docker v2 or OCI manifest, manifest list or index.
    pub(super) fn parse(body: &[u8]) -> std::result::Result<Manifest, String> {
        let raw: RawManifest = serde_json::from_slice(body).map_err(|error| error.to_string())?;
        let index_type = matches!(
            raw.media_type.as_deref(),
            Some(DOCKER_MANIFEST_LIST | OCI_INDEX)
        );
        match (raw.manifests, raw.config) {
            (Some(entries), _) if index_type || raw.media_type.is_none() => {
                Ok(Manifest::Index { entries })
            }
            (_, Some(config)) if !index_type => Ok(Manifest::Image { config }),
            _ => Err(format!(
                "neither an image manifest nor an index (media type {})",
                raw.media_type.as_deref().unwrap_or("not given")
            )),
        }
    }
}

/// The image entries of an index with their platforms, in index order: attestation entries
/// and platforms kiln does not know (`unknown/unknown`) are left out.
pub(super) fn index_platforms(entries: &[Descriptor]) -> Vec<(&Descriptor, Platform)> {
    entries
        .iter()
        .filter(|entry| !entry.annotations.contains_key(REFERENCE_TYPE_ANNOTATION))
        .filter_map(|entry| {
            let platform = entry.platform.as_ref()?;
            let mut text = format!("{}/{}", platform.os, platform.architecture);
            if let Some(variant) = platform.variant.as_deref().filter(|v| !v.is_empty()) {
                text.push('/');
                text.push_str(variant);
            }
            Some((entry, Platform::parse(&text).ok()?))
        })
        .collect()
}

/// The part of an image config kiln reads.
#[derive(Debug, Deserialize)]
pub(super) struct ImageConfig {
    pub(super) config: Option<ContainerConfig>,
}

/// `config` of an image config; Docker writes `"Labels": null` for no labels.
#[derive(Debug, Deserialize)]
pub(super) struct ContainerConfig {
    #[serde(rename = "Labels")]
    pub(super) labels: Option<BTreeMap<String, Option<String>>>,
}
