//! [`Experiment`]: what a harness drives — networks made, containers run with their output
//! kept, waited for, recorded, and everything removed at the end. Every resource is labelled
//! with the experiment and journalled before it is created, so that `gc` finds it after a
//! crash.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use kiln_core::managed::{ResourceLabels, container_name, network_name};
use kiln_core::{
    ContainerId, ContainerSpec, Error, ExitStatus, NetworkId, NetworkSpec, Result, rfc3339,
};
use tokio::task::JoinHandle;

use super::allocate::{create_on_pool, pool_lock_path};
use super::folder::{ExperimentDir, experiments_root};
use super::journal::{Entry, Journal};
use super::labels::Owner;
use super::logs::{LogFiles, follow};
use super::metrics::{ContainerMetrics, LogFile, Metrics};
use super::runtime::Runtime;
use super::subnet::SubnetPool;
use crate::bake::SubnetChoice;

/// How long a container is given to stop before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// How an experiment is set up.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ExperimentOptions {
    /// Leave containers and networks in place at the end (labelled `dev.kiln.keep`).
    pub keep: bool,
    /// The pool of test subnets.
    pub pool: SubnetPool,
}

/// A test's network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestNetwork {
    /// Its id.
    pub id: NetworkId,
    /// Its name (`kiln-<experiment>-<test>`).
    pub name: String,
    /// Its subnet, when kiln chose it.
    pub subnet: Option<String>,
}

/// A container the experiment started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// Its id.
    pub id: ContainerId,
    /// Its name (`kiln-<experiment>-<test>-<service>`).
    pub name: String,
    /// Its test.
    pub test: String,
    /// Its service.
    pub service: String,
    /// Its log files.
    pub logs: LogFiles,
}

/// How a container ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    /// Its exit, when it exited.
    pub exit: Option<ExitStatus>,
    /// Whether the timeout stopped it.
    pub timed_out: bool,
}

struct Tracked {
    started: Started,
    logger: Option<JoinHandle<()>>,
    since: SystemTime,
}

/// An experiment in progress: its folder (held by its owner lock), journal and metrics, and
/// the resources it created. Its methods take `&self`, so that several tests of one
/// experiment run at once; its records are kept behind a lock never held across an await.
pub struct Experiment {
    runtime: Runtime,
    dir: ExperimentDir,
    owner: Owner,
    options: ExperimentOptions,
    cache_dir: PathBuf,
    state: Mutex<State>,
}

/// What the experiment records as it goes.
struct State {
    journal: Journal,
    metrics: Metrics,
    containers: Vec<Tracked>,
    networks: Vec<TestNetwork>,
}

impl std::fmt::Debug for Experiment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Experiment")
            .field("id", &self.dir.id())
            .field("containers", &self.state().containers.len())
            .field("networks", &self.state().networks.len())
            .finish_non_exhaustive()
    }
}

impl Experiment {
    /// Starts an experiment named `name`: its folder under `<cache_dir>/experiments`, its
    /// owner lock, journal and metrics.
    pub fn begin(
        runtime: Runtime,
        cache_dir: &Path,
        name: &str,
        options: ExperimentOptions,
    ) -> Result<Experiment> {
        let owner = Owner::this_process();
        let dir = ExperimentDir::create(
            &experiments_root(cache_dir),
            name,
            &owner,
            SystemTime::now(),
        )?;
        let journal = Journal::open(dir.path())?;
        let mut metrics = Metrics::new(dir.id());
        metrics.phase = "running".to_owned();
        metrics.save(dir.path())?;
        Ok(Experiment {
            runtime,
            dir,
            owner,
            options,
            cache_dir: cache_dir.to_owned(),
            state: Mutex::new(State {
                journal,
                metrics,
                containers: Vec::new(),
                networks: Vec::new(),
            }),
        })
    }

    /// The experiment's id.
    pub fn id(&self) -> &str {
        self.dir.id()
    }

    /// The container runtime it runs on.
    pub fn containers(&self) -> &dyn kiln_core::ContainerRuntime {
        self.runtime.containers.as_ref()
    }

    /// The experiment's folder.
    pub fn folder(&self) -> &Path {
        self.dir.path()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Changes the metrics with `change` and rewrites `metrics.json`.
    pub fn update_metrics(&self, change: impl FnOnce(&mut Metrics)) -> Result<()> {
        let mut state = self.state();
        change(&mut state.metrics);
        state.metrics.save(self.dir.path())
    }

    /// A copy of the metrics recorded so far.
    pub fn metrics(&self) -> Metrics {
        self.state().metrics.clone()
    }

    fn journal(&self, entry: &Entry) -> Result<()> {
        self.state().journal.append(entry)
    }

    fn labels(
        &self,
        test: &str,
        service: Option<&str>,
    ) -> std::collections::BTreeMap<String, String> {
        let mut labels =
            ResourceLabels::new(self.id(), self.owner.label(), rfc3339(SystemTime::now()))
                .test(test);
        if let Some(service) = service {
            labels = labels.service(service);
        }
        let mut map = labels.to_map();
        if self.options.keep {
            map.insert(kiln_core::managed::KEEP.to_owned(), "true".to_owned());
        }
        map
    }

    /// Makes the network of test `test`, its subnet as `choice` says.
    pub async fn create_network(&self, test: &str, choice: &SubnetChoice) -> Result<TestNetwork> {
        let name = network_name(self.id(), test)?;
        let spec = NetworkSpec::new(&name).labels(self.labels(test, None));
        self.journal(&Entry::Intent {
            kind: "network".to_owned(),
            name: name.clone(),
        })?;
        let (id, subnet) = match choice {
            SubnetChoice::Daemon => (self.runtime.networks.create_network(spec).await?, None),
            SubnetChoice::Fixed(cidr) => {
                let spec = spec
                    .subnet(cidr.clone())
                    .label(kiln_core::managed::SUBNET, cidr.clone());
                match self.runtime.networks.create_network(spec).await {
                    Ok(id) => (id, Some(cidr.clone())),
                    Err(Error::PoolOverlap { .. }) => return Err(self.clash(cidr).await),
                    Err(error) => return Err(error),
                }
            }
            SubnetChoice::Pool => {
                let root = experiments_root(&self.cache_dir);
                let alive = move |experiment: &str| {
                    super::catalog::find(&root, experiment)
                        .map(|entry| entry.standing == super::catalog::Standing::Running)
                };
                let (id, block) = create_on_pool(
                    self.runtime.networks.as_ref(),
                    &self.options.pool,
                    &pool_lock_path(&self.cache_dir),
                    spec,
                    &format!("{}/{test}", self.id()),
                    &alive,
                )
                .await?;
                (id, Some(block.to_string()))
            }
        };
        self.journal(&Entry::Created {
            kind: "network".to_owned(),
            name: name.clone(),
            id: id.as_str().to_owned(),
        })?;
        let network = TestNetwork { id, name, subnet };
        self.state().networks.push(network.clone());
        let test_folder = self.test_folder(test);
        if let Ok(Some(details)) = self
            .runtime
            .networks
            .inspect_network(network.id.as_str())
            .await
        {
            let _ = std::fs::create_dir_all(&test_folder);
            let json = serde_json::json!({
                "id": details.id.as_str(), "name": details.name, "driver": details.driver,
                "subnets": details.subnets, "gateways": details.gateways,
                "internal": details.internal, "labels": details.labels,
            });
            let _ = kiln_cache::dir::write_json(
                &test_folder.join("network.json"),
                &json,
                kiln_cache::dir::Durability::Flushed,
            );
        }
        self.update_metrics(|metrics| {
            let entry = metrics.test_mut(test);
            entry.network = Some(network.name.clone());
            entry.subnet = network.subnet.clone();
        })?;
        Ok(network)
    }

    /// The error of a fixed subnet the daemon refused as overlapping: who holds it.
    async fn clash(&self, cidr: &str) -> Error {
        let holders = match cidr.parse::<ipnet::Ipv4Net>() {
            Ok(subnet) => super::allocate::holders_of(self.runtime.networks.as_ref(), &subnet)
                .await
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        let root = experiments_root(&self.cache_dir);
        let alive = move |experiment: &str| {
            super::catalog::find(&root, experiment)
                .map(|entry| entry.standing == super::catalog::Standing::Running)
        };
        let held: Vec<String> = holders
            .iter()
            .map(|network| super::allocate::describe_holder(network, &alive))
            .collect();
        Error::PoolOverlap {
            subnet: cidr.to_owned(),
            message: if held.is_empty() {
                "the daemon says it overlaps a network in use".to_owned()
            } else {
                format!("held by {}", held.join("; "))
            },
        }
    }

    /// Creates and starts the container of `service` in `test` from `spec` (its name and
    /// labels are set here), and streams its output to its folder.
    pub async fn start(&self, test: &str, service: &str, spec: ContainerSpec) -> Result<Started> {
        let name = container_name(self.id(), test, service)?;
        let mut spec = spec;
        spec.name = name.clone();
        spec.labels.extend(self.labels(test, Some(service)));
        let tty = spec.tty;
        let image = spec.image.clone();
        self.journal(&Entry::Intent {
            kind: "container".to_owned(),
            name: name.clone(),
        })?;
        let id = self.runtime.containers.create(spec).await?;
        self.journal(&Entry::Created {
            kind: "container".to_owned(),
            name: name.clone(),
            id: id.as_str().to_owned(),
        })?;
        let logs = LogFiles {
            folder: self.container_folder(test, service),
            tty,
        };
        let started = Started {
            id: id.clone(),
            name,
            test: test.to_owned(),
            service: service.to_owned(),
            logs: logs.clone(),
        };
        self.state().containers.push(Tracked {
            started: started.clone(),
            logger: None,
            since: SystemTime::now(),
        });
        self.runtime.containers.start(&id).await?;
        let logger = follow(
            std::sync::Arc::clone(&self.runtime.containers),
            id.clone(),
            logs,
        );
        if let Some(tracked) = self
            .state()
            .containers
            .iter_mut()
            .find(|tracked| tracked.started.id == id)
        {
            tracked.logger = Some(logger);
            tracked.since = SystemTime::now();
        }
        let image_id = self
            .runtime
            .containers
            .inspect(&id)
            .await
            .ok()
            .flatten()
            .map(|details| details.image_id.to_string());
        let record = ContainerMetrics {
            service: service.to_owned(),
            name: started.name.clone(),
            image_id: image_id.or(Some(image)),
            started: Some(rfc3339(SystemTime::now())),
            ..ContainerMetrics::default()
        };
        self.update_metrics(|metrics| metrics.test_mut(test).containers.push(record))?;
        Ok(started)
    }

    /// Waits for `started` to exit, stopping it once `timeout` has passed; records its end
    /// (`inspect.json`, `exit.json`, the metrics).
    pub async fn wait(&self, started: &Started, timeout: Duration) -> Result<Ended> {
        let containers = std::sync::Arc::clone(&self.runtime.containers);
        let ended = match tokio::time::timeout(timeout, containers.wait(&started.id)).await {
            Ok(exit) => Ended {
                exit: Some(exit?),
                timed_out: false,
            },
            Err(_) => {
                containers.stop(&started.id, STOP_GRACE).await?;
                let exit = containers.wait(&started.id).await.ok();
                Ended {
                    exit,
                    timed_out: true,
                }
            }
        };
        self.record_end(started, ended).await?;
        Ok(ended)
    }

    /// Stops `started` (grace, then kill) and records its end.
    pub async fn stop(&self, started: &Started) -> Result<Ended> {
        self.runtime
            .containers
            .stop(&started.id, STOP_GRACE)
            .await?;
        let exit = self.runtime.containers.wait(&started.id).await.ok();
        let ended = Ended {
            exit,
            timed_out: false,
        };
        self.record_end(started, ended).await?;
        Ok(ended)
    }

    async fn record_end(&self, started: &Started, ended: Ended) -> Result<()> {
        // The output ends with the container: let the copy finish.
        let logger = self
            .state()
            .containers
            .iter_mut()
            .find(|tracked| tracked.started.id == started.id)
            .and_then(|tracked| tracked.logger.take());
        if let Some(logger) = logger {
            let _ = tokio::time::timeout(Duration::from_secs(10), logger).await;
        }
        let folder = started.logs.folder.clone();
        let details = self.runtime.containers.inspect(&started.id).await?;
        if let Some(details) = &details {
            let _ = kiln_cache::dir::write_json(
                &folder.join("inspect.json"),
                &details.raw,
                kiln_cache::dir::Durability::Flushed,
            );
        }
        let oom = ended.exit.is_some_and(|exit| exit.oom_killed)
            || details.as_ref().is_some_and(|details| details.oom_killed);
        let code = ended.exit.map(|exit| exit.code);
        let _ = kiln_cache::dir::write_json(
            &folder.join("exit.json"),
            &serde_json::json!({ "exit_code": code, "oom_killed": oom, "timed_out": ended.timed_out }),
            kiln_cache::dir::Durability::Flushed,
        );
        let since = self
            .state()
            .containers
            .iter()
            .find(|tracked| tracked.started.id == started.id)
            .map(|tracked| tracked.since);
        let relative = |path: &Path| {
            path.strip_prefix(self.dir.path())
                .unwrap_or(path)
                .display()
                .to_string()
        };
        let logs: Vec<LogFile> = started
            .logs
            .paths()
            .iter()
            .map(|path| LogFile {
                path: relative(path),
                bytes: std::fs::metadata(path).map_or(0, |meta| meta.len()),
            })
            .collect();
        self.update_metrics(|metrics| {
            let test = metrics.test_mut(&started.test);
            if let Some(record) = test
                .containers
                .iter_mut()
                .find(|record| record.service == started.service)
            {
                record.exit_code = code;
                record.oom_killed = oom;
                record.timed_out = ended.timed_out;
                record.ended = Some(rfc3339(SystemTime::now()));
                record.duration_ms = since
                    .and_then(|since| since.elapsed().ok())
                    .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
                record.logs = logs;
            }
        })
    }

    /// Ends the experiment with `status` (`passed`, `failed`): removes its containers, then its
    /// networks (unless it is kept), and records what went.
    pub async fn finish(mut self, status: &str) -> Result<super::metrics::CleanupMetrics> {
        self.update_metrics(|metrics| "cleaning".clone_into(&mut metrics.phase))?;
        let mut cleanup = super::metrics::CleanupMetrics::default();
        if !self.options.keep {
            let (containers, networks) = {
                let mut state = self.state();
                (
                    std::mem::take(&mut state.containers),
                    std::mem::take(&mut state.networks),
                )
            };
            let mut first_error = None;
            for tracked in containers {
                let id = &tracked.started.id;
                match self.runtime.containers.remove(id, true).await {
                    Ok(kiln_core::Removal::Removed) => cleanup.containers += 1,
                    Ok(_) => {}
                    Err(error) => {
                        first_error.get_or_insert(error);
                        continue;
                    }
                }
                if let Some(logger) = tracked.logger {
                    logger.abort();
                }
                self.journal(&Entry::Removed {
                    kind: "container".to_owned(),
                    name: tracked.started.name.clone(),
                })?;
            }
            for network in networks {
                match self.runtime.networks.remove_network(&network.id).await {
                    Ok(kiln_core::NetworkRemoval::Removed) => cleanup.networks += 1,
                    Ok(kiln_core::NetworkRemoval::NotFound) => {}
                    Ok(kiln_core::NetworkRemoval::InUse) => {
                        first_error.get_or_insert(Error::InUse {
                            what: "network",
                            name: network.name.clone(),
                        });
                        continue;
                    }
                    Err(error) => {
                        first_error.get_or_insert(error);
                        continue;
                    }
                }
                self.journal(&Entry::Removed {
                    kind: "network".to_owned(),
                    name: network.name.clone(),
                })?;
            }
            if let Some(error) = first_error {
                self.update_metrics(|metrics| metrics.cleanup = cleanup)?;
                return Err(error);
            }
        }
        self.update_metrics(|metrics| {
            metrics.cleanup = cleanup.clone();
            "done".clone_into(&mut metrics.phase);
        })?;
        self.dir.set_status(status)?;
        Ok(cleanup)
    }

    fn test_folder(&self, test: &str) -> PathBuf {
        self.dir.path().join("tests").join(test)
    }

    fn container_folder(&self, test: &str, service: &str) -> PathBuf {
        self.test_folder(test).join("containers").join(service)
    }
}
