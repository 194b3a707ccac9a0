//! `CachedEngine`: the L1 existence cache as a decorator over any [`ImageEngine`].
//!
//! Per operation:
//!
//! | operation | cached | key | invalidates |
//! |---|---|---|---|
//! | `info` | no | — | — |
//! | `inspect` | yes (tri-state, TTL) | the normalised reference | — |
//! | `inspect_id` | yes (tri-state, TTL) | `id:<image id>` | — |
//! | `build` | no | — | every tag of the request and every answer about the new image |
//! | `tag` | no | — | the target, the source, and every answer about the image |
//! | `remove` | no | — | the name, and every answer about the removed image |
//! | `remove_id` | no | — | every answer about the removed image (its id and its tags) |
//! | `list_images` | no | — | — |
//! | `push` | no | — | the name and every answer about the image (its repo digests change) |
//! | `pull` | no | — | the name, the image it named before, and the image pulled |
//!
//! Outside the trait, `refresh` / `refresh_id` always ask the engine and store its answer (for
//! decisions, which must not trust an answer up to a TTL old), and `cached` / `cached_id` read
//! the cache alone (for decisions made while the engine is unreachable).
//!
//! Invalidation happens whether the operation succeeded or not (a failure may have changed
//! things half-way). The cache itself cannot fail: its only I/O, the snapshot kept between
//! processes, is loaded and saved by the caller, and a failure there is a warning, never a
//! failed call. Every method is forwarded (`missing_trait_methods` is denied on the impl).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use kiln_core::{
    BuildRequest, BuiltImage, EngineInfo, ErrorKind, ImageDetails, ImageEngine, ImageFilter,
    ImageId, ImageRef, ImageSummary, PullOptions, Pulled, PushOptions, PushedImage, RemoveOptions,
    Result,
};
use serde::Serialize;

use crate::l1::{ExistenceCache, Lookup};

/// Where an existence answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The engine answered now.
    Daemon,
    /// The cache answered (fresh, or stale because the engine could not be reached).
    Cache,
}

/// An existence answer with its provenance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcedAnswer {
    /// The image's details, `None` when it does not exist.
    pub details: Option<ImageDetails>,
    /// Who answered.
    pub source: Source,
    /// Whether the answer is past its TTL (given only because the engine was unreachable).
    pub stale: bool,
}

/// An engine whose existence answers are cached in memory.
pub struct CachedEngine<E> {
    inner: E,
    l1: Arc<ExistenceCache>,
}

impl<E: fmt::Debug> fmt::Debug for CachedEngine<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CachedEngine({:?})", self.inner)
    }
}

impl<E: ImageEngine> CachedEngine<E> {
    /// Caches `inner`'s answers in `l1`.
    pub fn new(inner: E, l1: Arc<ExistenceCache>) -> Self {
        CachedEngine { inner, l1 }
    }

    /// The cache.
    pub fn l1(&self) -> &Arc<ExistenceCache> {
        &self.l1
    }

    /// The decorated engine.
    pub fn inner(&self) -> &E {
        &self.inner
    }

    /// Whether `image` exists, and who says so: a fresh cached answer, else the engine, else —
    /// when the engine cannot be reached — a stale "exists" from the cache. A stale "absent" or
    /// no answer at all leaves the engine's error.
    pub async fn answer(&self, image: &ImageRef) -> Result<SourcedAnswer> {
        let key = ExistenceCache::key_for(image);
        let was_fresh = matches!(self.l1.lookup(&key).await, Lookup::Fresh(_));
        match self.inspect(image).await {
            Ok(details) => Ok(SourcedAnswer {
                details,
                source: if was_fresh {
                    Source::Cache
                } else {
                    Source::Daemon
                },
                stale: false,
            }),
            Err(error) if error.kind() == ErrorKind::Unreachable => {
                match self.l1.lookup(&key).await {
                    Lookup::Stale(Some(details)) | Lookup::Fresh(Some(details)) => {
                        Ok(SourcedAnswer {
                            details: Some(details),
                            source: Source::Cache,
                            stale: true,
                        })
                    }
                    _ => Err(error),
                }
            }
            Err(error) => Err(error),
        }
    }

    /// Asks the engine about `image` — never the cache — and keeps its answer in the cache.
    ///
    /// For decisions that must not rest on an answer up to a TTL old: someone may have removed
    /// the image or rebuilt a base image with the Docker CLI since it was cached.
    pub async fn refresh(&self, image: &ImageRef) -> Result<Option<ImageDetails>> {
        let details = self.inner.inspect(image).await?;
        self.l1
            .insert(ExistenceCache::key_for(image), details.clone())
            .await;
        Ok(details)
    }

    /// [`CachedEngine::refresh`] by image id.
    pub async fn refresh_id(&self, image_id: &ImageId) -> Result<Option<ImageDetails>> {
        let details = self.inner.inspect_id(image_id).await?;
        self.l1
            .insert(ExistenceCache::key_for_id(image_id), details.clone())
            .await;
        Ok(details)
    }

    /// What the cache alone knows about `image`, fresh or stale, without asking the engine:
    /// the answer of last resort when the engine cannot be reached.
    pub async fn cached(&self, image: &ImageRef) -> Lookup {
        self.l1.lookup(&ExistenceCache::key_for(image)).await
    }

    /// [`CachedEngine::cached`] by image id.
    pub async fn cached_id(&self, image_id: &ImageId) -> Lookup {
        self.l1.lookup(&ExistenceCache::key_for_id(image_id)).await
    }

    async fn forget(&self, keys: &[String], image_ids: &[ImageId]) {
        for key in keys {
            self.l1.invalidate(key).await;
        }
        for image_id in image_ids {
            self.l1
                .invalidate(&ExistenceCache::key_for_id(image_id))
                .await;
            self.l1.invalidate_image(image_id);
        }
    }

    /// The image id a key is known to point at, if cached.
    async fn known_id(&self, key: &str) -> Option<ImageId> {
        match self.l1.lookup(key).await {
            Lookup::Fresh(Some(details)) | Lookup::Stale(Some(details)) => Some(details.id),
            _ => None,
        }
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl<E: ImageEngine> ImageEngine for CachedEngine<E> {
    async fn info(&self) -> Result<EngineInfo> {
        self.inner.info().await
    }

    async fn build(&self, request: BuildRequest) -> Result<BuiltImage> {
        let keys: Vec<String> = request.tags.iter().map(ExistenceCache::key_for).collect();
        let mut previous = Vec::new();
        for key in &keys {
            previous.extend(self.known_id(key).await);
        }
        let result = self.inner.build(request).await;
        let mut ids = previous;
        if let Ok(built) = &result {
            ids.push(built.image_id.clone());
        }
        self.forget(&keys, &ids).await;
        result
    }

    async fn inspect(&self, image: &ImageRef) -> Result<Option<ImageDetails>> {
        self.l1
            .get_or_fetch(&ExistenceCache::key_for(image), || {
                self.inner.inspect(image)
            })
            .await
    }

    async fn inspect_id(&self, image_id: &ImageId) -> Result<Option<ImageDetails>> {
        self.l1
            .get_or_fetch(&ExistenceCache::key_for_id(image_id), || {
                self.inner.inspect_id(image_id)
            })
            .await
    }

    async fn tag(&self, source: &ImageId, target: &ImageRef) -> Result<()> {
        let target_key = ExistenceCache::key_for(target);
        let source_key = ExistenceCache::key_for_id(source);
        let mut ids: Vec<ImageId> = vec![source.clone()];
        ids.extend(self.known_id(&target_key).await);
        let result = self.inner.tag(source, target).await;
        self.forget(&[target_key, source_key], &ids).await;
        result
    }

    async fn remove(&self, image: &ImageRef, options: RemoveOptions) -> Result<()> {
        let key = ExistenceCache::key_for(image);
        let known = self.known_id(&key).await;
        let result = self.inner.remove(image, options).await;
        self.forget(&[key], known.as_slice()).await;
        result
    }

    async fn remove_id(&self, image_id: &ImageId, options: RemoveOptions) -> Result<()> {
        let result = self.inner.remove_id(image_id, options).await;
        self.forget(&[], std::slice::from_ref(image_id)).await;
        result
    }

    /// Not cached: a listing is asked for when it must be current (housekeeping).
    async fn list_images(&self, filter: ImageFilter) -> Result<Vec<ImageSummary>> {
        self.inner.list_images(filter).await
    }

    async fn push(&self, image: &ImageRef, options: PushOptions) -> Result<PushedImage> {
        let key = ExistenceCache::key_for(image);
        let known = self.known_id(&key).await;
        let result = self.inner.push(image, options).await;
        self.forget(&[key], known.as_slice()).await;
        result
    }

    async fn pull(&self, image: &ImageRef, options: PullOptions) -> Result<Pulled> {
        let key = ExistenceCache::key_for(image);
        let known = self.known_id(&key).await;
        let result = self.inner.pull(image, options).await;
        let mut ids: Vec<ImageId> = known.into_iter().collect();
        if let Ok(pulled) = &result {
            ids.push(pulled.image_id.clone());
        }
        self.forget(&[key], &ids).await;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::l1::L1Settings;
    use kiln_core::testing::{FakeEngine, image_id};
    use kiln_core::{Clock, ManualClock};
    use std::time::Duration;

    fn cached() -> (CachedEngine<FakeEngine>, FakeEngine, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::default());
        let l1 = Arc::new(ExistenceCache::new(
            L1Settings::default(),
            clock.clone() as Arc<dyn Clock>,
        ));
        let fake = FakeEngine::new();
        (CachedEngine::new(fake.clone(), l1), fake, clock)
    }

    mod the_decorator_conforms {
        use super::*;

        kiln_core::engine_conformance_tests!(Some(cached().0), "cached".to_owned());
    }

    #[tokio::test]
    async fn refresh_asks_the_engine_and_updates_the_cache() {
        let (engine, fake, _) = cached();
        let image = ImageRef::parse("app:1").unwrap();
        let id = kiln_core::testing::image_id("1");
        assert_eq!(
            engine.inspect(&image).await.unwrap(),
            None,
            "absent, cached"
        );
        fake.insert_image(&image, &id);
        let refreshed = engine.refresh(&image).await.unwrap().map(|d| d.id);
        assert_eq!(refreshed.as_ref(), Some(&id), "not the cached absence");
        assert!(matches!(
            engine.cached(&image).await,
            Lookup::Fresh(Some(_))
        ));
        assert_eq!(engine.inspect(&image).await.unwrap().unwrap().id, id);
        assert_eq!(
            fake.calls().inspect,
            2,
            "the last answer came from the cache"
        );
        assert!(engine.refresh_id(&id).await.unwrap().is_some());
        assert!(matches!(
            engine.cached_id(&id).await,
            Lookup::Fresh(Some(_))
        ));
    }

    #[tokio::test]
    async fn a_cached_answer_makes_no_engine_call() {
        let (engine, fake, _) = cached();
        let image = ImageRef::parse("app:1").unwrap();
        fake.insert_image(&image, &image_id("1"));
        assert!(engine.inspect(&image).await.unwrap().is_some());
        assert!(engine.inspect(&image).await.unwrap().is_some());
        assert_eq!(fake.calls().inspect, 1);
    }

    #[tokio::test]
    async fn tag_and_remove_invalidate() {
        let (engine, fake, _) = cached();
        let image = ImageRef::parse("app:1").unwrap();
        let other = ImageRef::parse("app:2").unwrap();
        fake.insert_image(&image, &image_id("1"));
        assert_eq!(
            engine.inspect(&other).await.unwrap(),
            None,
            "absent, cached"
        );
        engine.tag(&image_id("1"), &other).await.unwrap();
        assert_eq!(
            engine.inspect(&other).await.unwrap().unwrap().id,
            image_id("1")
        );
        engine.remove(&other, RemoveOptions::new()).await.unwrap();
        assert_eq!(engine.inspect(&other).await.unwrap(), None);
        assert_eq!(
            fake.calls().inspect,
            3,
            "each answer after a change came from the engine"
        );
    }

    #[tokio::test]
    async fn removal_by_id_invalidates_and_listings_are_not_cached() {
        let (engine, fake, _) = cached();
        let image = ImageRef::parse("app:1").unwrap();
        fake.insert_image(&image, &image_id("1"));
        assert!(engine.inspect(&image).await.unwrap().is_some());
        assert!(engine.inspect_id(&image_id("1")).await.unwrap().is_some());
        assert_eq!(
            engine.list_images(ImageFilter::new()).await.unwrap().len(),
            1
        );
        engine
            .remove_id(&image_id("1"), RemoveOptions::new())
            .await
            .unwrap();
        assert_eq!(
            engine.inspect(&image).await.unwrap(),
            None,
            "the tag's answer"
        );
        assert_eq!(engine.inspect_id(&image_id("1")).await.unwrap(), None);
        assert!(
            engine
                .list_images(ImageFilter::new())
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            fake.calls().list_images,
            2,
            "every listing asked the engine"
        );
        assert_eq!(fake.calls().inspect + fake.calls().inspect_id, 4);
    }

    #[tokio::test]
    async fn stale_rules_when_the_engine_is_down() {
        let (engine, fake, clock) = cached();
        let present = ImageRef::parse("app:1").unwrap();
        let absent = ImageRef::parse("app:none").unwrap();
        fake.insert_image(&present, &image_id("1"));
        engine.inspect(&present).await.unwrap();
        engine.inspect(&absent).await.unwrap();
        fake.set_unreachable(true);

        // Fresh answers need no engine.
        let answer = engine.answer(&present).await.unwrap();
        assert_eq!((answer.source, answer.stale), (Source::Cache, false));
        assert_eq!(engine.answer(&absent).await.unwrap().details, None);

        clock.advance(Duration::from_secs(301));
        let stale = engine.answer(&present).await.unwrap();
        assert_eq!((stale.source, stale.stale), (Source::Cache, true));
        assert!(stale.details.is_some(), "a stale cache still says exists");
        let unknown = engine.answer(&absent).await.unwrap_err();
        assert_eq!(
            unknown.kind(),
            ErrorKind::Unreachable,
            "a stale absent is unknown"
        );

        fake.set_unreachable(false);
        let live = engine.answer(&present).await.unwrap();
        assert_eq!(live.source, Source::Daemon);
    }

    #[tokio::test]
    async fn many_concurrent_checks_of_few_images_make_few_calls() {
        let (engine, fake, _) = cached();
        let images: Vec<ImageRef> = (0..50)
            .map(|n| ImageRef::parse(&format!("img{n}:latest")).unwrap())
            .collect();
        for image in images.iter().step_by(2) {
            fake.insert_image(image, &image_id("present"));
        }
        let engine = Arc::new(engine);
        let checks = (0..1000).map(|n| {
            let engine = Arc::clone(&engine);
            let image = images[n % 50].clone();
            tokio::spawn(async move { engine.inspect(&image).await.unwrap() })
        });
        for check in futures_util::future::join_all(checks).await {
            check.unwrap();
        }
        assert_eq!(fake.calls().inspect, 50, "one engine call per image");
    }
}
