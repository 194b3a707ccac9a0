//! Which build mode a target platform allows: the advanced modes need an x86-64 target.

use kiln_core::{BuildMode, Platform};

/// The build mode to use for `requested` on `target`, and a warning when it had to fall back.
///
/// The advanced modes (`rel-lto`, `debug-asan`, `release-static-pgo`) need an x86-64 *target*
/// (not host: PANTHER checks the host, a bug): for any other target they fall back to the
/// default mode, with a warning naming the mode and the target.
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

    #[test]
    fn every_advanced_mode_falls_back_off_x86_64() {
        let targets = ["linux/arm64", "linux/arm/v7", "linux/386", "linux/s390x"];
        for mode in [
            BuildMode::RelLto,
            BuildMode::DebugAsan,
            BuildMode::ReleaseStaticPgo,
        ] {
            assert!(mode.needs_x86_64_target());
            assert_eq!(
                effective_build_mode(mode, &Platform::parse("linux/amd64/v3").unwrap()),
                (mode, None)
            );
            for target in targets {
                let target = Platform::parse(target).unwrap();
                let (effective, warning) = effective_build_mode(mode, &target);
                assert_eq!(effective, BuildMode::Default);
                let warning = warning.unwrap();
                assert!(warning.contains(mode.as_str()), "{warning}");
                assert!(warning.contains(&target.to_string()), "{warning}");
            }
        }
        for mode in [BuildMode::Default, BuildMode::Debug, BuildMode::Release] {
            let arm = Platform::linux_arm64();
            assert_eq!(effective_build_mode(mode, &arm), (mode, None));
        }
    }
}
