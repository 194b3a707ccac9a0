//! What checking a built tier against its claims found: its size against its limit, its
//! platform against its platforms, and each probe's exit code ([`Verification`]). The checks
//! are judged here; running the probes is the facade's work.

use std::collections::BTreeSet;

use kiln_core::Platform;
use serde::{Deserialize, Serialize};

use crate::catalogue::Tier;
use crate::request::megabytes;

/// The schema of a saved [`Verification`].
pub const VERIFICATION_SCHEMA: &str = "kiln.base-verification/v1";

/// What a check is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckKind {
    /// The image's size within the tier's limit.
    Size,
    /// The image built for one of the tier's platforms.
    Platform,
    /// A capability's probe exited 0 in a container of the image.
    Probe,
}

/// One claim checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Check {
    /// What it is about.
    pub kind: CheckKind,
    /// The claim in words (`size within 150 MB`, `built for linux/amd64`, `networking`).
    pub claim: String,
    /// The capability a probe proves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability: Option<String>,
    /// The probe's command (run with `/bin/sh -c`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Whether the claim held.
    pub passed: bool,
    /// What was found (`12.3 MB`, `exit code 127`).
    pub found: String,
    /// The last lines a failed probe printed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output: Vec<String>,
}

impl Check {
    /// The size `size_bytes` of a build of `tier` against its limit.
    pub fn size(tier: &Tier, size_bytes: u64) -> Check {
        Check {
            kind: CheckKind::Size,
            claim: format!("size within {}", megabytes(tier.max_size)),
            capability: None,
            command: None,
            passed: size_bytes <= tier.max_size,
            found: megabytes(size_bytes),
            output: Vec::new(),
        }
    }

    /// The platform a build of `tier` is for, against the tier's platforms.
    pub fn platform(tier: &Tier, platform: &Platform) -> Check {
        let listed: Vec<String> = tier.platforms.iter().map(ToString::to_string).collect();
        Check {
            kind: CheckKind::Platform,
            claim: format!("built for {}", listed.join(" or ")),
            capability: None,
            command: None,
            passed: tier.supports(platform),
            found: platform.to_string(),
            output: Vec::new(),
        }
    }

    /// The probe `command` of `capability`, which exited with `exit_code` after printing
    /// `output` (kept only when it failed).
    pub fn probe(capability: &str, command: &str, exit_code: i64, output: Vec<String>) -> Check {
        let passed = exit_code == 0;
        Check {
            kind: CheckKind::Probe,
            claim: capability.to_owned(),
            capability: Some(capability.to_owned()),
            command: Some(command.to_owned()),
            passed,
            found: format!("exit code {exit_code}"),
            output: if passed { Vec::new() } else { output },
        }
    }

    /// A probe that could not be run (the container could not be made or did not end in
    /// time): `problem` says why.
    pub fn probe_not_run(capability: &str, command: &str, problem: String) -> Check {
        Check {
            kind: CheckKind::Probe,
            claim: capability.to_owned(),
            capability: Some(capability.to_owned()),
            command: Some(command.to_owned()),
            passed: false,
            found: problem,
            output: Vec::new(),
        }
    }

    /// The check in words, for messages: `probe networking (`nc -h`): exit code 127`.
    pub fn describe(&self) -> String {
        match (&self.kind, &self.command) {
            (CheckKind::Probe, Some(command)) => {
                format!("probe {} (`{command}`): {}", self.claim, self.found)
            }
            _ => format!("{}: found {}", self.claim, self.found),
        }
    }
}

/// A built tier checked against its claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Verification {
    /// [`VERIFICATION_SCHEMA`].
    pub schema: String,
    /// The tier.
    pub tier: String,
    /// The image checked.
    pub image_id: String,
    /// The platform it was built for.
    pub platform: Platform,
    /// Its size in bytes.
    pub size_bytes: u64,
    /// Every check, in order: size, platform, then each probe by capability.
    pub checks: Vec<Check>,
    /// When it was checked (RFC 3339).
    pub checked_at: String,
}

impl Verification {
    /// A verification of `image_id`, a build of `tier` for `platform`, `size_bytes` large,
    /// made at `checked_at`, with its size and platform checked; probes are added with
    /// [`Verification::push`].
    pub fn new(
        tier: &Tier,
        image_id: impl Into<String>,
        platform: Platform,
        size_bytes: u64,
        checked_at: impl Into<String>,
    ) -> Self {
        Verification {
            schema: VERIFICATION_SCHEMA.to_owned(),
            tier: tier.name.clone(),
            image_id: image_id.into(),
            checks: vec![
                Check::size(tier, size_bytes),
                Check::platform(tier, &platform),
            ],
            platform,
            size_bytes,
            checked_at: checked_at.into(),
        }
    }

    /// Adds `check`.
    pub fn push(&mut self, check: Check) {
        self.checks.push(check);
    }

    /// Whether every claim held.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|check| check.passed)
    }

    /// The claims that did not hold.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|check| !check.passed)
    }

    /// The capabilities a probe proved.
    pub fn proven(&self) -> BTreeSet<String> {
        self.checks
            .iter()
            .filter(|check| check.passed)
            .filter_map(|check| check.capability.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;

    fn tier() -> Tier {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("runtime")).unwrap();
        let text = r#"
            version = 1
            capabilities = ["runtime", "networking", "debugging", "profiling"]
            [[tier]]
            name = "runtime"
            context = "runtime"
            capabilities = ["runtime", "networking"]
            max_size_mb = 2
            platforms = ["linux/amd64"]
            probes = { networking = "nc -h" }
        "#;
        let catalogue = Catalogue::parse(text, &dir.path().join("bases.toml")).unwrap();
        catalogue.tiers[0].clone()
    }

    #[test]
    fn claims_are_judged() {
        let tier = tier();
        let mut verification = Verification::new(
            &tier,
            "sha256:ab",
            Platform::linux_amd64(),
            1_200_000,
            "2026-01-01T00:00:00Z",
        );
        assert!(verification.passed());
        verification.push(Check::probe("networking", "nc -h", 0, vec!["x".into()]));
        assert!(verification.passed());
        assert_eq!(verification.proven(), BTreeSet::from(["networking".into()]));
        assert!(
            verification.checks[2].output.is_empty(),
            "kept only on failure"
        );

        let too_big = Check::size(&tier, 2_500_000);
        assert!(!too_big.passed);
        assert_eq!(too_big.describe(), "size within 2 MB: found 2.5 MB");
        let elsewhere = Check::platform(&tier, &Platform::linux_arm64());
        assert!(!elsewhere.passed);
        assert_eq!(
            elsewhere.describe(),
            "built for linux/amd64: found linux/arm64"
        );
        let failed = Check::probe("networking", "nc -h", 127, vec!["nc: not found".into()]);
        assert_eq!(
            failed.describe(),
            "probe networking (`nc -h`): exit code 127"
        );
        verification.push(failed);
        assert!(!verification.passed());
        assert_eq!(verification.failures().count(), 1);
    }
}
