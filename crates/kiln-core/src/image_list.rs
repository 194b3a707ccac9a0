//! Listing images: which ones [`ImageEngine::list_images`](crate::ImageEngine::list_images)
//! returns ([`ImageFilter`]) and what it says about each ([`ImageSummary`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::ImageId;

/// Which images a listing returns.
///
/// `#[non_exhaustive]`: made with [`ImageFilter::new`] (or `default()`) and the builder methods.
/// The default lists what `docker images` lists: every tagged image and every image that no
/// other image is built on, intermediate images of the classic builder left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImageFilter {
    /// Only images carrying this label: a key (`dev.kiln.fingerprint`), or `key=value`.
    pub label: Option<String>,
    /// Intermediate images too (untagged images other images are built on), as
    /// `docker images --all` lists them: what it takes to follow every image's parents.
    pub intermediates: bool,
}

impl ImageFilter {
    /// Every image `docker images` lists.
    pub fn new() -> Self {
        ImageFilter::default()
    }

    /// Only images carrying `label` (a key, or `key=value`).
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Intermediate images too (or not).
    pub fn intermediates(mut self, intermediates: bool) -> Self {
        self.intermediates = intermediates;
        self
    }

    /// Whether an image with `labels` passes the label condition.
    pub fn admits(&self, labels: &BTreeMap<String, String>) -> bool {
        match self.label.as_deref().map(|label| label.split_once('=')) {
            None => true,
            Some(None) => self
                .label
                .as_ref()
                .is_some_and(|key| labels.contains_key(key)),
            Some(Some((key, value))) => labels.get(key).is_some_and(|found| found == value),
        }
    }
}

/// One image of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSummary {
    /// The image id.
    pub id: ImageId,
    /// The image it was built on, when the engine records it (the classic builder does, for
    /// every step; BuildKit does not).
    pub parent: Option<ImageId>,
    /// The tags pointing at it, as Docker shows them (`app:1`); none for a dangling image.
    pub tags: Vec<String>,
    /// Its size in bytes as the engine reports it: every layer, those shared with other images
    /// included.
    pub size: u64,
    /// When it was created, in seconds since the epoch.
    pub created: u64,
    /// The labels of its configuration.
    pub labels: BTreeMap<String, String>,
    /// How many containers, running or stopped, were created from it.
    pub containers: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_filter_takes_a_key_or_a_key_and_value() {
        let labels = BTreeMap::from([("dev.kiln.fingerprint".to_owned(), "abc".to_owned())]);
        assert!(ImageFilter::new().admits(&labels));
        assert!(ImageFilter::new().admits(&BTreeMap::new()));
        assert!(
            ImageFilter::new()
                .label("dev.kiln.fingerprint")
                .admits(&labels)
        );
        assert!(
            ImageFilter::new()
                .label("dev.kiln.fingerprint=abc")
                .admits(&labels)
        );
        assert!(
            !ImageFilter::new()
                .label("dev.kiln.fingerprint=abd")
                .admits(&labels)
        );
        assert!(!ImageFilter::new().label("other").admits(&labels));
        let all = ImageFilter::new().intermediates(true);
        assert!(all.intermediates && all.label.is_none());
    }
}
