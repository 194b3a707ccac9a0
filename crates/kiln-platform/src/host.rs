//! The host kiln runs on: its platform, its emulators, and which target platforms it can run.
//!
//! "Host" means the machine kiln runs on. With a remote Docker daemon (`DOCKER_HOST` on another
//! machine) the daemon's platform may differ; callers that know the daemon's platform should
//! compare against that.

use kiln_core::{Error, Platform};

use crate::emulation::{
    BINFMT_MISC_DIR, BinfmtState, Emulator, MOUNT_COMMAND, qemu_arch, scan_binfmt,
};
use crate::probe::HostProbe;

/// The host: its platform and what binfmt_misc offers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// The host's own platform (`linux/amd64`).
    pub platform: Platform,
    /// The emulators registered in binfmt_misc, enabled or not, sorted by name.
    pub emulators: Vec<Emulator>,
    /// Whether binfmt_misc runs anything.
    pub binfmt: BinfmtState,
}

/// Whether (and how) the host runs binaries of a target platform, as `RUN` steps need.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Runnable {
    /// The CPU runs them itself.
    Native,
    /// A registered, enabled binfmt_misc handler runs them (slower).
    Emulated {
        /// The handler's name (`qemu-aarch64`).
        emulator: String,
    },
    /// Nothing runs them, or kiln cannot tell whether anything does.
    No {
        /// Why, and what to do about it.
        reason: String,
    },
}

impl Runnable {
    /// Whether `RUN` steps of the target can run at all.
    pub fn is_runnable(&self) -> bool {
        !matches!(self, Runnable::No { .. })
    }
}

impl Host {
    /// Detects the host through `probe`: its platform, and its binfmt_misc emulators.
    ///
    /// An architecture kiln has no Docker name for is an error naming it; kiln never assumes a
    /// default. binfmt_misc problems are not errors: they show in [`Host::binfmt`].
    pub fn detect(probe: &dyn HostProbe) -> Result<Host, Error> {
        let platform = detect_platform(probe)?;
        let scan = scan_binfmt(probe);
        Ok(Host {
            platform,
            emulators: scan.emulators,
            binfmt: scan.state,
        })
    }

    /// Whether the CPU runs `target`'s binaries itself.
    ///
    /// Deliberately simple: the same architecture (variants are not compared, so an arm/v6
    /// host counts as running arm/v7), and `386` on an `amd64` host. An `arm64` host is not
    /// counted as running `arm` natively: many arm64 CPUs lack 32-bit support.
    pub fn runs_natively(&self, target: &Platform) -> bool {
        let host = self.platform.architecture();
        let target = target.architecture();
        host == target || (host == "amd64" && target == "386")
    }

    /// The enabled emulator for `target`'s architecture, preferring one with the `F` flag.
    pub fn emulator_for(&self, target: &Platform) -> Option<&Emulator> {
        let mut candidates = self.emulators.iter().filter(|emulator| {
            emulator.enabled && emulator.platform.architecture() == target.architecture()
        });
        let first = candidates.next()?;
        if first.fix_binary {
            return Some(first);
        }
        Some(
            candidates
                .find(|emulator| emulator.fix_binary)
                .unwrap_or(first),
        )
    }

    /// Whether the host runs `target`'s binaries: natively, through an emulator, or not, with a
    /// reason that says what to do.
    ///
    /// A target OS other than Linux runs only on a host of that OS (Linux targets run on macOS
    /// and Windows hosts too, in Docker's VM).
    pub fn can_run(&self, target: &Platform) -> Runnable {
        if target.os() != "linux" && target.os() != self.platform.os() {
            return Runnable::No {
                reason: format!(
                    "{target} images run only on {} hosts, and this host is {}",
                    target.os(),
                    self.platform
                ),
            };
        }
        if self.runs_natively(target) {
            return Runnable::Native;
        }
        if let Some(emulator) = self.emulator_for(target) {
            return Runnable::Emulated {
                emulator: emulator.name.clone(),
            };
        }
        Runnable::No {
            reason: self.why_not(target),
        }
    }

    fn why_not(&self, target: &Platform) -> String {
        let register = register_hint(target);
        match &self.binfmt {
            BinfmtState::NotMounted => format!(
                "binfmt_misc is not mounted, so no emulator can run {target} binaries: mount it \
                 with `{MOUNT_COMMAND}`, then {register}"
            ),
            BinfmtState::Disabled => format!(
                "binfmt_misc is disabled, so no emulator runs {target} binaries: enable it with \
                 `echo 1 > {BINFMT_MISC_DIR}/status`"
            ),
            BinfmtState::Unknown { reason } => {
                format!("cannot tell whether an emulator for {target} is registered: {reason}")
            }
            BinfmtState::Available => {
                let disabled = self.emulators.iter().find(|emulator| {
                    !emulator.enabled && emulator.platform.architecture() == target.architecture()
                });
                match disabled {
                    Some(emulator) => format!(
                        "{name} (for {target}) is registered in binfmt_misc but disabled: run \
                         `update-binfmts --enable {name}` or `echo 1 > {BINFMT_MISC_DIR}/{name}`",
                        name = emulator.name
                    ),
                    None => {
                        format!("no emulator for {target} is registered in binfmt_misc: {register}")
                    }
                }
            }
        }
    }
}

/// What to do to register an emulator for `target`.
fn register_hint(target: &Platform) -> String {
    match qemu_arch(target) {
        Some(qemu) => format!(
            "install qemu-user-static and binfmt-support, or run `update-binfmts --enable \
             qemu-{qemu}` (with Docker alone: `docker run --privileged --rm tonistiigi/binfmt \
             --install {arch}`)",
            arch = target.architecture()
        ),
        None => format!("register an emulator for {target} (qemu has none)"),
    }
}

/// The host's platform as `probe` tells it: its OS and the kernel's machine name.
pub fn detect_platform(probe: &dyn HostProbe) -> Result<Platform, Error> {
    platform_for_machine(&probe.os(), &probe.machine())
}

/// The platform of a host whose OS is `os` (Rust's name: `linux`, `macos`) and whose kernel
/// calls its machine `machine` (`uname -m`: `x86_64`, `aarch64`, `armv7l`, `i686`, ...).
///
/// An unknown machine is an error that names it and asks for an explicit target platform.
pub fn platform_for_machine(os: &str, machine: &str) -> Result<Platform, Error> {
    let machine = machine.trim();
    let arch = match machine {
        "i486" | "i586" => "386",
        "armv8l" => "arm/v7",
        "armv5tel" | "armv5tejl" => "arm/v5",
        "aarch64_be" => "arm64be",
        "mips64el" => "mips64le",
        "mipsel" => "mipsle",
        "loongarch64" => "loong64",
        other => other,
    };
    let unknown = || {
        Error::invalid_input(
            "host architecture",
            machine,
            "a machine Docker has a platform for (x86_64, aarch64, armv7l, armv6l, i686, \
             ppc64le, s390x, riscv64, ...); set the target platform explicitly",
        )
    };
    if machine.is_empty() || machine.contains(['/', ' ']) {
        return Err(unknown());
    }
    Platform::parse(arch).map_err(|_| unknown())?;
    let platform = Platform::parse(&format!("{os}/{arch}"))?;
    Ok(platform)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{FakeProbe, SystemProbe};
    use crate::testdata::{self, DEBIAN_ENTRIES, binfmt_host};

    fn platform(text: &str) -> Platform {
        Platform::parse(text).unwrap()
    }

    #[test]
    fn kernel_machine_names() {
        let cases = [
            ("x86_64", "linux/amd64"),
            ("aarch64", "linux/arm64"),
            ("arm64", "linux/arm64"),
            ("armv7l", "linux/arm/v7"),
            ("armv8l", "linux/arm/v7"),
            ("armv6l", "linux/arm/v6"),
            ("armv5tel", "linux/arm/v5"),
            ("i686", "linux/386"),
            ("i586", "linux/386"),
            ("i386", "linux/386"),
            ("ppc64le", "linux/ppc64le"),
            ("ppc64", "linux/ppc64"),
            ("s390x", "linux/s390x"),
            ("riscv64", "linux/riscv64"),
            ("mips64", "linux/mips64"),
            ("mips64el", "linux/mips64le"),
            ("loongarch64", "linux/loong64"),
            (" x86_64\n", "linux/amd64"),
        ];
        for (machine, expected) in cases {
            let found = platform_for_machine("linux", machine)
                .unwrap_or_else(|error| panic!("{machine}: {error}"));
            assert_eq!(found.to_string(), expected, "{machine:?}");
        }
        assert_eq!(
            platform_for_machine("macos", "aarch64")
                .unwrap()
                .to_string(),
            "darwin/arm64"
        );
    }

    #[test]
    fn an_unknown_machine_is_an_error_naming_it() {
        for machine in ["vax", "", "ia64", "arm/v9", "linux/amd64"] {
            let error = platform_for_machine("linux", machine)
                .expect_err(machine)
                .to_string();
            assert!(
                error.contains(&format!("host architecture {machine:?}")),
                "{machine:?}: {error}"
            );
            assert!(
                error.contains("set the target platform explicitly"),
                "{error}"
            );
        }
        let error = Host::detect(&FakeProbe::new("vax"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("\"vax\""), "{error}");
    }

    #[test]
    fn detects_platform_and_emulators() {
        let host = Host::detect(&binfmt_host("x86_64", "enabled", DEBIAN_ENTRIES)).unwrap();
        assert_eq!(host.platform, Platform::linux_amd64());
        assert_eq!(host.binfmt, BinfmtState::Available);
        assert_eq!(host.emulators.len(), 8);
        let bare = Host::detect(&FakeProbe::new("aarch64")).unwrap();
        assert_eq!(bare.platform, Platform::linux_arm64());
        assert_eq!(bare.binfmt, BinfmtState::NotMounted);
        assert!(bare.emulators.is_empty());
    }

    /// Checks `host.can_run(target)` against `expected`: `native`, the emulator's name, or
    /// `no: <fragment of the reason>`.
    fn check(host: &Host, target: &str, expected: &str) {
        let found = host.can_run(&platform(target));
        match (&found, expected.strip_prefix("no: ")) {
            (Runnable::No { reason }, Some(fragment)) => {
                assert!(reason.contains(fragment), "{target}: {reason}");
            }
            (Runnable::Native, None) if expected == "native" => {}
            (Runnable::Emulated { emulator }, None) if emulator == expected => {}
            _ => panic!(
                "{target} on {}: expected {expected}, got {found:?}",
                host.platform
            ),
        }
        assert_eq!(found.is_runnable(), !expected.starts_with("no: "));
    }

    fn host(machine: &str, status: &str, entries: &[(&str, &str)]) -> Host {
        Host::detect(&binfmt_host(machine, status, entries)).unwrap()
    }

    #[test]
    fn amd64_host_with_debian_qemu() {
        let host = host("x86_64", "enabled", DEBIAN_ENTRIES);
        for (target, expected) in [
            ("linux/amd64", "native"),
            ("linux/amd64/v3", "native"),
            ("linux/386", "native"),
            ("linux/arm64", "qemu-aarch64"),
            ("linux/arm/v7", "qemu-arm"),
            ("linux/arm/v6", "qemu-arm"),
            ("linux/s390x", "qemu-s390x"),
            ("linux/riscv64", "qemu-riscv64"),
            ("linux/mips64le", "qemu-mips64el"),
            (
                "linux/ppc64le",
                "no: qemu-ppc64le (for linux/ppc64le) is registered in binfmt_misc but disabled: \
                 run `update-binfmts --enable qemu-ppc64le`",
            ),
            (
                "linux/ppc64",
                "no: no emulator for linux/ppc64 is registered in binfmt_misc: install \
                 qemu-user-static and binfmt-support, or run `update-binfmts --enable qemu-ppc64`",
            ),
            (
                "windows/amd64",
                "no: windows/amd64 images run only on windows hosts",
            ),
            ("linux/wasm", "no: (qemu has none)"),
        ] {
            check(&host, target, expected);
        }
    }

    #[test]
    fn arm64_host() {
        let bare = host("aarch64", "enabled", &[]);
        check(&bare, "linux/arm64", "native");
        check(&bare, "linux/arm64/v8.2", "native");
        check(
            &bare,
            "linux/amd64",
            "no: no emulator for linux/amd64 is registered in binfmt_misc: install \
             qemu-user-static and binfmt-support, or run `update-binfmts --enable qemu-x86_64`",
        );
        check(
            &bare,
            "linux/arm/v7",
            "no: `update-binfmts --enable qemu-arm`",
        );
        check(&bare, "linux/386", "no: --install 386");

        let with_qemu = host(
            "aarch64",
            "enabled",
            &[
                ("qemu-x86_64", testdata::QEMU_X86_64),
                ("qemu-i386", testdata::QEMU_I386),
            ],
        );
        check(&with_qemu, "linux/amd64", "qemu-x86_64");
        check(&with_qemu, "linux/386", "qemu-i386");
        check(
            &with_qemu,
            "linux/arm/v7",
            "no: no emulator for linux/arm/v7",
        );
    }

    #[test]
    fn binfmt_states_explain_themselves() {
        let disabled = host("x86_64", "disabled", DEBIAN_ENTRIES);
        check(&disabled, "linux/amd64", "native");
        check(
            &disabled,
            "linux/arm64",
            "no: binfmt_misc is disabled, so no emulator runs linux/arm64 binaries: enable it \
             with `echo 1 > /proc/sys/fs/binfmt_misc/status`",
        );

        let unmounted = Host::detect(&FakeProbe::new("x86_64")).unwrap();
        check(
            &unmounted,
            "linux/arm64",
            "no: binfmt_misc is not mounted, so no emulator can run linux/arm64 binaries: mount \
             it with `mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc`",
        );

        let mac = Host::detect(&FakeProbe::new("arm64").with_os("macos")).unwrap();
        assert_eq!(mac.platform.to_string(), "darwin/arm64");
        check(&mac, "linux/arm64", "native");
        check(&mac, "linux/amd64", "no: cannot tell whether an emulator");
    }

    #[test]
    fn the_fix_binary_flag_is_preferred() {
        let no_f = testdata::QEMU_AARCH64.replace("flags: PF", "flags: P");
        let both = host(
            "x86_64",
            "enabled",
            &[("aarch64", &no_f), ("qemu-aarch64", testdata::QEMU_AARCH64)],
        );
        check(&both, "linux/arm64", "qemu-aarch64");
        let only_no_f = host("x86_64", "enabled", &[("aarch64", &no_f)]);
        check(&only_no_f, "linux/arm64", "aarch64");
        assert!(
            !only_no_f
                .emulator_for(&Platform::linux_arm64())
                .unwrap()
                .fix_binary
        );
        // A disabled handler is never chosen, even with F.
        let disabled_f = testdata::QEMU_AARCH64.replace("enabled", "disabled");
        let mixed = host(
            "x86_64",
            "enabled",
            &[("aarch64", &no_f), ("qemu-aarch64", &disabled_f)],
        );
        check(&mixed, "linux/arm64", "aarch64");
    }

    #[test]
    fn this_machine_is_detected() {
        // Only what holds on every machine: the platform parses, detection does not fail.
        let host = Host::detect(&SystemProbe).unwrap();
        assert_eq!(
            host.platform,
            Platform::parse(&host.platform.to_string()).unwrap()
        );
        assert!(matches!(host.can_run(&host.platform), Runnable::Native));
        for emulator in &host.emulators {
            assert!(!emulator.name.is_empty());
            assert!(!emulator.interpreter.is_empty());
        }
    }
}
