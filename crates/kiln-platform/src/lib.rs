//! kiln-platform: which platform a build targets, and whether the host can run it.
//!
//! # Code map
//!
//! - [`probe`] — [`HostProbe`], what the host tells: the kernel's machine name (`uname -m`), the
//!   OS, files and directories under `/proc`. [`SystemProbe`] asks the real system,
//!   [`FakeProbe`] answers from memory for tests.
//! - [`emulation`] — binfmt_misc: parses each registered handler and tells which platform it
//!   runs, by the ELF machine its magic matches (any handler name) or else by its name
//!   (`qemu-aarch64`); whether binfmt_misc is mounted and enabled.
//! - [`host`] — [`Host`]: the host's platform and emulators, detected through a probe, and
//!   [`Host::can_run`]: whether a target runs natively, emulated, or not (with what to do).
//! - [`target`] — [`resolve_target`] (explicit, then configured, then the host; never a silent
//!   switch) and [`warning_before_build`], what kiln prints before a cross-architecture build.
//! - [`mode`] — [`effective_build_mode`]: the advanced build modes need an x86-64 *target*.
//!
//! **Architecture invariant:** [`SystemProbe`] is the only code in this crate that reads the
//! operating system; everything else takes a `&dyn HostProbe`. An architecture kiln has no
//! Docker name for is an error naming it, never a default.

pub mod emulation;
pub mod host;
pub mod mode;
pub mod probe;
pub mod target;

mod elf;
#[cfg(test)]
mod testdata;

pub use emulation::{
    BINFMT_MISC_DIR, BinfmtEntry, BinfmtScan, BinfmtState, Emulator, IgnoredEntry, InvalidEntry,
    Matcher, scan_binfmt,
};
pub use host::{Host, Runnable, detect_platform, platform_for_machine};
pub use mode::effective_build_mode;
pub use probe::{FakeProbe, HostProbe, SharedProbe, SystemProbe, buildx_version};
pub use target::{Target, TargetSource, resolve_target, warning_before_build};

use kiln_core::{Error, Platform};

/// The platform of the host kiln runs on, from its OS and the kernel's machine name.
///
/// An architecture Docker has no name for is an error naming it, never a silent guess.
pub fn host_platform() -> Result<Platform, Error> {
    detect_platform(&SystemProbe)
}

/// The host kiln runs on, with its binfmt_misc emulators.
pub fn detect_host() -> Result<Host, Error> {
    Host::detect(&SystemProbe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_platform_is_known() {
        let host = host_platform().unwrap();
        let os = Platform::parse(&format!("{}/amd64", std::env::consts::OS)).unwrap();
        assert_eq!(host.os(), os.os());
        assert_eq!(detect_host().unwrap().platform, host);
    }
}
