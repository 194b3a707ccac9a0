//! The command line, as clap parses it. Values stay strings here; the facade validates them
//! (`kiln::SpecInput`, `kiln::SchemeConfig`) so every bad value gets kiln's error (and exit
//! code 2, JSON with `--json`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// What `kiln --help` says after the commands: where settings come from and what exit codes mean.
const AFTER_HELP: &str = "\
Configuration:
  ~/.config/kiln/config.toml, or the file KILN_CONFIG names; each setting has a KILN_* override:
  KILN_FORCE_BUILD, KILN_NO_CACHE, KILN_USE_BUILDX (yes/no), KILN_TARGET_PLATFORM, KILN_CACHE_DIR,
  KILN_CACHE_TTL (seconds), KILN_CACHE_MAX_SIZE, KILN_REGISTRY, KILN_CACHE_REPO, KILN_MULTI_PLATFORM
  (yes/no), KILN_PLATFORMS (comma-separated).

Environment:
  DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, DOCKER_CONTEXT, DOCKER_CONFIG
                         the daemon and registry credentials, found as the Docker CLI finds them
                         (DOCKER_HOST=ssh://[user@]host[:port] runs the ssh client)
  KILN_SSH_CONFIG        the ssh client configuration for ssh:// hosts, instead of ~/.ssh/config
  KILN_REGISTRY_USERNAME, KILN_REGISTRY_PASSWORD
                         registry credentials that win over the Docker CLI's
  KILN_LOG               logs on stderr (debug: decisions; trace: every request); default warn

Exit codes:
  0 success    1 a negative answer (exists: absent)    2 invalid input
  3 daemon or registry unreachable    4 build failed (images prune: the daemon refused a removal)
  5 authentication refused";

/// Build, cache and ship Docker images for test harnesses and benchmark suites.
#[derive(Debug, Parser)]
#[command(name = "kiln", version, about, long_about = None, after_help = AFTER_HELP)]
pub struct Cli {
    /// Print no progress, only the result and errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// kiln's subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build an image from a context directory (or reuse the one its inputs already made).
    Build(Box<BuildArgs>),
    /// Decide what `build` would do with the same arguments, and why, without building
    /// (`--all`: every cell of a bake file).
    Plan(Box<PlanArgs>),
    /// Build a matrix of images from a bake file (kiln.toml) in dependency order, each cell
    /// skipped when nothing changed.
    Bake(Box<BakeArgs>),
    /// The base tiers of a bake file's catalogue: list them, or build and verify their claims.
    Bases(BasesArgs),
    /// Run the tests of a bake file: build what they need, run their services on networks of
    /// their own, keep the logs, remove everything.
    Run(Box<RunArgs>),
    /// The experiments kiln ran: list, show, logs, remove, collect the dead.
    Experiment(ExperimentArgs),
    /// Tell whether an image exists (exit 0) or not (exit 1).
    Exists(ExistsArgs),
    /// Push an image to its registry, with each layer's progress.
    Push(TransferArgs),
    /// Pull an image from its registry, with each layer's progress.
    Pull(TransferArgs),
    /// Show or empty kiln's caches.
    Cache(CacheArgs),
    /// List the images kiln built, or remove the superseded ones.
    Images(ImagesArgs),
    /// Check the daemon, the host and kiln's setup.
    Doctor(DoctorArgs),
}

/// `kiln cache`.
#[derive(Debug, Args)]
pub struct CacheArgs {
    /// What to do with the caches.
    #[command(subcommand)]
    pub command: CacheCommand,
}

/// `kiln cache` subcommands.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Hits, misses, entries, bytes, age, hit rate and freshness of L1 and L2.
    Stats {
        /// Print `{"l1": {...}, "l2": {...}}`.
        #[arg(long)]
        json: bool,
    },
    /// Empty both levels (records, stat indexes, existence answers, counts).
    Clear {
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Remove old build records (with their manifests and tag pointers), corrupt entries and
    /// lock files no build holds. Without a limit: down to the configured size bound
    /// (`cache_max_size`, `KILN_CACHE_MAX_SIZE`, default 512MiB).
    Prune {
        /// Remove records built at least this long ago: `30d`, `12h`, `45m`, `90s`, `2w`.
        #[arg(long, value_name = "DURATION")]
        older_than: Option<String>,
        /// Remove the oldest records until all take at most this: `500MiB`, `2GiB`, `100MB`.
        #[arg(long, value_name = "SIZE")]
        max_size: Option<String>,
        /// List what would be removed; remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// `kiln images`.
#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// What to do with kiln's images.
    #[command(subcommand)]
    pub command: ImagesCommand,
}

/// `kiln images` subcommands.
///
/// kiln's images are those its build records name and those carrying its fingerprint label;
/// each is named after the tag it was built for (its bake cell's or build's tag).
#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    /// One line per image kiln built: id, the tag it was built for, its tags, size, age, how
    /// many containers (running or stopped) use it, fingerprint.
    #[command(visible_alias = "list")]
    Ls {
        /// Only the images built for these repositories (`picoquic`) or tags
        /// (`picoquic:v1-debug`); all when none.
        #[arg(value_name = "NAME")]
        names: Vec<String>,
        /// Print `{"images": [...]}`.
        #[arg(long)]
        json: bool,
    },
    /// Remove superseded images: per tag, the image it points at and the newest others stay up
    /// to --keep, and so does every image a container uses or another image is built on; the
    /// rest are untagged and removed (never forced), with their build records. Try --dry-run
    /// first.
    Prune {
        /// Only the images built for these repositories (`picoquic`) or tags
        /// (`picoquic:v1-debug`); all when none.
        #[arg(value_name = "NAME")]
        names: Vec<String>,
        /// How many images to keep per tag, the one it points at included (at least 1).
        #[arg(long, value_name = "N", default_value_t = kiln::images::DEFAULT_KEEP)]
        keep: usize,
        /// List what would be removed; remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// `kiln build` and `kiln plan`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The build context directory.
    #[arg(default_value = ".")]
    pub context: PathBuf,
    /// The Dockerfile (default: CONTEXT/Dockerfile); may lie outside the context.
    #[arg(short = 'f', long = "file", visible_alias = "dockerfile")]
    pub dockerfile: Option<PathBuf>,
    /// The implementation's (or SeBS benchmark's) name (default: the context directory's name).
    #[arg(long, visible_alias = "benchmark")]
    pub name: Option<String>,
    /// The implementation's version (SeBS: the language version): named by the scheme and
    /// passed as VERSION.
    #[arg(long = "version", id = "impl_version")]
    pub version: Option<String>,
    /// The tag's version part.
    #[arg(long, default_value = "latest")]
    pub tag_version: String,
    /// Build mode: "", debug, release, rel-lto, debug-asan, release-static-pgo.
    #[arg(long, default_value = "")]
    pub mode: String,
    /// Runtime mode: minimal, debug, profile.
    #[arg(long, default_value = "minimal")]
    pub runtime_mode: String,
    /// Target platform (linux/amd64, arm64, x64, ...; several separated by commas with --push);
    /// default: the host's.
    #[arg(long, visible_aliases = ["arch", "architecture"])]
    pub platform: Option<String>,
    /// A build arg, NAME=VALUE (or NAME to take the value from the environment).
    #[arg(long = "build-arg", value_name = "NAME=VALUE")]
    pub build_args: Vec<String>,
    /// A build arg whose value kiln keeps secret: it enters kiln's fingerprint and records
    /// only as a keyed hash, and kiln replaces it by *** in everything it prints. The daemon
    /// receives it like any --build-arg, so it ends up in the image's history; for a value
    /// the image must not keep, use a BuildKit secret mount (RUN --mount=type=secret).
    #[arg(long = "secret-build-arg", value_name = "NAME=VALUE")]
    pub secret_build_args: Vec<String>,
    /// A label for the image, NAME=VALUE.
    #[arg(long = "label", value_name = "NAME=VALUE")]
    pub labels: Vec<String>,
    /// The target stage.
    #[arg(long)]
    pub target: Option<String>,
    /// Tag the image REF instead of the generated name (repeatable).
    #[arg(long = "tag", short = 't', value_name = "REF")]
    pub tags: Vec<String>,
    /// The experiment this build belongs to (labels the image).
    #[arg(long)]
    pub experiment: Option<String>,
    /// Builder: auto, classic or buildkit.
    #[arg(long, default_value = "auto")]
    pub builder: String,
    /// Build even if a cached result exists.
    #[arg(long)]
    pub force: bool,
    /// Do not use the builder's layer cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Push the image to its registry (skipped when the registry already holds it built from
    /// the same inputs).
    #[arg(long)]
    pub push: bool,
    /// Share builds through REPO: pull `REPO:kiln-<fingerprint>` instead of building when it
    /// exists, push it after a build.
    #[arg(long, value_name = "REPO")]
    pub cache_repo: Option<String>,
    /// Let BuildKit reuse the layers of REF (an image built with inline cache, as kiln's cache
    /// repository images are); repeatable, added to `cache_from` in the configuration.
    #[arg(long = "cache-from", value_name = "REF")]
    pub cache_from: Vec<String>,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// How the image is named when no --tag is given.
    #[command(flatten)]
    pub scheme: SchemeArgs,
}

/// The naming scheme and its settings, over the configuration file's `[scheme]` table. Each
/// flag is the setting of the same name (`--resources-id` is `resources_id`).
#[derive(Debug, Args)]
#[command(next_help_heading = "Naming scheme (when no --tag is given)")]
pub struct SchemeArgs {
    /// The scheme: panther (default), sebs-benchmark, sebs-infrastructure, sebs-aws, sebs-gcp,
    /// sebs-registry or sebs-docker-hub.
    #[arg(long, value_name = "NAME")]
    pub scheme: Option<String>,
    /// SeBS: the benchmark's language (python, nodejs).
    #[arg(long)]
    pub language: Option<String>,
    /// SeBS: the deployment system (aws, gcp, openwhisk, local).
    #[arg(long)]
    pub system: Option<String>,
    /// SeBS: the SeBS version the images belong to (1.2.1).
    #[arg(long)]
    pub sebs_version: Option<String>,
    /// SeBS: the image repository (default: spcleth/serverless-benchmarks where optional).
    #[arg(long)]
    pub repository: Option<String>,
    /// SeBS: the image tag prefix.
    #[arg(long)]
    pub tag_prefix: Option<String>,
    /// SeBS infrastructure images: the kind (build, run, manage).
    #[arg(long)]
    pub kind: Option<String>,
    /// SeBS on AWS: the account id.
    #[arg(long)]
    pub account: Option<String>,
    /// SeBS on AWS or GCP: the region.
    #[arg(long)]
    pub region: Option<String>,
    /// SeBS on AWS or GCP: the resources id naming the deployment's repository.
    #[arg(long)]
    pub resources_id: Option<String>,
    /// SeBS on GCP: the project id.
    #[arg(long)]
    pub project: Option<String>,
    /// SeBS with any registry (sebs-registry): the registry host, with its port.
    #[arg(long)]
    pub registry_host: Option<String>,
}

/// `kiln exists`.
#[derive(Debug, Args)]
pub struct ExistsArgs {
    /// The image reference.
    pub reference: String,
    /// Ask the image's registry (a manifest HEAD, no pull) instead of the daemon: exit 0
    /// exists, 1 absent, 5 credentials refused, 3 registry unreachable.
    #[arg(long)]
    pub remote: bool,
    /// Print the answer as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `kiln push` and `kiln pull`.
#[derive(Debug, Args)]
pub struct TransferArgs {
    /// The image reference (`registry:port/name:tag`).
    pub reference: String,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `kiln plan`: a build's arguments, or `--all` with a bake file.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The build's arguments (with `--all`, `-f` names the bake file).
    #[command(flatten)]
    pub build: BuildArgs,
    /// Plan every cell of the bake file (`-f`, default kiln.toml); a CONTEXT given is a target.
    #[arg(long)]
    pub all: bool,
    /// With --all: the cells of shard I of N and the parents they need, each with its owner.
    #[arg(long, value_name = "I/N", requires = "all")]
    pub shard: Option<String>,
}

/// `kiln bake`.
#[derive(Debug, Args)]
pub struct BakeArgs {
    /// Images (by name) or cells (by id) to bake, with the parents they need; all when none.
    pub targets: Vec<String>,
    /// The bake file.
    #[arg(short = 'f', long = "file", default_value = "kiln.toml")]
    pub file: std::path::PathBuf,
    /// How many cells run at once (default: the file's `jobs`, else 2).
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,
    /// Push: built cells to the cache repository, then the human tags once all succeeded.
    #[arg(long)]
    pub push: bool,
    /// When --push writes the human tags: after-all (default) or as-built.
    #[arg(long, value_name = "WHEN", default_value = "after-all")]
    pub publish: String,
    /// Publish only: every cell must be in the cache repository (baked by the shards).
    #[arg(long, conflicts_with = "shard")]
    pub publish_only: bool,
    /// Build independent cells after a failure; dependants are skipped (default when CI is set).
    #[arg(long, conflicts_with = "fail_fast")]
    pub keep_going: bool,
    /// Cancel everything at the first failure (default otherwise).
    #[arg(long)]
    pub fail_fast: bool,
    /// Bake shard I of N: its cells (by a stable hash of their ids) and the parents they need.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// How long a shard waits for a parent another shard owns before building it (seconds).
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub shard_wait: u64,
    /// Build every cell even when nothing changed.
    #[arg(long)]
    pub force: bool,
    /// Where the cells' full logs go (default: a new folder under the cache directory).
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<std::path::PathBuf>,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `kiln bases`.
#[derive(Debug, Args)]
pub struct BasesArgs {
    /// What to do with the tiers.
    #[command(subcommand)]
    pub command: BasesCommand,
}

/// `kiln bases` subcommands.
#[derive(Debug, Subcommand)]
pub enum BasesCommand {
    /// Every tier of the catalogue the bake file's `[bases]` names: its claims, size limit and,
    /// per platform, its reference and what was verified of the build of its current inputs.
    /// Builds nothing and needs no daemon.
    #[command(visible_alias = "ls")]
    List {
        /// The bake file.
        #[arg(short = 'f', long = "file", default_value = "kiln.toml")]
        file: PathBuf,
        /// Print `{"catalogue", "strategy", "tiers": [...]}`.
        #[arg(long)]
        json: bool,
    },
    /// Build (or reuse) every tier built for a platform, parents first, and check every claim
    /// again: the size limit, the platform and each capability's probe in a container of the
    /// tier. Exit 4 naming the tier and the probe when a claim fails.
    Verify {
        /// The bake file.
        #[arg(short = 'f', long = "file", default_value = "kiln.toml")]
        file: PathBuf,
        /// The platform (default: the configured target platform, else the host's).
        #[arg(long)]
        platform: Option<String>,
        /// How many tiers are built at once (default: the file's `jobs`, else 2).
        #[arg(short = 'j', long)]
        jobs: Option<usize>,
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// `kiln experiment`.
#[derive(Debug, Args)]
pub struct ExperimentArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ExperimentCommand,
}

/// The `kiln experiment` subcommands.
#[derive(Debug, Subcommand)]
pub enum ExperimentCommand {
    /// List the experiments (from their folders: works with the daemon down).
    Ls {
        /// Print the list as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Summarise one experiment: its tests, containers, exit codes and log files.
    Show {
        /// Its id, or a part of it that names one experiment.
        id: String,
        /// Print the metrics as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Print the logs an experiment kept (all services, or one).
    Logs {
        /// Its id, or a part of it that names one experiment.
        id: String,
        /// Only this service's logs.
        service: Option<String>,
    },
    /// Remove an experiment that is not running: its containers, networks and folder.
    Rm {
        /// Its id, or a part of it that names one experiment.
        id: String,
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Collect the resources of experiments whose process died, after saving their logs.
    Gc {
        /// List what would be collected, collecting nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// `kiln run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The tests to run, by name; all when none.
    pub tests: Vec<String>,
    /// The bake file.
    #[arg(short = 'f', long = "file", default_value = "kiln.toml")]
    pub file: std::path::PathBuf,
    /// The experiment's name (part of its id and of every resource's name).
    #[arg(long, default_value = "run")]
    pub name: String,
    /// Leave the containers and networks in place (labelled dev.kiln.keep; gc leaves them).
    #[arg(long)]
    pub keep: bool,
    /// Build with records of the experiment's own: nothing built for another run is reused.
    #[arg(long)]
    pub isolated: bool,
    /// How many tests run at once (each on its own network).
    #[arg(short = 'j', long, default_value_t = 1)]
    pub jobs: usize,
    /// The pool test subnets come from, split in /24 blocks.
    #[arg(long, value_name = "CIDR", default_value = "10.213.0.0/16")]
    pub subnet_pool: String,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `kiln doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
}
