//! What a decision needs to know, asked of the daemon (through the caching decorator's
//! `refresh`, never a cached answer while it is up) or, when it is down, of the cache and the
//! records alone.

use std::collections::BTreeMap;

use kiln_cache::{Lookup, RecordStore};
use kiln_context::dockerfile::Dockerfile;
use kiln_core::{Change, Fingerprint, ImageId, ImageRef, InputsManifest, Result};

use super::decide::{Observed, TagState, tags_settle_presence};
use crate::kiln::Kiln;

/// Answers about images: the daemon's when it is `online`, else the cache's (fresh or stale).
pub(crate) struct Lookups<'a> {
    pub(crate) kiln: &'a Kiln,
    pub(crate) online: bool,
}

impl Lookups<'_> {
    /// What `reference` points at now; `None` when unknown.
    pub(crate) async fn image_id(&self, reference: &ImageRef) -> Result<TagState> {
        if self.online {
            let details = self.kiln.engine().refresh(reference).await?;
            return Ok(Some(details.map(|details| details.id)));
        }
        Ok(known(self.kiln.engine().cached(reference).await))
    }

    /// Whether the image `image_id` exists; `None` when unknown.
    async fn has_image_id(&self, image_id: &ImageId) -> Result<Option<bool>> {
        if self.online {
            return Ok(Some(
                self.kiln.engine().refresh_id(image_id).await?.is_some(),
            ));
        }
        let lookup = self.kiln.engine().cached_id(image_id).await;
        Ok(known(lookup).map(|details| details.is_some()))
    }
}

fn known(lookup: Lookup) -> TagState {
    match lookup {
        Lookup::Fresh(details) | Lookup::Stale(details) => Some(details.map(|details| details.id)),
        Lookup::Unknown => None,
    }
}

/// Gathers the state a decision on `fingerprint` rests on: the record, and when there is one,
/// what each tag points at and (when the tags do not settle it) whether its image exists.
pub(crate) async fn observe(
    lookups: &Lookups<'_>,
    forced: bool,
    tags: &[ImageRef],
    fingerprint: &Fingerprint,
    warnings: &mut Vec<String>,
) -> Result<Observed> {
    let kiln = lookups.kiln;
    let Some(records) = kiln.records() else {
        return Ok(Observed::default());
    };
    let mut observed = Observed {
        records: true,
        forced,
        ..Observed::default()
    };
    if forced {
        return Ok(observed);
    }
    let record = records.get(fingerprint).unwrap_or_else(|error| {
        warnings.push(format!("{error}; treating it as a miss"));
        None
    });
    kiln.count_l2(record.is_some());
    let Some(record) = record else {
        return Ok(observed);
    };
    for tag in tags {
        observed
            .tags
            .push((tag.clone(), lookups.image_id(tag).await?));
    }
    if !tags_settle_presence(&record, &observed.tags) {
        observed.image_present = lookups.has_image_id(&record.image_id).await?;
    }
    observed.record = Some(record);
    Ok(observed)
}

/// The changes since the last build recorded under `tag`, or `NoPreviousBuild`.
pub(crate) fn changes_since_last(
    records: Option<&RecordStore>,
    tag: &str,
    manifest: &InputsManifest,
    warnings: &mut Vec<String>,
) -> Vec<Change> {
    let Some(records) = records else {
        return Vec::new();
    };
    let previous = records.last_for_tag(tag).and_then(|last| match last {
        Some(fingerprint) => records.manifest(&fingerprint),
        None => Ok(None),
    });
    match previous {
        Ok(Some(previous)) => manifest.changes_since(&previous),
        Ok(None) => vec![Change::NoPreviousBuild],
        Err(error) => {
            warnings.push(format!("{error}; cannot explain what changed"));
            vec![Change::NoPreviousBuild]
        }
    }
}

/// The manifest of the last build recorded under `tag`, if any; one that cannot be read is a
/// warning (a corrupt one is also removed by the record store).
fn last_manifest(kiln: &Kiln, tag: &str, warnings: &mut Vec<String>) -> Option<InputsManifest> {
    let records = kiln.records()?;
    let read = records.last_for_tag(tag).and_then(|last| match last {
        Some(fingerprint) => records.manifest(&fingerprint),
        None => Ok(None),
    });
    read.unwrap_or_else(|error| {
        warnings.push(format!(
            "{error}; base images the daemon cannot confirm stay unknown"
        ));
        None
    })
}

/// Each `FROM` image but those in `parents` → its image id (`None` when the engine lacks it).
/// When the daemon is unreachable and the cache does not know an image, the id recorded by the
/// last build stands in for it.
pub(crate) async fn resolve_base_images(
    lookups: &Lookups<'_>,
    dockerfile: &Dockerfile,
    args: &BTreeMap<String, String>,
    parents: &[String],
    tag: &str,
    warnings: &mut Vec<String>,
) -> Result<BTreeMap<String, Option<String>>> {
    let mut previous: Option<Option<InputsManifest>> = None;
    let mut resolved = BTreeMap::new();
    for name in dockerfile.base_images(args) {
        if parents.contains(&name) {
            continue;
        }
        let id = match ImageRef::parse(&name) {
            Ok(reference) => match lookups.image_id(&reference).await? {
                Some(id) => id.map(String::from),
                None => previous
                    .get_or_insert_with(|| last_manifest(lookups.kiln, tag, warnings))
                    .as_ref()
                    .and_then(|manifest| manifest.base_images.get(&name).cloned())
                    .flatten(),
            },
            // The builder will reject it with its own message; the fingerprint keeps the text.
            Err(_) => None,
        };
        resolved.insert(name, id);
    }
    Ok(resolved)
}
