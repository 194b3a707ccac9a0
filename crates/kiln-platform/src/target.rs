//! Which platform a build targets, where that choice came from, and what to warn about first.
//!
//! The rule (as the README states it): an explicit setting first, then the configuration, then the host's own
//! platform. Nothing else is consulted — in particular not whether buildx exists. This fixes
//! PANTHER, which built `linux/amd64` images on arm64 hosts whenever buildx was installed.

use std::fmt;

use kiln_core::Platform;

use crate::emulation::{BinfmtState, qemu_arch};
use crate::host::{Host, Runnable};

/// Where a build's target platform came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetSource {
    /// Given for this build (`--platform`, `BuildSpec::platform`).
    Explicit,
    /// From kiln's configuration (`target_platform`).
    Configured,
    /// Neither was given: the host's own platform.
    Host,
}

impl fmt::Display for TargetSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TargetSource::Explicit => "given explicitly",
            TargetSource::Configured => "from the configuration",
            TargetSource::Host => "the host's platform",
        })
    }
}

/// A build's target platform and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// The platform to build for.
    pub platform: Platform,
    /// Where it came from.
    pub source: TargetSource,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.platform, self.source)
    }
}

/// The target platform: `explicit` if given, else `configured`, else `host`.
///
/// Never a silent switch to another platform: an arm64 host without explicit or configured
/// target builds arm64 images, whatever builders are installed (PANTHER built amd64 there when
/// buildx existed).
pub fn resolve_target(
    explicit: Option<&Platform>,
    configured: Option<&Platform>,
    host: &Platform,
) -> Target {
    let (platform, source) = match (explicit, configured) {
        (Some(platform), _) => (platform, TargetSource::Explicit),
        (None, Some(platform)) => (platform, TargetSource::Configured),
        (None, None) => (host, TargetSource::Host),
    };
    Target {
        platform: platform.clone(),
        source,
    }
}

/// What kiln prints before building for `target` on `host`, if anything.
///
/// - native: nothing;
/// - emulated: a note that `RUN` steps run under the emulator and are slower, and, when the
///   emulator lacks the `F` flag, that it may not work inside containers;
/// - not runnable: a warning that says why and that `RUN` steps will fail with
///   "exec format error" (a Dockerfile without `RUN` steps still builds).
pub fn warning_before_build(host: &Host, target: &Platform) -> Option<String> {
    let prefix = format!("building {target} on {}", host.platform);
    match host.can_run(target) {
        Runnable::Native => None,
        Runnable::Emulated { emulator } => {
            let mut note = format!(
                "{prefix}: RUN steps run under emulation ({emulator}) and are much slower than \
                 native"
            );
            let fix_binary = host
                .emulators
                .iter()
                .find(|candidate| candidate.name == emulator)
                .is_some_and(|candidate| candidate.fix_binary);
            if !fix_binary {
                note.push_str(&format!(
                    "; {emulator} is registered without the F (fix-binary) flag, so it may not \
                     work inside containers: re-register it with the flag{}",
                    reregister_hint(target)
                ));
            }
            Some(note)
        }
        Runnable::No { reason } if is_unknown(host) && target.os() == "linux" => Some(format!(
            "{prefix}: {reason}; without an emulator, RUN steps will fail with 'exec format \
                 error'"
        )),
        Runnable::No { reason } => Some(format!(
            "{prefix}: {reason}; RUN steps will fail with 'exec format error'"
        )),
    }
}

fn is_unknown(host: &Host) -> bool {
    matches!(host.binfmt, BinfmtState::Unknown { .. })
}

fn reregister_hint(target: &Platform) -> String {
    match qemu_arch(target) {
        Some(_) => format!(
            " (`docker run --privileged --rm tonistiigi/binfmt --install {}`)",
            target.architecture()
        ),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::FakeProbe;
    use crate::testdata::{self, DEBIAN_ENTRIES, binfmt_host};

    fn platform(text: &str) -> Platform {
        Platform::parse(text).unwrap()
    }

    #[test]
    fn explicit_then_configured_then_host() {
        let amd = Platform::linux_amd64();
        let arm = Platform::linux_arm64();
        let s390 = platform("linux/s390x");
        let check = |explicit: Option<&Platform>,
                     configured: Option<&Platform>,
                     host: &Platform,
                     expected: (&Platform, TargetSource)| {
            let target = resolve_target(explicit, configured, host);
            assert_eq!((&target.platform, target.source), expected);
        };
        check(
            Some(&s390),
            Some(&amd),
            &arm,
            (&s390, TargetSource::Explicit),
        );
        check(Some(&arm), None, &amd, (&arm, TargetSource::Explicit));
        check(None, Some(&amd), &arm, (&amd, TargetSource::Configured));
        check(None, None, &arm, (&arm, TargetSource::Host));
        check(None, None, &amd, (&amd, TargetSource::Host));
        // The same platform still records where it came from.
        check(Some(&arm), None, &arm, (&arm, TargetSource::Explicit));
    }

    #[test]
    fn an_arm64_host_builds_arm64_by_default() {
        // PANTHER switched to amd64 here when buildx existed; kiln has no such input at all.
        let host = Host::detect(&FakeProbe::new("aarch64")).unwrap();
        let target = resolve_target(None, None, &host.platform);
        assert_eq!(target.to_string(), "linux/arm64 (the host's platform)");
        assert_eq!(warning_before_build(&host, &target.platform), None);
    }

    fn hosts() -> Vec<(&'static str, Host)> {
        let detect = |probe: FakeProbe| Host::detect(&probe).unwrap();
        let no_f = testdata::QEMU_AARCH64.replace("flags: PF", "flags: P");
        vec![
            (
                "amd64, Debian qemu",
                detect(binfmt_host("x86_64", "enabled", DEBIAN_ENTRIES)),
            ),
            (
                "amd64, qemu-aarch64 without F",
                detect(binfmt_host("x86_64", "enabled", &[("qemu-aarch64", &no_f)])),
            ),
            (
                "amd64, binfmt_misc disabled",
                detect(binfmt_host("x86_64", "disabled", DEBIAN_ENTRIES)),
            ),
            (
                "amd64, binfmt_misc not mounted",
                detect(FakeProbe::new("x86_64")),
            ),
            (
                "arm64, nothing registered",
                detect(binfmt_host("aarch64", "enabled", &[])),
            ),
            (
                "macOS arm64",
                detect(FakeProbe::new("arm64").with_os("macos")),
            ),
        ]
    }

    #[test]
    fn warnings_before_a_build() {
        let targets = [
            "linux/amd64",
            "linux/386",
            "linux/arm64",
            "linux/arm/v7",
            "linux/ppc64le",
        ];
        let mut report = String::new();
        for (name, host) in hosts() {
            report.push_str(&format!("## {name}\n"));
            for target in targets {
                let warning = warning_before_build(&host, &platform(target));
                let line = warning.as_deref().unwrap_or("(nothing)");
                report.push_str(&format!("{target}: {line}\n"));
            }
            report.push('\n');
        }
        insta::assert_snapshot!(report);
    }

    #[test]
    fn warning_texts() {
        let amd = Host::detect(&binfmt_host("x86_64", "enabled", &[])).unwrap();
        assert_eq!(
            warning_before_build(&amd, &Platform::linux_arm64()).unwrap(),
            "building linux/arm64 on linux/amd64: no emulator for linux/arm64 is registered in \
             binfmt_misc: install qemu-user-static and binfmt-support, or run `update-binfmts \
             --enable qemu-aarch64` (with Docker alone: `docker run --privileged --rm \
             tonistiigi/binfmt --install arm64`); RUN steps will fail with 'exec format error'"
        );
        let emulated = Host::detect(&binfmt_host(
            "x86_64",
            "enabled",
            &[("qemu-aarch64", testdata::QEMU_AARCH64)],
        ))
        .unwrap();
        assert_eq!(
            warning_before_build(&emulated, &Platform::linux_arm64()).unwrap(),
            "building linux/arm64 on linux/amd64: RUN steps run under emulation (qemu-aarch64) \
             and are much slower than native"
        );
        assert_eq!(
            warning_before_build(&emulated, &Platform::linux_amd64()),
            None
        );
    }
}
