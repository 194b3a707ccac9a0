//! `Kiln`: the entry point — an engine, a tag scheme and an environment, composed once.

use std::fmt;
use std::sync::{Arc, OnceLock};

use std::path::PathBuf;

use kiln_cache::{RecordStore, default_cache_dir};
use kiln_core::{
    BuildReport, BuildSpec, DynImageEngine, Env, EventSink, ImageEngine, ImageEngineExt, ImageRef,
    PantherScheme, ProcessEnv, Result, SharedEnv, TagScheme,
};
use kiln_docker::DockerEngine;

use crate::build;
use crate::config::Config;
use crate::plan::{Plan, plan};

/// kiln's facade: builds images, answers whether they exist.
///
/// Thread-safe and cheap to share. Use [`Kiln::shared`] for one instance per process (one
/// Docker client, as the PANTHER builder's singleton offers), or [`Kiln::builder`] to inject an
/// engine, a tag scheme or an environment (tests, embedding).
pub struct Kiln {
    engine: DynImageEngine,
    tag_scheme: Arc<dyn TagScheme>,
    env: SharedEnv,
    config: Config,
    records: Option<RecordStore>,
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

    /// Names images with `scheme` (default: [`PantherScheme`]).
    pub fn tag_scheme(mut self, scheme: impl TagScheme + 'static) -> Self {
        self.tag_scheme = Some(Arc::new(scheme));
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

    /// Composes the instance. Reads the configuration; the daemon is contacted on first use.
    pub fn build(self) -> Result<Kiln> {
        let env: SharedEnv = self.env.unwrap_or_else(|| Arc::new(ProcessEnv));
        let config = match self.config {
            Some(config) => config,
            None => Config::load(env.as_ref())?,
        };
        let engine = match self.engine {
            Some(engine) => engine,
            None => Arc::new(DockerEngine::from_env(env.as_ref())?),
        };
        let cache_dir = self
            .cache_dir
            .or_else(|| config.cache_dir.clone())
            .or_else(|| default_cache_dir(env.as_ref()));
        Ok(Kiln {
            engine,
            tag_scheme: self.tag_scheme.unwrap_or_else(|| Arc::new(PantherScheme)),
            env,
            config,
            records: cache_dir.map(|dir| RecordStore::new(&dir)),
        })
    }
}

static SHARED: OnceLock<Kiln> = OnceLock::new();

impl Kiln {
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

    /// The engine every operation goes through.
    pub fn engine(&self) -> &DynImageEngine {
        &self.engine
    }

    /// The tag scheme that names images.
    pub fn tag_scheme(&self) -> &dyn TagScheme {
        self.tag_scheme.as_ref()
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

    /// Decides what building `spec` would do, and why, without building.
    pub async fn plan(&self, spec: &BuildSpec) -> Result<Plan> {
        plan(self, spec, &EventSink::discard()).await
    }

    /// Builds `spec` (or reuses the image its inputs already made) and reports what happened.
    pub async fn build_image(&self, spec: &BuildSpec) -> Result<BuildReport> {
        self.build_image_with_events(spec, EventSink::discard())
            .await
    }

    /// Builds `spec`, sending progress to `events`.
    pub async fn build_image_with_events(
        &self,
        spec: &BuildSpec,
        events: EventSink,
    ) -> Result<BuildReport> {
        build::run(self, spec, events).await
    }

    /// Whether the engine has `image`.
    pub async fn image_exists(&self, image: &ImageRef) -> Result<bool> {
        self.engine.exists(image).await
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
