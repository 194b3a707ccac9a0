//! L1: image-existence answers in memory (moka), with the PANTHER builder's tri-state rules.
//!
//! An answer is *fresh* for the TTL (300 s by default) when the image exists and for a shorter
//! time (30 s) when it does not — a missing image is often about to be built. A fresh answer is
//! given without asking the engine. A *stale* answer is kept: it is never given while the engine
//! answers, but when the engine cannot be reached, a stale "exists" is still an answer (marked
//! stale) and a stale "absent" is not (unknown). Time comes from an injected [`Clock`].
//!
//! Concurrent lookups of one key are serialised (moka's per-key compute lock): the first asks
//! the engine, the others find its fresh answer — one engine call per key and TTL.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kiln_core::{Clock, Error, ImageDetails, ImageId, ImageRef};
use moka::future::Cache;
use moka::ops::compute::{CompResult, Op};
use serde::{Deserialize, Serialize};

/// How long answers stay fresh, and how many are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L1Settings {
    /// Freshness of "the image exists".
    pub ttl: Duration,
    /// Freshness of "the image does not exist" (shorter).
    pub absent_ttl: Duration,
    /// Answers kept at most.
    pub capacity: u64,
}

impl Default for L1Settings {
    fn default() -> Self {
        L1Settings::with_ttl(Duration::from_secs(300))
    }
}

impl L1Settings {
    /// Settings for a TTL; absent answers stay fresh a tenth of it.
    pub fn with_ttl(ttl: Duration) -> Self {
        L1Settings {
            ttl,
            absent_ttl: ttl / 10,
            capacity: 10_000,
        }
    }
}

/// One cached answer: the image's details, or `None` for "absent", and when it was learnt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// What the engine said.
    pub details: Option<ImageDetails>,
    /// When, in milliseconds since the epoch.
    pub stored_at_ms: u64,
}

/// What the cache knows about a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// A fresh answer: give it without asking.
    Fresh(Option<ImageDetails>),
    /// An expired answer: give it only when the engine cannot be asked.
    Stale(Option<ImageDetails>),
    /// Nothing known.
    Unknown,
}

/// The in-memory existence cache.
#[derive(Debug)]
pub struct ExistenceCache {
    entries: Cache<String, Arc<Answer>>,
    settings: L1Settings,
    clock: Arc<dyn Clock>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// Answers older than this are dropped even as stale ones (moka's own clock).
const KEEP_STALE: Duration = Duration::from_secs(7 * 24 * 3600);

impl ExistenceCache {
    /// An empty cache.
    pub fn new(settings: L1Settings, clock: Arc<dyn Clock>) -> Self {
        ExistenceCache {
            entries: Cache::builder()
                .max_capacity(settings.capacity)
                .time_to_live(KEEP_STALE)
                .support_invalidation_closures()
                .build(),
            settings,
            clock,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The key of a reference.
    pub fn key_for(reference: &ImageRef) -> String {
        reference.to_string()
    }

    /// The key of an image id.
    pub fn key_for_id(image_id: &ImageId) -> String {
        format!("id:{image_id}")
    }

    /// The settings in force.
    pub fn settings(&self) -> L1Settings {
        self.settings
    }

    /// The injected clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Whether `answer` is still fresh.
    pub fn is_fresh(&self, answer: &Answer) -> bool {
        let ttl = if answer.details.is_some() {
            self.settings.ttl
        } else {
            self.settings.absent_ttl
        };
        let age = self.clock.now_ms().saturating_sub(answer.stored_at_ms);
        u128::from(age) < ttl.as_millis()
    }

    /// What is known about `key`, without counting a hit or a miss.
    pub async fn lookup(&self, key: &str) -> Lookup {
        match self.entries.get(key).await {
            Some(answer) if self.is_fresh(&answer) => Lookup::Fresh(answer.details.clone()),
            Some(answer) => Lookup::Stale(answer.details.clone()),
            None => Lookup::Unknown,
        }
    }

    /// The fresh answer for `key`, or `fetch`'s (which is then stored). Counts a hit or a miss.
    ///
    /// Concurrent calls for one key run one after the other: only the first that finds no
    /// fresh answer calls `fetch`. A failed fetch stores nothing.
    pub async fn get_or_fetch<F, Fut>(
        &self,
        key: &str,
        fetch: F,
    ) -> Result<Option<ImageDetails>, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<ImageDetails>, Error>>,
    {
        if let Some(answer) = self.entries.get(key).await
            && self.is_fresh(&answer)
        {
            self.hits.fetch_add(1, Ordering::Relaxed);
            tracing::trace!(key, present = answer.details.is_some(), "L1 hit");
            return Ok(answer.details.clone());
        }
        let result = self
            .entries
            .entry(key.to_owned())
            .and_try_compute_with(|existing| async move {
                if let Some(existing) = existing
                    && self.is_fresh(existing.value())
                {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(Op::Nop);
                }
                self.misses.fetch_add(1, Ordering::Relaxed);
                tracing::trace!(key, "L1 miss: asking the engine");
                let details = fetch().await?;
                Ok::<_, Error>(Op::Put(Arc::new(Answer {
                    details,
                    stored_at_ms: self.clock.now_ms(),
                })))
            })
            .await?;
        match result {
            CompResult::Inserted(entry)
            | CompResult::ReplacedWith(entry)
            | CompResult::Unchanged(entry) => Ok(entry.into_value().details.clone()),
            CompResult::StillNone(_) | CompResult::Removed(_) => Ok(None),
        }
    }

    /// Stores an answer learnt elsewhere (e.g. the details of an image just built).
    pub async fn insert(&self, key: String, details: Option<ImageDetails>) {
        let answer = Answer {
            details,
            stored_at_ms: self.clock.now_ms(),
        };
        self.entries.insert(key, Arc::new(answer)).await;
    }

    /// Forgets `key`.
    pub async fn invalidate(&self, key: &str) {
        self.entries.invalidate(key).await;
    }

    /// Forgets every answer about the image `image_id` (under any tag, or its id).
    pub fn invalidate_image(&self, image_id: &ImageId) {
        let image_id = image_id.clone();
        // Registering the predicate only fails when closures are not supported, which they are.
        let _ = self.entries.invalidate_entries_if(move |_, answer| {
            answer
                .details
                .as_ref()
                .is_some_and(|details| details.id == image_id)
        });
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.entries.invalidate_all();
    }

    /// Hits and misses counted since this cache was made.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// Hits and misses counted since the last call, resetting them (to add them to the counts
    /// kept on disk exactly once).
    pub fn take_counts(&self) -> (u64, u64) {
        (
            self.hits.swap(0, Ordering::Relaxed),
            self.misses.swap(0, Ordering::Relaxed),
        )
    }

    /// Every answer held, with its key.
    pub async fn answers(&self) -> Vec<(String, Answer)> {
        self.entries.run_pending_tasks().await;
        let mut answers: Vec<(String, Answer)> = self
            .entries
            .iter()
            .map(|(key, answer)| (key.as_ref().clone(), answer.as_ref().clone()))
            .collect();
        answers.sort_by(|a, b| a.0.cmp(&b.0));
        answers
    }

    /// Adds answers (from a snapshot), keeping their original times.
    pub async fn restore(&self, answers: Vec<(String, Answer)>) {
        for (key, answer) in answers {
            self.entries.insert(key, Arc::new(answer)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::ManualClock;
    use kiln_core::testing::{image_details, image_id};
    use std::sync::atomic::AtomicUsize;

    fn details(seed: &str) -> ImageDetails {
        image_details(image_id(seed), &kiln_core::Platform::linux_amd64())
    }

    fn cache() -> (ExistenceCache, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::default());
        (
            ExistenceCache::new(L1Settings::default(), clock.clone()),
            clock,
        )
    }

    #[tokio::test]
    async fn fresh_stale_and_unknown() {
        let (cache, clock) = cache();
        let calls = AtomicUsize::new(0);
        let fetch = || async {
            calls.fetch_add(1, Ordering::Relaxed);
            Ok(Some(details("sha256:1")))
        };
        assert_eq!(cache.lookup("a").await, Lookup::Unknown);
        cache.get_or_fetch("a", fetch).await.unwrap();
        cache.get_or_fetch("a", fetch).await.unwrap();
        assert_eq!(
            calls.load(Ordering::Relaxed),
            1,
            "the second answer is a hit"
        );
        assert_eq!(cache.counts(), (1, 1));

        clock.advance(Duration::from_secs(299));
        assert!(matches!(cache.lookup("a").await, Lookup::Fresh(Some(_))));
        clock.advance(Duration::from_secs(2));
        assert!(matches!(cache.lookup("a").await, Lookup::Stale(Some(_))));
        cache.get_or_fetch("a", fetch).await.unwrap();
        assert_eq!(
            calls.load(Ordering::Relaxed),
            2,
            "a stale answer is refreshed"
        );
    }

    #[tokio::test]
    async fn absent_answers_expire_sooner() {
        let (cache, clock) = cache();
        cache
            .get_or_fetch("gone", || async { Ok(None) })
            .await
            .unwrap();
        assert_eq!(cache.lookup("gone").await, Lookup::Fresh(None));
        clock.advance(Duration::from_secs(31));
        assert_eq!(cache.lookup("gone").await, Lookup::Stale(None));
    }

    #[tokio::test]
    async fn failures_are_not_cached() {
        let (cache, _) = cache();
        let error = cache
            .get_or_fetch("a", || async {
                Err(Error::Unreachable {
                    endpoint: "x".into(),
                    reason: "down".into(),
                })
            })
            .await
            .unwrap_err();
        assert!(error.is_transient());
        assert_eq!(cache.lookup("a").await, Lookup::Unknown);
    }

    #[tokio::test]
    async fn invalidating_an_image_forgets_every_name_of_it() {
        let (cache, _) = cache();
        cache.insert("a".into(), Some(details("sha256:1"))).await;
        cache.insert("b".into(), Some(details("sha256:1"))).await;
        cache.insert("c".into(), Some(details("sha256:2"))).await;
        cache.invalidate_image(&image_id("sha256:1"));
        assert_eq!(cache.lookup("a").await, Lookup::Unknown);
        assert_eq!(cache.lookup("b").await, Lookup::Unknown);
        assert!(matches!(cache.lookup("c").await, Lookup::Fresh(Some(_))));
    }
}
