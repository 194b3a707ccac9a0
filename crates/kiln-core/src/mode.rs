//! Build modes and runtime modes: closed sets that name how an implementation is compiled and run.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;

/// How the implementation inside the image is compiled. Passed to the build as `BUILD_MODE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum BuildMode {
    /// The Dockerfile's own default (`""`).
    #[default]
    Default,
    /// `debug`.
    Debug,
    /// `release`.
    Release,
    /// `rel-lto`: release with link-time optimisation (x86-64 targets only).
    RelLto,
    /// `debug-asan`: debug with AddressSanitizer (x86-64 targets only).
    DebugAsan,
    /// `release-static-pgo`: static release with profile-guided optimisation (x86-64 targets only).
    ReleaseStaticPgo,
}

impl BuildMode {
    /// Every build mode, in a stable order.
    pub const ALL: [BuildMode; 6] = [
        BuildMode::Default,
        BuildMode::Debug,
        BuildMode::Release,
        BuildMode::RelLto,
        BuildMode::DebugAsan,
        BuildMode::ReleaseStaticPgo,
    ];

    /// The mode's name as passed in `BUILD_MODE` (`""` for the default).
    pub fn as_str(self) -> &'static str {
        match self {
            BuildMode::Default => "",
            BuildMode::Debug => "debug",
            BuildMode::Release => "release",
            BuildMode::RelLto => "rel-lto",
            BuildMode::DebugAsan => "debug-asan",
            BuildMode::ReleaseStaticPgo => "release-static-pgo",
        }
    }

    /// Whether the mode only works for an x86-64 target.
    pub fn needs_x86_64_target(self) -> bool {
        matches!(
            self,
            BuildMode::RelLto | BuildMode::DebugAsan | BuildMode::ReleaseStaticPgo
        )
    }

    /// Parses a build mode; `""` and `default` both mean [`BuildMode::Default`].
    pub fn parse(input: &str) -> Result<BuildMode, Error> {
        match input {
            "" | "default" => Ok(BuildMode::Default),
            other => BuildMode::ALL
                .into_iter()
                .find(|mode| mode.as_str() == other)
                .ok_or_else(|| {
                    Error::invalid_input("build mode", input, expected_list(&BuildMode::ALL))
                }),
        }
    }
}

/// How the image runs the implementation. Passed to the build as `RUNTIME_MODE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum RuntimeMode {
    /// `minimal` (the default; not shown in tags).
    #[default]
    Minimal,
    /// `debug`.
    Debug,
    /// `profile`.
    Profile,
}

impl RuntimeMode {
    /// Every runtime mode, in a stable order.
    pub const ALL: [RuntimeMode; 3] = [
        RuntimeMode::Minimal,
        RuntimeMode::Debug,
        RuntimeMode::Profile,
    ];

    /// The mode's name as passed in `RUNTIME_MODE`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuntimeMode::Minimal => "minimal",
            RuntimeMode::Debug => "debug",
            RuntimeMode::Profile => "profile",
        }
    }

    /// Parses a runtime mode.
    pub fn parse(input: &str) -> Result<RuntimeMode, Error> {
        RuntimeMode::ALL
            .into_iter()
            .find(|mode| mode.as_str() == input)
            .ok_or_else(|| {
                Error::invalid_input("runtime mode", input, expected_list(&RuntimeMode::ALL))
            })
    }
}

fn expected_list<T: fmt::Display>(all: &[T]) -> String {
    let names: Vec<String> = all
        .iter()
        .map(|mode| format!("{:?}", mode.to_string()))
        .collect();
    format!("one of {}", names.join(", "))
}

macro_rules! string_like {
    ($type:ty) => {
        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $type {
            type Err = Error;

            fn from_str(input: &str) -> Result<Self, Self::Err> {
                Self::parse(input)
            }
        }

        impl Serialize for $type {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_like!(BuildMode);
string_like!(RuntimeMode);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_modes_round_trip() {
        for mode in BuildMode::ALL {
            assert_eq!(BuildMode::parse(mode.as_str()).unwrap(), mode);
        }
        assert_eq!(BuildMode::parse("default").unwrap(), BuildMode::Default);
    }

    #[test]
    fn runtime_modes_round_trip() {
        for mode in RuntimeMode::ALL {
            assert_eq!(RuntimeMode::parse(mode.as_str()).unwrap(), mode);
        }
    }

    #[test]
    fn unknown_modes_name_the_valid_ones() {
        let error = BuildMode::parse("turbo").unwrap_err().to_string();
        assert_eq!(
            error,
            "invalid build mode \"turbo\": expected one of \"\", \"debug\", \"release\", \
             \"rel-lto\", \"debug-asan\", \"release-static-pgo\""
        );
        let error = RuntimeMode::parse("fast").unwrap_err().to_string();
        assert_eq!(
            error,
            "invalid runtime mode \"fast\": expected one of \"minimal\", \"debug\", \"profile\""
        );
    }

    #[test]
    fn advanced_modes_need_x86_64() {
        let advanced: Vec<_> = BuildMode::ALL
            .into_iter()
            .filter(|mode| mode.needs_x86_64_target())
            .collect();
        assert_eq!(
            advanced,
            [
                BuildMode::RelLto,
                BuildMode::DebugAsan,
                BuildMode::ReleaseStaticPgo
            ]
        );
    }
}
