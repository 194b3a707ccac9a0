//! The existence cache: an L1 hit beside a daemon inspect round trip, and 1,000 concurrent
//! existence checks of 50 images against the real daemon, counting the daemon calls.
//!
//! `cargo bench -p kiln-benches --bench cache` (needs a reachable Docker daemon).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use criterion::{Criterion, criterion_group, criterion_main};
use kiln_cache::{CachedEngine, ExistenceCache, L1Settings};
use kiln_core::testing::MemoryContext;
use kiln_core::{
    BuildRequest, BuilderKind, BuiltImage, EngineInfo, EventSink, ImageDetails, ImageEngine,
    ImageFilter, ImageId, ImageRef, ImageSummary, ProcessEnv, PullOptions, Pulled, PushOptions,
    PushedImage, RemoveOptions, Result, SystemClock,
};
use kiln_docker::DockerEngine;

/// The daemon, counting the calls that reach it.
#[derive(Debug)]
struct Counting {
    inner: DockerEngine,
    inspects: AtomicUsize,
}

#[async_trait]
impl ImageEngine for Counting {
    async fn info(&self) -> Result<EngineInfo> {
        self.inner.info().await
    }
    async fn build(&self, request: BuildRequest) -> Result<BuiltImage> {
        self.inner.build(request).await
    }
    async fn inspect(&self, image: &ImageRef) -> Result<Option<ImageDetails>> {
        self.inspects.fetch_add(1, Ordering::Relaxed);
        self.inner.inspect(image).await
    }
    async fn inspect_id(&self, image_id: &ImageId) -> Result<Option<ImageDetails>> {
        self.inspects.fetch_add(1, Ordering::Relaxed);
        self.inner.inspect_id(image_id).await
    }
    async fn tag(&self, source: &ImageId, target: &ImageRef) -> Result<()> {
        self.inner.tag(source, target).await
    }
    async fn remove(&self, image: &ImageRef, options: RemoveOptions) -> Result<()> {
        self.inner.remove(image, options).await
    }
    async fn remove_id(&self, image_id: &ImageId, options: RemoveOptions) -> Result<()> {
        self.inner.remove_id(image_id, options).await
    }
    async fn list_images(&self, filter: ImageFilter) -> Result<Vec<ImageSummary>> {
        self.inner.list_images(filter).await
    }
    async fn push(&self, image: &ImageRef, options: PushOptions) -> Result<PushedImage> {
        self.inner.push(image, options).await
    }
    async fn pull(&self, image: &ImageRef, options: PullOptions) -> Result<Pulled> {
        self.inner.pull(image, options).await
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The daemon and one small image in it, or `None` (with a message) without a daemon.
fn setup(runtime: &tokio::runtime::Runtime) -> Option<(Arc<Counting>, ImageRef)> {
    let engine = DockerEngine::from_env(&ProcessEnv).ok()?;
    let image = ImageRef::parse("kiln-bench-l1:latest").unwrap();
    let ready = runtime.block_on(async {
        engine.info().await?;
        let request = BuildRequest {
            context: Arc::new(
                MemoryContext::new().file("Dockerfile", "FROM scratch\nCOPY Dockerfile /\n"),
            ),
            dockerfile: "Dockerfile".into(),
            tags: vec![image.clone()],
            build_args: BTreeMap::new(),
            target: None,
            platform: None,
            labels: BTreeMap::new(),
            builder: BuilderKind::Classic,
            no_cache: false,
            cache_from: Vec::new(),
            registry_credentials: Vec::new(),
            events: EventSink::discard(),
        };
        engine.build(request).await
    });
    if let Err(error) = ready {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("skipping the cache benches: {error}");
        }
        return None;
    }
    Some((
        Arc::new(Counting {
            inner: engine,
            inspects: AtomicUsize::new(0),
        }),
        image,
    ))
}

fn l1_hit_beside_daemon(c: &mut Criterion) {
    let runtime = runtime();
    let Some((daemon, image)) = setup(&runtime) else {
        return;
    };
    let l1 = Arc::new(ExistenceCache::new(
        L1Settings::default(),
        Arc::new(SystemClock),
    ));
    let cached = CachedEngine::new(Arc::clone(&daemon), l1);
    runtime
        .block_on(cached.inspect(&image))
        .unwrap()
        .expect("the image exists");

    let mut group = c.benchmark_group("existence");
    group.bench_function("l1_hit", |b| {
        b.to_async(&runtime).iter(|| cached.inspect(&image));
    });
    group.bench_function("daemon_inspect", |b| {
        b.to_async(&runtime).iter(|| daemon.inner.inspect(&image));
    });
    group.finish();
}

fn thousand_checks_of_fifty_images(c: &mut Criterion) {
    let runtime = runtime();
    let Some((daemon, present)) = setup(&runtime) else {
        return;
    };
    let images: Arc<Vec<ImageRef>> = Arc::new(
        (0..50)
            .map(|n| match n % 2 {
                0 => present.with_tag(&format!("v{n}")).unwrap(),
                _ => ImageRef::parse(&format!("kiln-bench-absent-{n}:latest")).unwrap(),
            })
            .collect(),
    );
    runtime.block_on(async {
        let present_id = daemon
            .inner
            .inspect(&present)
            .await
            .unwrap()
            .expect("the image exists")
            .id;
        for image in images.iter().step_by(2) {
            daemon.inner.tag(&present_id, image).await.unwrap();
        }
    });

    let mut group = c.benchmark_group("existence");
    group.sample_size(20);
    group.bench_function("1000_concurrent_checks_50_images", |b| {
        b.to_async(&runtime).iter_custom(|iterations| {
            let daemon = Arc::clone(&daemon);
            let images = Arc::clone(&images);
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let l1 = Arc::new(ExistenceCache::new(
                        L1Settings::default(),
                        Arc::new(SystemClock),
                    ));
                    let cached = Arc::new(CachedEngine::new(Arc::clone(&daemon), l1));
                    let before = daemon.inspects.load(Ordering::Relaxed);
                    let started = Instant::now();
                    let checks = (0..1000).map(|n| {
                        let cached = Arc::clone(&cached);
                        let image = images[n % 50].clone();
                        tokio::spawn(async move { cached.inspect(&image).await.unwrap().is_some() })
                    });
                    let answers = futures_util::future::join_all(checks).await;
                    total += started.elapsed();
                    let calls = daemon.inspects.load(Ordering::Relaxed) - before;
                    assert!(
                        calls <= 50,
                        "{calls} daemon calls for 1,000 checks of 50 images"
                    );
                    assert_eq!(
                        answers.into_iter().filter(|a| *a.as_ref().unwrap()).count(),
                        500
                    );
                }
                total
            }
        });
    });
    group.finish();
    #[allow(clippy::print_stdout)]
    {
        println!(
            "existence/1000_concurrent_checks_50_images: {} daemon calls over all iterations, \
             at most 50 per 1,000 checks (asserted per iteration)",
            daemon.inspects.load(Ordering::Relaxed)
        );
    }
}

criterion_group!(
    benches,
    l1_hit_beside_daemon,
    thousand_checks_of_fifty_images
);
criterion_main!(benches);
