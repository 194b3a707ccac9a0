//! `Kiln`: the entry point — an engine behind its cache, a tag scheme, an environment and the
//! configuration, composed once.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use kiln_cache::stats::{self, Counts, LevelStats};
use kiln_cache::{
    CachedEngine, ExistenceCache, L1Settings, PruneLimits, PruneReport, RecordStore, SingleFlight,
    SourcedAnswer, default_cache_dir, snapshot,
};
use kiln_core::{
    BuildReport, Clock, Digest, DynImageEngine, Env, EventSink, Fingerprint, ImageEngine,
    ImageEngineExt, ImageRef, ProcessEnv, PullOptions, Pulled, PushOptions, PushedImage, Registry,
    RegistryOptions, RemoteImage, Result, SharedEnv, SystemClock, TagScheme,
};
use kiln_docker::registry::OciRegistry;
use kiln_docker::{CredentialSource, DockerEngine};
use kiln_platform::{HostProbe, SharedProbe, SystemProbe};
use serde::Serialize;

use crate::config::Config;
use crate::experiment::runtime::Runtime;

/// The engine every operation goes through: the configured engine behind the L1 cache.
pub type KilnEngine = CachedEngine<DynImageEngine>;

/// kiln's facade: builds images, answers whether they exist.
///
/// Thread-safe and cheap to share. Use [`Kiln::shared`] for one instance per process (one
/// Docker client, as the PANTHER builder's singleton offers), or [`Kiln::builder`] to inject an
/// engine, a tag scheme, a clock, an environment or a configuration (tests, embedding).
///
/// Concurrent builds of the same inputs in one process run once and share the result; across
/// processes a lock per fingerprint makes the second wait and reuse the first's image.
pub struct Kiln {
    engine: Arc<KilnEngine>,
    tag_scheme: Arc<dyn TagScheme>,
    env: SharedEnv,
    config: Config,
    records: Option<RecordStore>,
    l1: Arc<ExistenceCache>,
    clock: Arc<dyn Clock>,
    pub(crate) builds: SingleFlight<Fingerprint, Result<BuildReport>>,
    l2_counts: Mutex<Counts>,
    registry: Arc<dyn Registry>,
    credentials: CredentialSource,
    host_probe: SharedProbe,
    runtime: Option<Runtime>,
}

impl fmt::Debug for Kiln {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kiln")
            .field("engine", &self.engine)
            .field("tag_scheme", &self.tag_scheme.name())
            .field("cache_dir", &self.records.as_ref().map(RecordStore::root))
            .finish_non_exhaustive()
    }
}

/// Builds a [`Kiln`] with injected parts; whatever is not set gets the default.
#[derive(Default)]
pub struct KilnBuilder {
    engine: Option<DynImageEngine>,
    tag_scheme: Option<Arc<dyn TagScheme>>,
    env: Option<SharedEnv>,
    config: Option<Config>,
    cache_dir: Option<PathBuf>,
    clock: Option<Arc<dyn Clock>>,
    registry: Option<Arc<dyn Registry>>,
    credentials: Option<CredentialSource>,
    host_probe: Option<SharedProbe>,
    runtime: Option<Runtime>,
}

impl KilnBuilder {
    /// Uses `engine` instead of the Docker daemon the environment points at.
    pub fn engine(mut self, engine: impl ImageEngine) -> Self {
        self.engine = Some(Arc::new(engine));
        self
    }

    /// Uses an already shared engine.
    pub fn shared_engine(mut self, engine: DynImageEngine) -> Self {
        self.engine = Some(engine);
        self
    }

    /// Names images with `scheme` (default: the configuration's `[scheme]`, else
    /// [`PantherScheme`](kiln_schemes::PantherScheme)).
    pub fn tag_scheme(mut self, scheme: impl TagScheme + 'static) -> Self {
        self.tag_scheme = Some(Arc::new(scheme));
        self
    }

    /// Names images with an already shared scheme (what
    /// [`SchemeConfig::scheme`](kiln_schemes::SchemeConfig::scheme) returns).
    pub fn shared_tag_scheme(mut self, scheme: Arc<dyn TagScheme>) -> Self {
        self.tag_scheme = Some(scheme);
        self
    }

    /// Reads settings from `env` instead of the process environment.
    pub fn env(mut self, env: impl Env + 'static) -> Self {
        self.env = Some(Arc::new(env));
        self
    }

    /// Reads settings from an already shared environment.
    pub fn shared_env(mut self, env: SharedEnv) -> Self {
        self.env = Some(env);
        self
    }

    /// Uses `config` instead of reading the configuration file and environment.
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// Keeps records under `dir` (default: the configuration's, else the XDG cache directory).
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Asks `registry` about remote images (default: the OCI distribution client).
    pub fn registry(mut self, registry: impl Registry) -> Self {
        self.registry = Some(Arc::new(registry));
        self
    }

    /// Takes registry credentials from `credentials` (default: the environment and the Docker
    /// CLI configuration).
    pub fn credentials(mut self, credentials: CredentialSource) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Learns about the host (architecture, emulators) through `probe` (default: the system).
    pub fn host_probe(mut self, probe: SharedProbe) -> Self {
        self.host_probe = Some(probe);
        self
    }

    /// Tells cache ages with `clock` (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Containers and networks go through `runtime` (a fake in tests).
    pub fn runtime(mut self, runtime: Runtime) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// Composes the instance. Reads the configuration; the daemon is contacted on first use.
    pub fn build(self) -> Result<Kiln> {
        let env: SharedEnv = self.env.unwrap_or_else(|| Arc::new(ProcessEnv));
        let config = match self.config {
            Some(config) => config,
            None => Config::load(env.as_ref())?,
        };
        // The daemon's engine also runs containers and networks, unless a runtime was given.
        let mut runtime = self.runtime;
        let inner: DynImageEngine = match self.engine {
            Some(engine) => engine,
            None => {
                let docker = Arc::new(DockerEngine::from_env(env.as_ref())?);
                runtime.get_or_insert_with(|| Runtime::of(Arc::clone(&docker)));
                docker
            }
        };
        let cache_dir = self
            .cache_dir
            .or_else(|| config.cache_dir.clone())
            .or_else(|| default_cache_dir(env.as_ref()));
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let env_for_credentials = Arc::clone(&env);
        let tag_scheme = match self.tag_scheme {
            Some(scheme) => scheme,
            None => config.scheme.scheme()?,
        };
        let max_bytes = config.cache_max_bytes()?;
        let settings = L1Settings::with_ttl(Duration::from_secs(config.cache_ttl_secs));
        let l1 = Arc::new(ExistenceCache::new(settings, Arc::clone(&clock)));
        Ok(Kiln {
            engine: Arc::new(CachedEngine::new(inner, Arc::clone(&l1))),
            tag_scheme,
            env,
            config,
            records: cache_dir.map(|dir| RecordStore::new(&dir).with_max_bytes(max_bytes)),
            l1,
            clock,
            builds: SingleFlight::new(),
            l2_counts: Mutex::new(Counts::default()),
            registry: self
                .registry
                .unwrap_or_else(|| Arc::new(OciRegistry::new())),
            host_probe: self.host_probe.unwrap_or_else(|| Arc::new(SystemProbe)),
            credentials: self
                .credentials
                .unwrap_or_else(|| CredentialSource::from_env(env_for_credentials.as_ref())),
            runtime,
        })
    }
}

static SHARED: OnceLock<Kiln> = OnceLock::new();

/// The statistics of both cache levels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CacheStats {
    /// In-memory existence answers (as of this process, after loading the snapshot).
    pub l1: LevelStats,
    /// Build records on disk.
    pub l2: LevelStats,
}

impl Kiln {
    /// What experiments run containers and networks on.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`](kiln_core::Error::InvalidInput) when this instance has none.
    pub fn runtime(&self) -> Result<Runtime> {
        self.runtime.clone().ok_or_else(|| {
            kiln_core::Error::invalid_input(
                "container runtime",
                "(none)",
                "a Kiln with a container runtime (KilnBuilder::runtime)",
            )
        })
    }

    /// An instance like this one whose build records live in `cache_dir` instead: what it
    /// builds is recorded there and nothing recorded elsewhere is reused (`kiln run
    /// --isolated`). Engine, configuration, scheme, registry and runtime are shared.
    pub fn with_cache_dir(&self, cache_dir: &std::path::Path) -> Result<Kiln> {
        let mut builder = Kiln::builder()
            .shared_engine(Arc::clone(self.engine.inner()))
            .shared_tag_scheme(Arc::clone(&self.tag_scheme))
            .shared_env(Arc::clone(&self.env))
            .config(self.config.clone())
            .cache_dir(cache_dir)
            .registry(Arc::clone(&self.registry))
            .credentials(self.credentials.clone())
            .host_probe(Arc::clone(&self.host_probe))
            .clock(Arc::clone(&self.clock));
        if let Some(runtime) = &self.runtime {
            builder = builder.runtime(runtime.clone());
        }
        builder.build()
    }

    /// A builder for an instance with injected parts.
    pub fn builder() -> KilnBuilder {
        KilnBuilder::default()
    }

    /// The process-wide instance, configured from the process environment on first use.
    pub fn shared() -> Result<&'static Kiln> {
        if let Some(kiln) = SHARED.get() {
            return Ok(kiln);
        }
        let kiln = Kiln::builder().build()?;
        Ok(SHARED.get_or_init(|| kiln))
    }

    /// The engine every operation goes through (the configured one behind the L1 cache).
    pub fn engine(&self) -> &KilnEngine {
        &self.engine
    }

    /// The tag scheme that names images.
    pub fn tag_scheme(&self) -> &dyn TagScheme {
        self.tag_scheme.as_ref()
    }

    /// The clock every time the facade reads comes from (cache ages, record times).
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// The time since `start` by the injected clock (zero if the clock went back).
    pub(crate) fn since(&self, start: std::time::SystemTime) -> Duration {
        self.clock.now().duration_since(start).unwrap_or_default()
    }

    /// The environment settings are read from.
    pub fn env(&self) -> &dyn Env {
        self.env.as_ref()
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The build records, unless no cache directory could be determined.
    pub fn records(&self) -> Option<&RecordStore> {
        self.records.as_ref()
    }

    /// What kiln learns about the host through.
    pub fn host_probe(&self) -> &dyn HostProbe {
        self.host_probe.as_ref()
    }

    /// The registry client.
    pub fn registry(&self) -> &dyn Registry {
        self.registry.as_ref()
    }

    /// Where registry credentials come from.
    pub fn credentials(&self) -> &CredentialSource {
        &self.credentials
    }

    /// Pushes `image` to its registry with the credentials found for it.
    pub async fn push(&self, image: &ImageRef, events: EventSink) -> Result<PushedImage> {
        let credentials = self.credentials.resolve(image.domain()).await?;
        let options = PushOptions::new().credentials(credentials).events(events);
        self.engine.push(image, options).await
    }

    /// Pulls `image` from its registry with the credentials found for it.
    pub async fn pull(&self, image: &ImageRef, events: EventSink) -> Result<Pulled> {
        let credentials = self.credentials.resolve(image.domain()).await?;
        let options = PullOptions::new().credentials(credentials).events(events);
        self.engine.pull(image, options).await
    }

    /// The manifest digest of `image` in its registry (`None`: absent), asked without pulling.
    pub async fn remote_digest(&self, image: &ImageRef) -> Result<Option<Digest>> {
        let credentials = self.credentials.resolve(image.domain()).await?;
        let options = RegistryOptions::new().credentials(credentials);
        self.registry.head(image, options).await
    }

    /// What the registry holds under `image`: digest, platforms of an index, config labels.
    pub async fn remote_describe(&self, image: &ImageRef) -> Result<Option<RemoteImage>> {
        let credentials = self.credentials.resolve(image.domain()).await?;
        let options = RegistryOptions::new().credentials(credentials);
        self.registry.describe(image, options).await
    }

    /// The in-memory existence cache.
    pub fn l1(&self) -> &Arc<ExistenceCache> {
        &self.l1
    }

    pub(crate) fn count_l2(&self, hit: bool) {
        let mut counts = self.l2_counts.lock().unwrap_or_else(|p| p.into_inner());
        if hit {
            counts.hits += 1;
        } else {
            counts.misses += 1;
        }
    }

    /// Whether the engine has `image` (a fresh cached answer counts).
    pub async fn image_exists(&self, image: &ImageRef) -> Result<bool> {
        self.engine.exists(image).await
    }

    /// Whether `image` exists and who says so; when the daemon cannot be reached, the cache
    /// answers where its rules allow (marked stale) and the daemon's error is returned where
    /// they do not.
    pub async fn image_answer(&self, image: &ImageRef) -> Result<SourcedAnswer> {
        self.engine.answer(image).await
    }

    /// Loads the L1 snapshot kept by earlier processes. A corrupt snapshot is a warning
    /// (returned), never an error: the cache then starts cold.
    pub async fn load_caches(&self) -> Option<String> {
        let records = self.records.as_ref()?;
        // What a killed kiln process was writing when it died: a few small directories.
        let root = records.root();
        for dir in [
            root.to_owned(),
            records.stat_dir(),
            root.join("records"),
            root.join("manifests"),
            root.join("tags"),
        ] {
            kiln_cache::dir::sweep_orphans(&dir);
        }
        let path = snapshot::snapshot_path(records.root());
        snapshot::load(&self.l1, &path)
            .await
            .err()
            .map(|error| format!("{error}; starting with an empty existence cache"))
    }

    /// Saves the L1 snapshot and adds this process's hit and miss counts to the kept ones.
    /// Returns a warning when that fails; the caches are only an optimisation.
    pub async fn save_caches(&self) -> Option<String> {
        let records = self.records.as_ref()?;
        let (l1_hits, l1_misses) = self.l1.take_counts();
        let l2 = std::mem::take(&mut *self.l2_counts.lock().unwrap_or_else(|p| p.into_inner()));
        let l1 = Counts {
            hits: l1_hits,
            misses: l1_misses,
        };
        let saved = snapshot::save(&self.l1, &snapshot::snapshot_path(records.root())).await;
        let counted = stats::add_counts(records.root(), l1, l2);
        saved
            .and(counted)
            .err()
            .map(|error| format!("{error}; cache not saved"))
    }

    /// Statistics of both cache levels, counts of all processes included.
    pub async fn cache_stats(&self) -> Result<CacheStats> {
        let (mut l1_counts, mut l2_counts) = match &self.records {
            Some(records) => stats::read_counts(records.root())?,
            None => Default::default(),
        };
        let (hits, misses) = self.l1.counts();
        l1_counts.hits += hits;
        l1_counts.misses += misses;
        let own_l2 = *self.l2_counts.lock().unwrap_or_else(|p| p.into_inner());
        l2_counts.hits += own_l2.hits;
        l2_counts.misses += own_l2.misses;
        let now_s = self.clock.now_ms() / 1000;
        let l2 = match &self.records {
            Some(records) => stats::l2_stats(records, l2_counts, now_s),
            None => LevelStats::empty(l2_counts),
        };
        Ok(CacheStats {
            l1: stats::l1_stats(&self.l1, l1_counts).await,
            l2,
        })
    }

    /// Prunes the build records to `limits` (see [`kiln_cache::prune`]): records with their
    /// manifests and tag pointers, corrupt entries and free lock files; only lists them when
    /// `dry_run`. Ages are measured with the facade's clock. Without a cache directory there
    /// is nothing to prune.
    pub fn prune_caches(&self, limits: PruneLimits, dry_run: bool) -> Result<PruneReport> {
        let Some(records) = &self.records else {
            return Ok(PruneReport::empty(dry_run));
        };
        kiln_cache::prune::prune(records, limits, self.clock.now_ms() / 1000, dry_run)
    }

    /// Empties both cache levels, in memory and on disk.
    pub fn clear_caches(&self) -> Result<()> {
        self.l1.clear();
        self.l1.take_counts();
        *self.l2_counts.lock().unwrap_or_else(|p| p.into_inner()) = Counts::default();
        if let Some(records) = &self.records {
            stats::clear(records.root())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::MapEnv;
    use kiln_core::testing::FakeEngine;

    #[test]
    fn builder_injects_parts() {
        let kiln = Kiln::builder()
            .engine(FakeEngine::new())
            .env(MapEnv::new())
            .cache_dir("/tmp/kiln-unit-cache")
            .build()
            .unwrap();
        assert_eq!(kiln.tag_scheme().name(), "panther");
        assert!(format!("{kiln:?}").contains("FakeEngine"));
    }

    #[test]
    fn the_scheme_is_injected_else_configured() {
        let mut config = Config {
            scheme: kiln_schemes::SchemeConfig::named("sebs-docker-hub"),
            ..Config::default()
        };
        let build = |config: Config| {
            Kiln::builder()
                .engine(FakeEngine::new())
                .env(MapEnv::new())
                .config(config)
                .cache_dir("/tmp/kiln-unit-cache")
                .build()
        };
        let error = build(config.clone()).unwrap_err().to_string();
        assert!(
            error.contains("sebs-docker-hub") && error.contains("system"),
            "{error}"
        );
        config.scheme.system = Some("openwhisk".into());
        config.scheme.sebs_version = Some("1.2.1".into());
        config.scheme.language = Some("python".into());
        assert_eq!(
            build(config.clone()).unwrap().tag_scheme().name(),
            "sebs-docker-hub"
        );
        let injected = kiln_schemes::SchemeConfig::default().scheme().unwrap();
        let kiln = Kiln::builder()
            .engine(FakeEngine::new())
            .env(MapEnv::new())
            .config(config)
            .shared_tag_scheme(injected)
            .build()
            .unwrap();
        assert_eq!(kiln.tag_scheme().name(), "panther");
    }

    #[test]
    fn default_engine_comes_from_the_environment() {
        let kiln = Kiln::builder()
            .config(Config::default())
            .env(MapEnv::new().with("DOCKER_HOST", "unix:///tmp/kiln-test-nowhere.sock"))
            .build()
            .unwrap();
        assert!(
            format!("{kiln:?}").contains("kiln-test-nowhere"),
            "{kiln:?}"
        );
    }

    #[test]
    fn kiln_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Kiln>();
    }
}
