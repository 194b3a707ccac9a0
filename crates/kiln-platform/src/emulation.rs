//! Emulators registered with the kernel's binfmt_misc, and the platforms they run.
//!
//! Each file in [`BINFMT_MISC_DIR`] but `register` and `status` is a handler the kernel runs
//! foreign binaries with, in the kernel's format:
//!
//! ```text
//! enabled
//! interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
//! flags: PF
//! offset 0
//! magic 7f454c460201010000000000000000000200b700
//! mask ffffffffffffff00fffffffffffffffffeffffff
//! ```
//!
//! A handler's platform is read from the ELF header its magic matches (so a handler of any name
//! is recognised, see `elf.rs`), else from its name (`qemu-aarch64`, `aarch64`,
//! `qemu-aarch64-static`). Handlers that name no platform (`.pyc` files, Java archives) are listed
//! as ignored.

use std::fmt;
use std::io;
use std::path::Path;

use kiln_core::Platform;

use crate::elf;
use crate::probe::HostProbe;

/// Where binfmt_misc is mounted.
pub const BINFMT_MISC_DIR: &str = "/proc/sys/fs/binfmt_misc";

/// The command that mounts binfmt_misc.
pub const MOUNT_COMMAND: &str = "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc";

/// A registered handler that runs binaries of another platform.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Emulator {
    /// The handler's name, the file name in binfmt_misc (`qemu-aarch64`).
    pub name: String,
    /// The platform whose binaries it runs (`linux/arm64`; `qemu-arm` runs `linux/arm/v7` and the
    /// older ARM variants).
    pub platform: Platform,
    /// The program the kernel runs the binary with.
    pub interpreter: String,
    /// Whether the kernel uses it: its own switch is on and binfmt_misc as a whole is enabled.
    pub enabled: bool,
    /// The `F` (fix binary) flag: the kernel opened the interpreter when it was registered, so it
    /// works inside containers, whose file system does not contain the interpreter.
    pub fix_binary: bool,
}

/// Whether binfmt_misc can run anything at all.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BinfmtState {
    /// binfmt_misc is not mounted (or the directory holds neither `register` nor `status`).
    NotMounted,
    /// binfmt_misc is mounted but its `status` says `disabled`: no handler runs.
    Disabled,
    /// binfmt_misc is mounted and enabled; each handler's own switch decides.
    Available,
    /// kiln cannot tell: the directory cannot be read, or kiln does not run on Linux (on macOS
    /// and Windows, containers run in Docker's Linux VM, whose handlers kiln cannot see).
    Unknown {
        /// Why kiln cannot tell, in a sentence.
        reason: String,
    },
}

impl fmt::Display for BinfmtState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BinfmtState::NotMounted => write!(f, "binfmt_misc is not mounted"),
            BinfmtState::Disabled => write!(f, "binfmt_misc is disabled"),
            BinfmtState::Available => write!(f, "binfmt_misc is enabled"),
            BinfmtState::Unknown { reason } => write!(f, "binfmt_misc state unknown: {reason}"),
        }
    }
}

/// A binfmt_misc entry that is not an emulator kiln can use, and why.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IgnoredEntry {
    /// The entry's name.
    pub name: String,
    /// Why it is ignored.
    pub reason: String,
}

/// What a look at binfmt_misc found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinfmtScan {
    /// Whether binfmt_misc runs anything.
    pub state: BinfmtState,
    /// The handlers that run another platform's binaries, sorted by name.
    pub emulators: Vec<Emulator>,
    /// The entries that are not such handlers or could not be read.
    pub ignored: Vec<IgnoredEntry>,
}

impl BinfmtScan {
    fn empty(state: BinfmtState) -> Self {
        BinfmtScan {
            state,
            emulators: Vec::new(),
            ignored: Vec::new(),
        }
    }
}

/// How a handler recognises the binaries it runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Matcher {
    /// By bytes at an offset: `magic`, compared where `mask` is set (everywhere without a mask).
    Magic {
        /// Where in the file the bytes start.
        offset: usize,
        /// The bytes.
        magic: Vec<u8>,
        /// Which bits count, as long as `magic`.
        mask: Option<Vec<u8>>,
    },
    /// By file name extension, without the dot.
    Extension(String),
}

/// One binfmt_misc entry file, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BinfmtEntry {
    /// The entry's own switch (`enabled` / `disabled`).
    pub enabled: bool,
    /// The program the kernel runs matching binaries with.
    pub interpreter: String,
    /// The flag letters (`P`, `O`, `C`, `F`).
    pub flags: String,
    /// How matching binaries are recognised.
    pub matcher: Matcher,
}

/// Why an entry file could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InvalidEntry(String);

impl fmt::Display for InvalidEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidEntry {}

impl BinfmtEntry {
    /// Parses the kernel's text of an entry file. Lines kiln does not know are skipped.
    pub fn parse(text: &str) -> Result<BinfmtEntry, InvalidEntry> {
        let invalid = |reason: String| InvalidEntry(reason);
        let mut enabled = None;
        let mut interpreter = None;
        let mut flags = String::new();
        let mut offset = 0;
        let mut magic = None;
        let mut mask = None;
        let mut extension = None;
        for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            let value = value.trim();
            match key {
                "enabled" => enabled = Some(true),
                "disabled" => enabled = Some(false),
                "interpreter" if !value.is_empty() => interpreter = Some(value.to_owned()),
                "flags:" => flags = value.to_owned(),
                "offset" => {
                    offset = value
                        .parse()
                        .map_err(|_| invalid(format!("offset {value:?} is not a number")))?;
                }
                "magic" => magic = Some(decode_hex(value).ok_or_else(|| bad_hex("magic", value))?),
                "mask" => mask = Some(decode_hex(value).ok_or_else(|| bad_hex("mask", value))?),
                "extension" => extension = Some(value.trim_start_matches('.').to_owned()),
                _ => {}
            }
        }
        let enabled =
            enabled.ok_or_else(|| invalid("no `enabled` or `disabled` line".to_owned()))?;
        let interpreter = interpreter.ok_or_else(|| invalid("no `interpreter` line".to_owned()))?;
        let matcher = match (magic, extension) {
            (Some(magic), _) => {
                if let Some(mask) = &mask
                    && mask.len() != magic.len()
                {
                    return Err(invalid(format!(
                        "the mask has {} bytes but the magic {}",
                        mask.len(),
                        magic.len()
                    )));
                }
                Matcher::Magic {
                    offset,
                    magic,
                    mask,
                }
            }
            (None, Some(extension)) => Matcher::Extension(extension),
            (None, None) => return Err(invalid("neither `magic` nor `extension`".to_owned())),
        };
        Ok(BinfmtEntry {
            enabled,
            interpreter,
            flags,
            matcher,
        })
    }

    /// Whether the `F` (fix binary) flag is set.
    pub fn fix_binary(&self) -> bool {
        self.flags.contains('F')
    }

    /// The platform whose binaries this entry, registered as `name`, runs: from the ELF machine
    /// its magic matches when it has one, else from its name.
    pub fn platform(&self, name: &str) -> Option<Platform> {
        let from_magic = match &self.matcher {
            Matcher::Magic {
                offset,
                magic,
                mask,
            } => elf::platform_of(&elf::Pattern {
                offset: *offset,
                magic,
                mask: mask.as_deref(),
            }),
            Matcher::Extension(_) => None,
        };
        from_magic.or_else(|| platform_for_handler_name(name))
    }
}

fn bad_hex(what: &str, value: &str) -> InvalidEntry {
    InvalidEntry(format!("{what} {value:?} is not hexadecimal bytes"))
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() || !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).ok())
        .collect()
}

/// The platform a handler's name promises: qemu's names (`qemu-aarch64`, `qemu-mips64el`), with
/// or without the `qemu-` prefix and a `-static` suffix, and Docker's spellings (`arm64`).
pub fn platform_for_handler_name(name: &str) -> Option<Platform> {
    let base = name.strip_prefix("qemu-").unwrap_or(name);
    let base = base.strip_suffix("-static").unwrap_or(base);
    let platform = match base {
        "aarch64" | "arm64" => "linux/arm64",
        "aarch64_be" => "linux/arm64be",
        "arm" | "armhf" | "armv7" | "armv7l" => "linux/arm/v7",
        "armeb" => "linux/armbe",
        "x86_64" | "amd64" => "linux/amd64",
        "i386" | "i486" | "i586" | "i686" | "386" => "linux/386",
        "ppc64le" | "ppc64el" => "linux/ppc64le",
        "ppc64" => "linux/ppc64",
        "ppc" => "linux/ppc",
        "s390x" => "linux/s390x",
        "riscv64" => "linux/riscv64",
        "mips64el" | "mips64le" => "linux/mips64le",
        "mips64" => "linux/mips64",
        "mipsel" | "mipsle" => "linux/mipsle",
        "mips" => "linux/mips",
        "mipsn32el" => "linux/mips64p32le",
        "mipsn32" => "linux/mips64p32",
        "loongarch64" | "loong64" => "linux/loong64",
        "sparc64" => "linux/sparc64",
        "sparc" => "linux/sparc",
        _ => return None,
    };
    Platform::parse(platform).ok()
}

/// qemu's name for the architecture of `platform` (`aarch64` for `linux/arm64`), if qemu has one.
pub fn qemu_arch(platform: &Platform) -> Option<&'static str> {
    Some(match platform.architecture() {
        "amd64" => "x86_64",
        "386" => "i386",
        "arm64" => "aarch64",
        "arm64be" => "aarch64_be",
        "arm" => "arm",
        "armbe" => "armeb",
        "ppc64le" => "ppc64le",
        "ppc64" => "ppc64",
        "ppc" => "ppc",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "mips64le" => "mips64el",
        "mips64" => "mips64",
        "mipsle" => "mipsel",
        "mips" => "mips",
        "mips64p32le" => "mipsn32el",
        "mips64p32" => "mipsn32",
        "loong64" => "loongarch64",
        "sparc64" => "sparc64",
        "sparc" => "sparc",
        _ => return None,
    })
}

/// Looks at binfmt_misc through `probe`: its state, its emulators, the entries it ignored.
///
/// Never fails: a missing directory means binfmt_misc is not mounted, an unreadable one an
/// unknown state, an unreadable or malformed entry is ignored with its reason. On a host that
/// is not Linux, the state is unknown (Docker's VM has its own binfmt_misc).
pub fn scan_binfmt(probe: &dyn HostProbe) -> BinfmtScan {
    let os = probe.os();
    if os != "linux" {
        return BinfmtScan::empty(BinfmtState::Unknown {
            reason: format!(
                "kiln runs on {os}; containers run in Docker's Linux VM, whose emulators kiln cannot see"
            ),
        });
    }
    let dir = Path::new(BINFMT_MISC_DIR);
    let names = match probe.read_dir(dir) {
        Ok(names) => names,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return BinfmtScan::empty(BinfmtState::NotMounted);
        }
        Err(error) => {
            return BinfmtScan::empty(BinfmtState::Unknown {
                reason: format!("cannot list {BINFMT_MISC_DIR}: {error}"),
            });
        }
    };
    if !names
        .iter()
        .any(|name| name == "register" || name == "status")
    {
        // The empty mount point of an unmounted binfmt_misc.
        return BinfmtScan::empty(BinfmtState::NotMounted);
    }
    let state = match probe.read_to_string(&dir.join("status")) {
        Ok(status) if status.trim() == "disabled" => BinfmtState::Disabled,
        Ok(_) => BinfmtState::Available,
        Err(error) if error.kind() == io::ErrorKind::NotFound => BinfmtState::Available,
        Err(error) => {
            return BinfmtScan::empty(BinfmtState::Unknown {
                reason: format!("cannot read {BINFMT_MISC_DIR}/status: {error}"),
            });
        }
    };
    let mut scan = BinfmtScan::empty(state);
    for name in names
        .into_iter()
        .filter(|name| name != "register" && name != "status")
    {
        let text = match probe.read_to_string(&dir.join(&name)) {
            Ok(text) => text,
            // Unregistered between listing and reading.
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(error) => {
                let reason = format!("cannot be read: {error}");
                scan.ignored.push(IgnoredEntry { name, reason });
                continue;
            }
        };
        let entry = match BinfmtEntry::parse(&text) {
            Ok(entry) => entry,
            Err(error) => {
                let reason = format!("cannot be parsed: {error}");
                scan.ignored.push(IgnoredEntry { name, reason });
                continue;
            }
        };
        let Some(platform) = entry.platform(&name) else {
            let reason = "neither its magic nor its name names a platform".to_owned();
            scan.ignored.push(IgnoredEntry { name, reason });
            continue;
        };
        scan.emulators.push(Emulator {
            enabled: entry.enabled && scan.state == BinfmtState::Available,
            fix_binary: entry.fix_binary(),
            interpreter: entry.interpreter,
            platform,
            name,
        });
    }
    scan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::FakeProbe;
    use crate::testdata::{self, binfmt_host};

    fn platform(text: &str) -> Platform {
        Platform::parse(text).unwrap()
    }

    #[test]
    fn parses_the_kernels_text() {
        let entry = BinfmtEntry::parse(testdata::QEMU_AARCH64).unwrap();
        assert!(entry.enabled);
        assert_eq!(
            entry.interpreter,
            "/usr/libexec/qemu-binfmt/aarch64-binfmt-P"
        );
        assert_eq!(entry.flags, "PF");
        assert!(entry.fix_binary());
        let Matcher::Magic {
            offset,
            magic,
            mask,
        } = &entry.matcher
        else {
            panic!("{entry:?}");
        };
        assert_eq!(*offset, 0);
        assert_eq!(magic[..4], *b"\x7fELF");
        assert_eq!(magic.len(), 20);
        assert_eq!(mask.as_ref().map(Vec::len), Some(20));
        assert_eq!(
            entry.platform("qemu-aarch64"),
            Some(Platform::linux_arm64())
        );
    }

    #[test]
    fn parses_extensions_and_empty_flags() {
        let entry =
            BinfmtEntry::parse("disabled\ninterpreter /usr/bin/wine\nflags: \nextension .exe\n")
                .unwrap();
        assert!(!entry.enabled);
        assert_eq!(entry.flags, "");
        assert!(!entry.fix_binary());
        assert_eq!(entry.matcher, Matcher::Extension("exe".to_owned()));
        assert_eq!(entry.platform("wine"), None);
        // By name when there is no magic.
        assert_eq!(entry.platform("qemu-arm"), Some(platform("linux/arm/v7")));
    }

    #[test]
    fn malformed_entries_say_what_is_wrong() {
        let check = |text: &str, fragment: &str| {
            let error = BinfmtEntry::parse(text).unwrap_err().to_string();
            assert!(error.contains(fragment), "{text:?}: {error}");
        };
        check("interpreter /x\nmagic 7f\n", "`enabled` or `disabled`");
        check("enabled\nmagic 7f\n", "`interpreter`");
        check(
            "enabled\ninterpreter /x\n",
            "neither `magic` nor `extension`",
        );
        check("enabled\ninterpreter /x\nmagic 7g\n", "magic \"7g\"");
        check("enabled\ninterpreter /x\nmagic 7f4\n", "not hexadecimal");
        check(
            "enabled\ninterpreter /x\noffset -1\nmagic 7f\n",
            "offset \"-1\"",
        );
        check(
            "enabled\ninterpreter /x\nmagic 7f45\nmask ff\n",
            "mask has 1 bytes",
        );
    }

    #[test]
    fn names_map_to_platforms() {
        let cases = [
            ("qemu-aarch64", Some("linux/arm64")),
            ("aarch64", Some("linux/arm64")),
            ("qemu-aarch64-static", Some("linux/arm64")),
            ("qemu-arm", Some("linux/arm/v7")),
            ("qemu-x86_64", Some("linux/amd64")),
            ("qemu-i386", Some("linux/386")),
            ("qemu-ppc64le", Some("linux/ppc64le")),
            ("qemu-s390x", Some("linux/s390x")),
            ("qemu-riscv64", Some("linux/riscv64")),
            ("qemu-mips64el", Some("linux/mips64le")),
            ("qemu-mipsel", Some("linux/mipsle")),
            ("qemu-loongarch64", Some("linux/loong64")),
            ("qemu-riscv32", None),
            ("qemu-sparc32plus", None),
            ("python3.11", None),
            ("jar", None),
        ];
        for (name, expected) in cases {
            let found = platform_for_handler_name(name).map(|p| p.to_string());
            assert_eq!(found.as_deref(), expected, "{name}");
        }
    }

    #[test]
    fn qemu_names_round_trip() {
        for arch in [
            "amd64", "386", "arm64", "arm/v7", "arm/v6", "ppc64le", "ppc64", "s390x", "riscv64",
            "mips64le", "mipsle", "loong64",
        ] {
            let target = platform(arch);
            let qemu = qemu_arch(&target).unwrap();
            let back = platform_for_handler_name(&format!("qemu-{qemu}")).unwrap();
            assert_eq!(back.architecture(), target.architecture(), "{arch}");
        }
        assert_eq!(qemu_arch(&platform("linux/wasm")), None);
    }

    #[test]
    fn scans_a_host_with_qemu() {
        let scan = scan_binfmt(&binfmt_host("x86_64", "enabled", testdata::DEBIAN_ENTRIES));
        assert_eq!(scan.state, BinfmtState::Available);
        let found: Vec<(String, String, bool, bool)> = scan
            .emulators
            .iter()
            .map(|e| {
                (
                    e.name.clone(),
                    e.platform.to_string(),
                    e.enabled,
                    e.fix_binary,
                )
            })
            .collect();
        let expected = [
            ("qemu-aarch64", "linux/arm64", true, true),
            ("qemu-arm", "linux/arm/v7", true, true),
            ("qemu-mips64el", "linux/mips64le", true, true),
            ("qemu-mipsel", "linux/mipsle", true, true),
            ("qemu-mipsn32el", "linux/mips64p32le", true, true),
            ("qemu-ppc64le", "linux/ppc64le", false, true),
            ("qemu-riscv64", "linux/riscv64", true, false),
            ("qemu-s390x", "linux/s390x", true, true),
        ];
        let expected: Vec<(String, String, bool, bool)> = expected
            .iter()
            .map(|(n, p, e, f)| (n.to_string(), p.to_string(), *e, *f))
            .collect();
        assert_eq!(found, expected);
        let ignored: Vec<&str> = scan.ignored.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(ignored, ["python3.11", "qemu-riscv32"]);
        assert!(
            scan.ignored[0].reason.contains("names a platform"),
            "{:?}",
            scan.ignored
        );
    }

    #[test]
    fn unknown_names_are_recognised_by_magic() {
        // The same rules under names that say nothing: the ELF machine decides.
        let probe = binfmt_host(
            "x86_64",
            "enabled",
            &[
                ("arm64-runner", testdata::QEMU_AARCH64),
                ("rosetta", testdata::ROSETTA),
                ("foreign", testdata::QEMU_S390X),
                // A misleading name: the magic wins.
                ("qemu-x86_64", testdata::QEMU_ARM),
            ],
        );
        let scan = scan_binfmt(&probe);
        let found: Vec<(&str, String)> = scan
            .emulators
            .iter()
            .map(|e| (e.name.as_str(), e.platform.to_string()))
            .collect();
        assert_eq!(
            found,
            [
                ("arm64-runner", "linux/arm64".to_owned()),
                ("foreign", "linux/s390x".to_owned()),
                ("qemu-x86_64", "linux/arm/v7".to_owned()),
                ("rosetta", "linux/amd64".to_owned()),
            ]
        );
    }

    #[test]
    fn a_disabled_status_disables_every_emulator() {
        let scan = scan_binfmt(&binfmt_host("x86_64", "disabled", testdata::DEBIAN_ENTRIES));
        assert_eq!(scan.state, BinfmtState::Disabled);
        assert!(!scan.emulators.is_empty());
        assert!(scan.emulators.iter().all(|e| !e.enabled));
    }

    #[test]
    fn a_missing_or_empty_directory_is_not_mounted() {
        let scan = scan_binfmt(&FakeProbe::new("x86_64"));
        assert_eq!(scan, BinfmtScan::empty(BinfmtState::NotMounted));
        let empty_mount_point = FakeProbe::new("x86_64").with_dir(BINFMT_MISC_DIR);
        assert_eq!(
            scan_binfmt(&empty_mount_point).state,
            BinfmtState::NotMounted
        );
        assert_eq!(
            BinfmtState::NotMounted.to_string(),
            "binfmt_misc is not mounted"
        );
    }

    #[test]
    fn unreadable_things_are_reported_not_fatal() {
        let dir = FakeProbe::new("x86_64")
            .with_dir(BINFMT_MISC_DIR)
            .with_unreadable(BINFMT_MISC_DIR);
        let BinfmtState::Unknown { reason } = scan_binfmt(&dir).state else {
            panic!("expected an unknown state");
        };
        assert!(
            reason.contains("cannot list /proc/sys/fs/binfmt_misc"),
            "{reason}"
        );

        let entry = binfmt_host("x86_64", "enabled", &[("qemu-arm", testdata::QEMU_ARM)])
            .with_unreadable(format!("{BINFMT_MISC_DIR}/qemu-arm"));
        let scan = scan_binfmt(&entry);
        assert_eq!(scan.state, BinfmtState::Available);
        assert!(scan.emulators.is_empty());
        assert_eq!(scan.ignored[0].name, "qemu-arm");
        assert!(scan.ignored[0].reason.contains("cannot be read"));

        let garbage = binfmt_host("x86_64", "enabled", &[("qemu-arm", "garbage\n")]);
        let scan = scan_binfmt(&garbage);
        assert!(
            scan.ignored[0].reason.contains("cannot be parsed"),
            "{scan:?}"
        );
    }

    #[test]
    fn other_systems_are_unknown() {
        let scan = scan_binfmt(&FakeProbe::new("arm64").with_os("macos"));
        let BinfmtState::Unknown { reason } = &scan.state else {
            panic!("{scan:?}");
        };
        assert!(reason.contains("Docker's Linux VM"), "{reason}");
    }
}
