//! The decision as a pure function of what was observed: reuse the recorded image, or build
//! and for which cause. No I/O here; `observe.rs` gathers the state, `explain.rs` words it.

use kiln_cache::BuildRecord;
use kiln_core::{ImageId, ImageRef};

/// What a tag points at now: `Some(Some(id))` an image, `Some(None)` nothing, `None` unknown
/// (the daemon is unreachable and the cache has no answer).
pub(crate) type TagState = Option<Option<ImageId>>;

/// Everything the decision depends on, gathered beforehand.
#[derive(Debug, Clone, Default)]
pub(crate) struct Observed {
    /// Whether there is a cache directory (and so records) at all.
    pub(crate) records: bool,
    /// Whether the user asked to build whatever is recorded.
    pub(crate) forced: bool,
    /// The record of these inputs' fingerprint, if any.
    pub(crate) record: Option<BuildRecord>,
    /// Each tag of the build and what it points at now (looked up only when there is a record).
    pub(crate) tags: Vec<(ImageRef, TagState)>,
    /// Whether the recorded image exists (`None`: unknown, or not asked because the tags
    /// settle it — see [`tags_settle_presence`]).
    pub(crate) image_present: Option<bool>,
}

/// Why a build is needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cause {
    /// Nothing can be recorded: there is no cache directory.
    NoCacheDirectory,
    /// `--force` or `force_build`.
    Forced,
    /// No record of these inputs.
    NoRecord,
    /// The inputs were built before, but their image is gone.
    ImageMissing {
        /// The image the record names.
        image_id: ImageId,
    },
}

/// Reusing the recorded image: the record itself, so a reuse without one cannot be expressed.
#[derive(Debug, Clone)]
pub(crate) struct Reuse {
    /// The record of these inputs.
    pub(crate) record: BuildRecord,
    /// Tags to point at the recorded image first (they point elsewhere or nowhere).
    pub(crate) retag: Vec<ImageRef>,
    /// Whether the image was seen (`false`: the daemon is unreachable, the record stands).
    pub(crate) checked: bool,
}

/// The decision.
#[derive(Debug, Clone)]
pub(crate) enum Verdict {
    /// Build, because of the cause.
    Build(Cause),
    /// Reuse the recorded image.
    Reuse(Reuse),
}

/// When every tag points at the recorded image, the image exists: no need to ask for it.
pub(crate) fn tags_settle_presence(record: &BuildRecord, tags: &[(ImageRef, TagState)]) -> bool {
    tags.iter().all(|(_, state)| {
        state
            .as_ref()
            .is_some_and(|id| id.as_ref() == Some(&record.image_id))
    })
}

/// Decides from what was observed.
pub(crate) fn decide(observed: Observed) -> Verdict {
    if !observed.records {
        return Verdict::Build(Cause::NoCacheDirectory);
    }
    if observed.forced {
        return Verdict::Build(Cause::Forced);
    }
    let Some(record) = observed.record else {
        return Verdict::Build(Cause::NoRecord);
    };
    let settled = tags_settle_presence(&record, &observed.tags);
    let present = if settled {
        Some(true)
    } else {
        observed.image_present
    };
    if present == Some(false) {
        return Verdict::Build(Cause::ImageMissing {
            image_id: record.image_id,
        });
    }
    let retag = observed
        .tags
        .into_iter()
        .filter(|(_, state)| {
            state
                .as_ref()
                .is_some_and(|id| id.as_ref() != Some(&record.image_id))
        })
        .map(|(tag, _)| tag)
        .collect();
    Verdict::Reuse(Reuse {
        record,
        retag,
        checked: present.is_some(),
    })
}

#[cfg(test)]
mod tests;
