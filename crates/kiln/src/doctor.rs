//! `Kiln::doctor`: what kiln can see — the host (through the instance's probe), the daemon
//! (through its engine) and where it came from, the caches — as one serialisable value.

use kiln_core::{Env, Error, ErrorKind, ImageEngine};
use kiln_docker::resolve_endpoint;
use kiln_platform::{Host, HostProbe};
use serde::Serialize;

use crate::kiln::Kiln;

/// What `kiln doctor` reports. The field names are part of `kiln doctor --json`'s contract.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Diagnosis {
    /// kiln's version.
    pub kiln_version: String,
    /// The host's platform (`linux/amd64`), when it could be told.
    pub host_platform: Option<String>,
    /// The Docker CLI's `buildx` plugin version, when installed (kiln does not need it).
    pub buildx: Option<String>,
    /// binfmt_misc's state, in a sentence, when the host could be told.
    pub binfmt: Option<String>,
    /// The emulators registered in binfmt_misc.
    pub emulators: Vec<EmulatorDiagnosis>,
    /// The daemon: reached or not, and from where.
    pub daemon: DaemonDiagnosis,
    /// The caches, when a kiln instance could be made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheDiagnosis>,
}

/// One binfmt_misc emulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmulatorDiagnosis {
    /// The handler's name (`qemu-aarch64`).
    pub name: String,
    /// The platform it runs (`linux/arm64`).
    pub platform: String,
    /// Whether the kernel uses it.
    pub enabled: bool,
    /// Whether it works inside containers (the `F` flag).
    pub fix_binary: bool,
}

/// The daemon as kiln reaches it.
///
/// Reached: `endpoint`, `source` and the engine's `version`, `api_version`, `os`,
/// `architecture` and `buildkit`. Not reached: `endpoint` and `source` (null when the
/// endpoint itself could not be resolved) and the `error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DaemonDiagnosis {
    /// Whether the engine answered.
    pub reachable: bool,
    /// Where the daemon is (`unix:///var/run/docker.sock`).
    pub endpoint: Option<String>,
    /// Where that endpoint came from (`DOCKER_HOST`, a Docker context, the default socket).
    pub source: Option<String>,
    /// The engine's version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The API version in use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// The engine's operating system.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// The engine's architecture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// Whether the engine builds with BuildKit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buildkit: Option<bool>,
    /// Why the daemon could not be reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The class of that error: a bad configuration, `DOCKER_HOST` or Docker context is
    /// [`ErrorKind::InvalidInput`], not an unreachable daemon (the CLI's exit code follows it).
    #[serde(skip)]
    pub error_kind: Option<ErrorKind>,
}

/// The caches, as `kiln cache stats` counts them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheDiagnosis {
    /// The cache directory, if one could be determined.
    pub dir: Option<String>,
    /// `normal`, or `cache-only` when the daemon is unreachable (answers come from the cache).
    pub mode: String,
    /// Existence answers held in memory.
    pub l1_answers: Option<usize>,
    /// Those still within their TTL.
    pub l1_fresh: Option<usize>,
    /// Build records on disk.
    pub l2_records: Option<usize>,
}

impl Diagnosis {
    /// What can be told without a kiln instance — the host through `probe` and the daemon's
    /// endpoint from `env` — when making one failed with `error` (a bad configuration, say).
    pub fn without_kiln(env: &dyn Env, probe: &dyn HostProbe, error: &Error) -> Diagnosis {
        Diagnosis::of_host(probe, unreachable(env, error))
    }

    /// The host's part of a diagnosis, with `daemon`.
    fn of_host(probe: &dyn HostProbe, daemon: DaemonDiagnosis) -> Diagnosis {
        let host = Host::detect(probe).ok();
        Diagnosis {
            kiln_version: crate::VERSION.to_owned(),
            host_platform: host.as_ref().map(|host| host.platform.to_string()),
            buildx: probe.buildx_version(),
            binfmt: host.as_ref().map(|host| host.binfmt.to_string()),
            emulators: host
                .iter()
                .flat_map(|host| &host.emulators)
                .map(|emulator| EmulatorDiagnosis {
                    name: emulator.name.clone(),
                    platform: emulator.platform.to_string(),
                    enabled: emulator.enabled,
                    fix_binary: emulator.fix_binary,
                })
                .collect(),
            daemon,
            cache: None,
        }
    }
}

/// The daemon's part when it was not reached because of `error`.
fn unreachable(env: &dyn Env, error: &Error) -> DaemonDiagnosis {
    let endpoint = resolve_endpoint(env);
    DaemonDiagnosis {
        reachable: false,
        endpoint: endpoint.as_ref().ok().map(|endpoint| endpoint.host.clone()),
        source: endpoint
            .as_ref()
            .ok()
            .map(|endpoint| endpoint.source.to_string()),
        version: None,
        api_version: None,
        os: None,
        architecture: None,
        buildkit: None,
        error: Some(error.to_string()),
        error_kind: Some(error.kind()),
    }
}

impl Kiln {
    /// What kiln can see: the host through this instance's probe, the daemon through its
    /// engine (and where the environment says it is), and the caches. Never fails: what
    /// cannot be told is reported as such.
    pub async fn doctor(&self) -> Diagnosis {
        let daemon = match self.engine().info().await {
            Ok(info) => DaemonDiagnosis {
                reachable: true,
                endpoint: Some(info.endpoint),
                source: resolve_endpoint(self.env())
                    .ok()
                    .map(|endpoint| endpoint.source.to_string()),
                version: Some(info.version),
                api_version: Some(info.api_version),
                os: Some(info.os),
                architecture: Some(info.architecture),
                buildkit: Some(info.buildkit),
                error: None,
                error_kind: None,
            },
            Err(error) => unreachable(self.env(), &error),
        };
        let stats = self.cache_stats().await.ok();
        let mode = if daemon.reachable {
            "normal"
        } else {
            "cache-only"
        };
        let mut diagnosis = Diagnosis::of_host(self.host_probe(), daemon);
        diagnosis.cache = Some(CacheDiagnosis {
            dir: self
                .records()
                .map(|records| records.root().display().to_string()),
            mode: mode.to_owned(),
            l1_answers: stats.as_ref().map(|stats| stats.l1.entries),
            l1_fresh: stats.as_ref().map(|stats| stats.l1.fresh),
            l2_records: stats.as_ref().map(|stats| stats.l2.entries),
        });
        diagnosis
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kiln_core::MapEnv;
    use kiln_core::testing::FakeEngine;
    use kiln_platform::FakeProbe;

    use super::*;
    use crate::Config;

    /// qemu-x86_64 as qemu's `qemu-binfmt-conf.sh` registers it.
    const QEMU_X86_64: &str = "enabled\ninterpreter /usr/bin/qemu-x86_64-static\nflags: F\n\
        offset 0\nmagic 7f454c4602010100000000000000000002003e00\n\
        mask fffffffffffefe00fffffffffffffffffeffffff\n";

    /// An arm64 host with qemu for amd64 registered and enabled, and buildx installed.
    fn probe() -> FakeProbe {
        FakeProbe::new("aarch64")
            .with_file("/proc/sys/fs/binfmt_misc/status", "enabled\n")
            .with_file("/proc/sys/fs/binfmt_misc/register", "")
            .with_file("/proc/sys/fs/binfmt_misc/qemu-x86_64", QEMU_X86_64)
            .with_buildx("github.com/docker/buildx v0.10.4")
    }

    /// The diagnosis with what differs between machines and runs replaced.
    fn stable(mut diagnosis: Diagnosis) -> Diagnosis {
        diagnosis.kiln_version = "[version]".to_owned();
        if let Some(cache) = &mut diagnosis.cache {
            cache.dir = Some("[cache dir]".to_owned());
        }
        diagnosis
    }

    fn kiln(engine: FakeEngine, cache: &std::path::Path) -> Kiln {
        Kiln::builder()
            .engine(engine)
            .env(MapEnv::new().with("DOCKER_HOST", "unix:///run/test-docker.sock"))
            .config(Config::default())
            .cache_dir(cache)
            .host_probe(Arc::new(probe()))
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn a_reachable_daemon_on_an_emulating_host() {
        let cache = tempfile::tempdir().unwrap();
        let diagnosis = kiln(FakeEngine::new(), cache.path()).doctor().await;
        assert!(diagnosis.daemon.reachable);
        assert_eq!(diagnosis.host_platform.as_deref(), Some("linux/arm64"));
        assert_eq!(diagnosis.emulators.len(), 1, "{diagnosis:?}");
        assert_eq!(diagnosis.emulators[0].platform, "linux/amd64");
        insta::assert_json_snapshot!(stable(diagnosis));
    }

    #[tokio::test]
    async fn an_unreachable_daemon_is_cache_only() {
        let cache = tempfile::tempdir().unwrap();
        let engine = FakeEngine::new();
        engine.set_unreachable(true);
        let diagnosis = kiln(engine, cache.path()).doctor().await;
        assert!(!diagnosis.daemon.reachable);
        assert!(diagnosis.daemon.error.is_some());
        assert_eq!(
            diagnosis.cache.as_ref().map(|cache| cache.mode.as_str()),
            Some("cache-only")
        );
        insta::assert_json_snapshot!(stable(diagnosis));
    }

    #[test]
    fn without_a_kiln_the_host_is_still_told() {
        let env = MapEnv::new().with("DOCKER_HOST", "unix:///run/test-docker.sock");
        let error = Error::invalid_input("configuration file", "/k.toml", "valid kiln settings");
        let diagnosis = Diagnosis::without_kiln(&env, &FakeProbe::new("x86_64"), &error);
        assert!(diagnosis.cache.is_none());
        assert_eq!(diagnosis.host_platform.as_deref(), Some("linux/amd64"));
        assert_eq!(diagnosis.daemon.error_kind, Some(ErrorKind::InvalidInput));
        insta::assert_json_snapshot!(stable(diagnosis));
    }
}
