//! Target platforms (`os/arch[/variant]`), parsed and normalised the way containerd does.
//!
//! Every spelling kiln's users meet is accepted: Docker's (`linux/amd64`), the kernel's
//! (`x86_64`, `aarch64`), SeBS's (`x64`) and shorthands (`armv7`). All normalise to one value,
//! so `linux/amd64`, `amd64`, `x86_64` and `x64` are equal.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;

/// Operating systems Go (and therefore Docker) knows.
const KNOWN_OS: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "js",
    "linux",
    "nacl",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "wasip1",
    "windows",
    "zos",
];

/// Architectures Go (and therefore Docker) knows, in their normalised spelling.
const KNOWN_ARCH: &[&str] = &[
    "386",
    "amd64",
    "amd64p32",
    "arm",
    "armbe",
    "arm64",
    "arm64be",
    "loong64",
    "mips",
    "mipsle",
    "mips64",
    "mips64le",
    "mips64p32",
    "mips64p32le",
    "ppc",
    "ppc64",
    "ppc64le",
    "riscv",
    "riscv64",
    "s390",
    "s390x",
    "sparc",
    "sparc64",
    "wasm",
];

const EXPECTED: &str = "os/arch[/variant] such as linux/amd64, linux/arm64 or linux/arm/v7, \
     or an architecture alone (amd64, x86_64, x64, arm64, aarch64, armv7, ...)";

/// A normalised target platform.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    os: String,
    architecture: String,
    variant: Option<String>,
}

impl Platform {
    /// `linux/amd64`.
    pub fn linux_amd64() -> Self {
        Self::new_unchecked("linux", "amd64", None)
    }

    /// `linux/arm64`.
    pub fn linux_arm64() -> Self {
        Self::new_unchecked("linux", "arm64", None)
    }

    fn new_unchecked(os: &str, architecture: &str, variant: Option<&str>) -> Self {
        Platform {
            os: os.to_owned(),
            architecture: architecture.to_owned(),
            variant: variant.map(str::to_owned),
        }
    }

    /// Parses and normalises a platform. An architecture alone means Linux.
    pub fn parse(input: &str) -> Result<Platform, Error> {
        let invalid = || Error::invalid_input("platform", input, EXPECTED);
        let lowered = input.trim().to_ascii_lowercase();
        let parts: Vec<&str> = lowered.split('/').collect();
        let (os, arch, variant) = match parts.as_slice() {
            [single] if KNOWN_OS.contains(single) && !is_known_arch_spelling(single) => {
                return Err(Error::invalid_input(
                    "platform",
                    input,
                    format!("an architecture as well as the OS, e.g. {single}/amd64"),
                ));
            }
            [arch] => ("linux", *arch, None),
            [first, second]
                if !KNOWN_OS.contains(&normalize_os(first)) && is_known_arch_spelling(first) =>
            {
                ("linux", *first, Some(*second))
            }
            [os, arch] => (*os, *arch, None),
            [os, arch, variant] => (*os, *arch, Some(*variant)),
            _ => return Err(invalid()),
        };
        if os.is_empty() || arch.is_empty() || variant.is_some_and(str::is_empty) {
            return Err(invalid());
        }
        let os = normalize_os(os);
        if !KNOWN_OS.contains(&os) {
            return Err(Error::invalid_input(
                "platform",
                input,
                format!(
                    "a known operating system ({}): {EXPECTED}",
                    KNOWN_OS.join(", ")
                ),
            ));
        }
        let Some((architecture, variant)) = normalize_arch(arch, variant) else {
            return Err(Error::invalid_input(
                "platform",
                input,
                format!(
                    "a known architecture ({}) or an alias (x86_64, x64, aarch64, armhf, armv7, i386)",
                    KNOWN_ARCH.join(", ")
                ),
            ));
        };
        Ok(Platform {
            os: os.to_owned(),
            architecture,
            variant,
        })
    }

    /// Parses a comma-separated list (`linux/amd64,linux/arm64`), rejecting duplicates.
    pub fn parse_list(input: &str) -> Result<Vec<Platform>, Error> {
        let mut platforms: Vec<Platform> = Vec::new();
        for part in input.split(',') {
            let platform = Platform::parse(part)?;
            if platforms.contains(&platform) {
                return Err(Error::invalid_input(
                    "platform list",
                    input,
                    format!("each platform once, but {platform} is given twice"),
                ));
            }
            platforms.push(platform);
        }
        Ok(platforms)
    }

    /// The operating system (`linux`).
    pub fn os(&self) -> &str {
        &self.os
    }

    /// The normalised architecture (`amd64`, `arm64`, `arm`, ...).
    pub fn architecture(&self) -> &str {
        &self.architecture
    }

    /// The variant (`v7` for `linux/arm/v7`), if any.
    pub fn variant(&self) -> Option<&str> {
        self.variant.as_deref()
    }

    /// Whether the target runs x86-64 code (needed by the advanced build modes).
    pub fn is_x86_64(&self) -> bool {
        self.architecture == "amd64"
    }

    /// The architecture as the Linux kernel names it (`uname -m`): `x86_64`, `aarch64`, `armv7l`.
    pub fn kernel_arch(&self) -> String {
        match (self.architecture.as_str(), self.variant.as_deref()) {
            ("amd64", _) => "x86_64".to_owned(),
            ("arm64", _) => "aarch64".to_owned(),
            ("arm", Some(variant)) => format!("armv{}l", variant.trim_start_matches('v')),
            ("386", _) => "i686".to_owned(),
            (arch, _) => arch.to_owned(),
        }
    }
}

fn is_known_arch_spelling(value: &str) -> bool {
    normalize_arch(value, None).is_some()
}

fn normalize_os(os: &str) -> &str {
    match os {
        "macos" => "darwin",
        other => other,
    }
}

/// Maps an architecture spelling and variant to the normalised pair, or `None` when unknown.
fn normalize_arch(arch: &str, variant: Option<&str>) -> Option<(String, Option<String>)> {
    let owned =
        |arch: &str, variant: Option<&str>| Some((arch.to_owned(), variant.map(str::to_owned)));
    match (arch, variant) {
        ("i386" | "i686" | "x86", None) => owned("386", None),
        ("x86_64" | "x86-64" | "amd64" | "x64", None | Some("v1")) => owned("amd64", None),
        ("x86_64" | "x86-64" | "amd64" | "x64", Some(level @ ("v2" | "v3" | "v4"))) => {
            owned("amd64", Some(level))
        }
        ("aarch64" | "arm64", None | Some("8" | "v8")) => owned("arm64", None),
        ("aarch64" | "arm64", Some(version @ ("v8.1" | "v8.2" | "v9"))) => {
            owned("arm64", Some(version))
        }
        ("armhf", None) | ("armv7" | "armv7l", None) => owned("arm", Some("v7")),
        ("armel", None) | ("armv6" | "armv6l", None) => owned("arm", Some("v6")),
        ("armv5" | "armv5l", None) => owned("arm", Some("v5")),
        ("arm", None | Some("7" | "v7")) => owned("arm", Some("v7")),
        ("arm", Some("6" | "v6")) => owned("arm", Some("v6")),
        ("arm", Some("5" | "v5")) => owned("arm", Some("v5")),
        ("arm", Some("8" | "v8")) => owned("arm64", None),
        (other, variant) if KNOWN_ARCH.contains(&other) && other != "arm" && other != "arm64" => {
            owned(other, variant)
        }
        _ => None,
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Platform::parse(input)
    }
}

impl Serialize for Platform {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Platform {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Platform::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        let platform = Platform::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(platform.to_string(), expected, "input {input:?}");
    }

    fn check_err(input: &str, fragment: &str) {
        let error = Platform::parse(input).expect_err(input).to_string();
        assert!(error.contains(fragment), "{input:?}: {error}");
        assert!(
            error.contains(&format!("{input:?}")),
            "names the value: {error}"
        );
    }

    #[test]
    fn amd64_spellings_are_equal() {
        for input in [
            "linux/amd64",
            "amd64",
            "x86_64",
            "x64",
            "LINUX/AMD64",
            "x86-64",
            "linux/x86_64",
            "amd64/v1",
        ] {
            check(input, "linux/amd64");
        }
    }

    #[test]
    fn arm_spellings() {
        for input in [
            "arm64",
            "aarch64",
            "linux/arm64/v8",
            "linux/aarch64",
            "arm/v8",
        ] {
            check(input, "linux/arm64");
        }
        for input in [
            "arm/v7",
            "armv7",
            "linux/arm",
            "armhf",
            "linux/arm/7",
            "armv7l",
        ] {
            check(input, "linux/arm/v7");
        }
        check("armel", "linux/arm/v6");
        check("linux/arm/v5", "linux/arm/v5");
    }

    #[test]
    fn other_known_platforms() {
        check("linux/s390x", "linux/s390x");
        check("linux/ppc64le", "linux/ppc64le");
        check("i386", "linux/386");
        check("windows/amd64", "windows/amd64");
        check("linux/amd64/v3", "linux/amd64/v3");
        check("linux/riscv64", "linux/riscv64");
    }

    #[test]
    fn unknown_platforms_are_errors_naming_the_value() {
        check_err("linux/sparc99", "known architecture");
        check_err("plan10/amd64", "known operating system");
        check_err("linux", "an architecture as well");
        check_err("", "os/arch");
        check_err("linux/amd64/v2/x", "os/arch");
        check_err("linux//v7", "os/arch");
        check_err("linux/arm/v9000", "known architecture");
    }

    #[test]
    fn kernel_names() {
        assert_eq!(Platform::parse("amd64").unwrap().kernel_arch(), "x86_64");
        assert_eq!(Platform::parse("arm64").unwrap().kernel_arch(), "aarch64");
        assert_eq!(Platform::parse("armv7").unwrap().kernel_arch(), "armv7l");
    }

    #[test]
    fn lists_reject_duplicates() {
        let list = Platform::parse_list("linux/amd64,linux/arm64").unwrap();
        assert_eq!(list, vec![Platform::linux_amd64(), Platform::linux_arm64()]);
        let error = Platform::parse_list("amd64,x86_64")
            .unwrap_err()
            .to_string();
        assert!(error.contains("linux/amd64 is given twice"), "{error}");
    }

    #[test]
    fn serde_round_trip() {
        let platform: Platform = serde_json::from_str("\"aarch64\"").unwrap();
        assert_eq!(serde_json::to_string(&platform).unwrap(), "\"linux/arm64\"");
        assert!(serde_json::from_str::<Platform>("\"linux/sparc99\"").is_err());
    }
}
