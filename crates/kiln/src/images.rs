//! Housekeeping: [`Kiln::images`] lists the images kiln built, [`Kiln::prune_images`] removes
//! the superseded ones.
//!
//! kiln built an image when the daemon has it and either a build record of this cache
//! directory names it, or it carries kiln's fingerprint label ([`FINGERPRINT_LABEL`]) of its
//! own — not one inherited from the image it was built on (the classic builder records that
//! parent; an image someone built `FROM` a kiln image with BuildKit inherits the label and
//! cannot be told apart).
//!
//! Each image's *name* is the tag it was built for: the first tag of its newest record, else
//! the first tag it holds (kiln's `kiln-pin/` tags aside), else none. Records know tags, not
//! bake cells; since a bake gives every cell tags of its own, a tag stands for its cell.
//! A prune keeps, per name and per tag an image holds, the image the tag points at and the
//! newest others up to N (see `keep`); what a container uses and what an image that stays is
//! built on stay too.

mod keep;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use kiln_cache::BuildRecord;
use kiln_core::{
    Error, FINGERPRINT_LABEL, Fingerprint, ImageEngine, ImageFilter, ImageId, ImageRef,
    ImageSummary, RemoveOptions, Result,
};
use serde::Serialize;

pub use self::keep::KeepReason;
use self::keep::{Candidate, Daemon, Verdict, decide};
use crate::kiln::Kiln;

/// The repository prefix of the tags a bake pins parents with (`kiln-pin/<image>:<id>`): they
/// name no build, and go with their image.
const PIN_PREFIX: &str = "kiln-pin/";

/// How many images per name a prune keeps unless told otherwise.
pub const DEFAULT_KEEP: usize = 3;

/// One image kiln built, as `kiln images ls --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KilnImage {
    /// The image id.
    pub id: ImageId,
    /// The tags pointing at it now, as Docker shows them.
    pub tags: Vec<String>,
    /// The tag it was built for (its bake cell's, or its spec's); `None` when nothing tells.
    pub name: Option<String>,
    /// The fingerprint of the inputs it was built from, when known.
    pub fingerprint: Option<Fingerprint>,
    /// Its size as the daemon reports it (layers shared with other images included).
    pub size_bytes: u64,
    /// When it was made, in seconds since the epoch.
    pub created: u64,
    /// Its age in seconds, by the facade's clock.
    pub age_s: u64,
    /// How many containers, running or stopped, were created from it.
    pub containers: u32,
}

/// `kiln images ls --json`: kiln's images, by name (unnamed last), newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageListing {
    /// The images.
    pub images: Vec<KilnImage>,
}

/// An image a prune keeps, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeptImage {
    /// The image.
    #[serde(flatten)]
    pub image: KilnImage,
    /// Why it stays.
    pub reason: KeepReason,
    /// For [`KeepReason::Needed`]: the image built on it.
    pub needed_by: Option<ImageId>,
}

/// An image a prune meant to remove and the daemon would not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedImage {
    /// The image.
    #[serde(flatten)]
    pub image: KilnImage,
    /// The daemon's answer.
    pub error: String,
}

/// `kiln images prune --json`: what went (or would go, in a dry run) and what stayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImagePruneReport {
    /// Whether nothing was removed, only listed.
    pub dry_run: bool,
    /// How many images per name were kept.
    pub keep: usize,
    /// The images removed (or that would be), children before the images they are built on.
    pub removed: Vec<KilnImage>,
    /// The images kept, each with its reason.
    pub kept: Vec<KeptImage>,
    /// The images the daemon refused to remove (a container created meanwhile).
    pub failed: Vec<FailedImage>,
    /// The sizes of the removed images, summed. Layers they share with images that stay are
    /// counted but stay on disk, so the space freed may be less.
    pub removed_bytes: u64,
    /// Build records of the removed images, removed with them (or that would be).
    pub records_removed: usize,
    /// What went wrong beside the images (records that could not be removed).
    pub warnings: Vec<String>,
}

/// Which names a listing or a prune covers: all, or those of given repositories or tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageSelection {
    selectors: Vec<Selector>,
}

/// A repository (every tag of it), or one tag.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Selector {
    repository: String,
    tag: Option<String>,
}

impl ImageSelection {
    /// Every image kiln built, named or not.
    pub fn all() -> Self {
        ImageSelection::default()
    }

    /// The images named after one of `names`: a repository (`picoquic`, every tag of it) or a
    /// tag (`picoquic:v1-debug`). None given: all.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidReference`] or [`Error::InvalidInput`] naming a value that is neither.
    pub fn of<S: AsRef<str>>(names: &[S]) -> Result<Self> {
        let selectors = names
            .iter()
            .map(|name| selector(name.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        Ok(ImageSelection { selectors })
    }

    /// Whether the selection covers an image named `name`. Unnamed images are covered only
    /// when all are.
    pub fn admits(&self, name: Option<&str>) -> bool {
        if self.selectors.is_empty() {
            return true;
        }
        let Some(name) = name.and_then(|name| ImageRef::parse(name).ok()) else {
            return false;
        };
        self.selectors.iter().any(|selector| {
            selector.repository == name.familiar_repository()
                && selector
                    .tag
                    .as_deref()
                    .is_none_or(|tag| name.tag() == Some(tag))
        })
    }
}

/// A selector from `text`: with a tag when one follows the last `/`.
fn selector(text: &str) -> Result<Selector> {
    let reference = ImageRef::parse(text)?;
    if reference.digest().is_some() {
        return Err(Error::invalid_input(
            "image name",
            text,
            "a repository (picoquic) or a tag (picoquic:v1-debug), without a digest",
        ));
    }
    let last = text.rsplit('/').next().unwrap_or(text);
    Ok(Selector {
        repository: reference.familiar_repository(),
        tag: last
            .contains(':')
            .then(|| reference.tag().map(str::to_owned))
            .flatten(),
    })
}

/// The age of something `age_s` seconds old, as kiln words ages (`3 h ago`).
pub fn age_text(age_s: u64) -> String {
    crate::plan::ago(age_s, 0)
}

/// What the daemon and the records say, put together.
struct Survey {
    /// kiln's images, by name (unnamed last), newest first.
    images: Vec<KilnImage>,
    /// What stays of the daemon's images besides kiln's.
    daemon: Daemon,
    /// The records read.
    records: Vec<BuildRecord>,
}

impl Kiln {
    /// The images kiln built that `selection` covers, by name (unnamed last), newest first.
    ///
    /// # Errors
    ///
    /// The daemon's, when it cannot be asked.
    pub async fn images(&self, selection: &ImageSelection) -> Result<ImageListing> {
        let survey = survey(self).await?;
        Ok(ImageListing {
            images: survey
                .images
                .into_iter()
                .filter(|image| selection.admits(image.name.as_deref()))
                .collect(),
        })
    }

    /// Removes the superseded images `selection` covers: per name (and per tag an image
    /// holds), the image the tag points at and the newest others stay up to `keep`, and so
    /// does every image a container uses or an image that stays is built on; the rest go,
    /// untagged then removed by id (never forced), with their build records. With `dry_run`
    /// nothing is removed: the report says what would be.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when `keep` is 0; the daemon's when it cannot be reached. A
    /// removal the daemon refuses is not an error: the report lists it under `failed`.
    pub async fn prune_images(
        &self,
        selection: &ImageSelection,
        keep: usize,
        dry_run: bool,
    ) -> Result<ImagePruneReport> {
        if keep == 0 {
            return Err(Error::invalid_input(
                "number of images to keep",
                "0",
                "at least 1 (the image a tag points at is never pruned)",
            ));
        }
        let survey = survey(self).await?;
        let covered: Vec<&KilnImage> = survey
            .images
            .iter()
            .filter(|image| selection.admits(image.name.as_deref()))
            .collect();
        let candidates: Vec<Candidate> = covered.iter().map(|image| candidate(image)).collect();
        let decision = decide(&candidates, keep, &survey.daemon);
        let by_id: BTreeMap<&ImageId, &KilnImage> =
            covered.iter().map(|image| (&image.id, *image)).collect();
        let mut report = ImagePruneReport {
            dry_run,
            keep,
            removed: Vec::new(),
            kept: Vec::new(),
            failed: Vec::new(),
            removed_bytes: 0,
            records_removed: 0,
            warnings: Vec::new(),
        };
        for image in &covered {
            if let Some(Verdict::Keep { reason, needed_by }) = decision.verdicts.get(&image.id) {
                report.kept.push(KeptImage {
                    image: (*image).clone(),
                    reason: *reason,
                    needed_by: needed_by.clone(),
                });
            }
        }
        for id in &decision.removal_order {
            let Some(image) = by_id.get(id) else {
                continue;
            };
            let removed = if dry_run {
                Ok(())
            } else {
                remove(self.engine(), image).await
            };
            match removed {
                Ok(()) => {
                    report.removed_bytes += image.size_bytes;
                    report.removed.push((*image).clone());
                }
                Err(error) if error.kind() == kiln_core::ErrorKind::Unreachable => {
                    return Err(error);
                }
                Err(error) => report.failed.push(FailedImage {
                    image: (*image).clone(),
                    error: error.to_string(),
                }),
            }
        }
        forget_records(self, &survey.records, &mut report);
        Ok(report)
    }
}

/// Lists every image on the daemon (intermediate ones too, for their parents), reads the
/// records, and keeps kiln's images.
async fn survey(kiln: &Kiln) -> Result<Survey> {
    let listed = kiln
        .engine()
        .list_images(ImageFilter::new().intermediates(true))
        .await?;
    let records = match kiln.records() {
        Some(store) => store.all().0,
        None => Vec::new(),
    };
    let now_s = kiln.clock().now_ms() / 1000;
    let by_id: BTreeMap<&ImageId, &ImageSummary> =
        listed.iter().map(|image| (&image.id, image)).collect();
    let mut records_of: BTreeMap<&ImageId, Vec<&BuildRecord>> = BTreeMap::new();
    for record in &records {
        records_of.entry(&record.image_id).or_default().push(record);
    }
    for records in records_of.values_mut() {
        records.sort_by_key(|record| std::cmp::Reverse(record.built_at));
    }
    let mut images: Vec<KilnImage> = listed
        .iter()
        .filter_map(|image| {
            let own_label = own_fingerprint(image, &by_id);
            let newest_record = records_of
                .get(&image.id)
                .and_then(|records| records.first());
            if own_label.is_none() && newest_record.is_none() {
                return None;
            }
            Some(KilnImage {
                id: image.id.clone(),
                tags: image.tags.clone(),
                name: newest_record
                    .and_then(|record| record.tags.first().cloned())
                    .or_else(|| image.tags.iter().find(|tag| !is_pin(tag)).cloned()),
                fingerprint: own_label.or_else(|| newest_record.map(|r| r.fingerprint.clone())),
                size_bytes: image.size,
                created: image.created,
                age_s: now_s.saturating_sub(image.created),
                containers: image.containers,
            })
        })
        .collect();
    images.sort_by(|a, b| {
        (a.name.is_none(), &a.name, b.created, &a.id).cmp(&(
            b.name.is_none(),
            &b.name,
            a.created,
            &b.id,
        ))
    });
    let daemon = Daemon {
        parents: listed
            .iter()
            .filter_map(|image| Some((image.id.clone(), image.parent.clone()?)))
            .collect(),
        tagged: listed
            .iter()
            .filter(|image| !image.tags.is_empty())
            .map(|image| image.id.clone())
            .collect(),
    };
    Ok(Survey {
        images,
        daemon,
        records,
    })
}

/// The fingerprint label of `image` when it is its own: not the one of the image it was
/// built on (which every image built on a kiln image inherits).
fn own_fingerprint(
    image: &ImageSummary,
    by_id: &BTreeMap<&ImageId, &ImageSummary>,
) -> Option<Fingerprint> {
    let label = image.labels.get(FINGERPRINT_LABEL)?;
    let inherited = image
        .parent
        .as_ref()
        .and_then(|parent| by_id.get(parent))
        .is_some_and(|parent| parent.labels.get(FINGERPRINT_LABEL) == Some(label));
    if inherited {
        return None;
    }
    Fingerprint::parse(label)
}

fn is_pin(tag: &str) -> bool {
    tag.starts_with(PIN_PREFIX)
}

/// What the keep rules need of `image`.
fn candidate(image: &KilnImage) -> Candidate {
    Candidate {
        id: image.id.clone(),
        name: image.name.clone(),
        tags: image
            .tags
            .iter()
            .filter(|tag| !is_pin(tag))
            .cloned()
            .collect(),
        created: image.created,
        containers: image.containers,
    }
}

/// Untags `image`, then removes it by id, never forced: the daemon refuses what a container
/// uses or another image is built on, should that have changed since the listing. A tag or an
/// image already gone is fine.
async fn remove(engine: &dyn ImageEngine, image: &KilnImage) -> Result<()> {
    let gone = |result: Result<()>| match result {
        Err(Error::ImageNotFound { .. }) => Ok(()),
        other => other,
    };
    for tag in &image.tags {
        if let Ok(reference) = ImageRef::parse(tag) {
            gone(engine.remove(&reference, RemoveOptions::new()).await)?;
        }
    }
    gone(engine.remove_id(&image.id, RemoveOptions::new()).await)
}

/// Removes (or counts, in a dry run) the records of the removed images: they name images that
/// no longer exist. A failure is a warning in the report.
fn forget_records(kiln: &Kiln, records: &[BuildRecord], report: &mut ImagePruneReport) {
    let removed: BTreeSet<&ImageId> = report.removed.iter().map(|image| &image.id).collect();
    let fingerprints: BTreeSet<Fingerprint> = records
        .iter()
        .filter(|record| removed.contains(&record.image_id))
        .map(|record| record.fingerprint.clone())
        .collect();
    report.records_removed = fingerprints.len();
    if report.dry_run {
        return;
    }
    if let Some(store) = kiln.records()
        && let Err(error) = kiln_cache::forget::forget(store, &fingerprints)
    {
        report.records_removed = 0;
        report
            .warnings
            .push(format!("{error}; the records of the removed images stay"));
    }
}
