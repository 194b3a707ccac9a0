//! kiln-platform: which platform a build targets and what the host can run.
//!
//! It will hold host detection behind injectable probes, target resolution (explicit first,
//! else the host, never a silent switch), binfmt_misc emulator detection, and the build-mode ×
//! target-architecture rules. Today it offers the rule that needs no probing.

use kiln_core::{BuildMode, Error, Platform};

/// The platform kiln itself runs on, from the compiled-in OS and architecture.
///
/// An architecture Docker has no name for is an error, never a silent guess.
pub fn host_platform() -> Result<Platform, Error> {
    let arch = match std::env::consts::ARCH {
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => other,
    };
    Platform::parse(&format!("{}/{arch}", std::env::consts::OS))
}

/// The build mode to use for `requested` on `target`, and a warning when it had to fall back.
///
/// The advanced modes need an x86-64 *target* (not host): for any other target they fall back
/// to the default mode, with a warning naming the mode and the target.
pub fn effective_build_mode(
    requested: BuildMode,
    target: &Platform,
) -> (BuildMode, Option<String>) {
    if requested.needs_x86_64_target() && !target.is_x86_64() {
        let warning = format!(
            "build mode {:?} needs an x86-64 target; {target} falls back to the default mode",
            requested.as_str()
        );
        return (BuildMode::Default, Some(warning));
    }
    (requested, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_platform_is_known() {
        let host = host_platform().unwrap();
        assert_eq!(host.os(), std::env::consts::OS);
    }

    #[test]
    fn the_target_decides_the_fallback() {
        let arm = Platform::linux_arm64();
        let amd = Platform::linux_amd64();
        assert_eq!(
            effective_build_mode(BuildMode::RelLto, &amd),
            (BuildMode::RelLto, None)
        );
        let (mode, warning) = effective_build_mode(BuildMode::RelLto, &arm);
        assert_eq!(mode, BuildMode::Default);
        let warning = warning.unwrap();
        assert!(
            warning.contains("rel-lto") && warning.contains("linux/arm64"),
            "{warning}"
        );
        assert_eq!(
            effective_build_mode(BuildMode::Debug, &arm),
            (BuildMode::Debug, None)
        );
    }
}
