//! Choosing the builder, for a stated reason, in this order (the README's): what the
//! Dockerfile needs, then the platforms, then the configuration, then BuildKit where the daemon
//! has it (the classic builder where it has not).

use kiln_context::dockerfile::Dockerfile;
use kiln_context::features::{buildkit_features, needs_newer_frontend};
use kiln_core::{BuilderChoice, BuilderKind, Error, Platform, Result};

/// The builder and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BuilderDecision {
    pub(crate) kind: BuilderKind,
    pub(crate) reason: String,
    pub(crate) warnings: Vec<String>,
}

/// What the choice depends on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Situation<'a> {
    pub(crate) choice: BuilderChoice,
    pub(crate) dockerfile: &'a Dockerfile,
    pub(crate) target: &'a Platform,
    pub(crate) host: &'a Platform,
    pub(crate) multi_platform: bool,
    /// The configuration's `use_buildx`: unset means BuildKit where the daemon has it.
    pub(crate) use_buildx: Option<bool>,
    pub(crate) buildkit_available: bool,
}

fn decided(kind: BuilderKind, reason: impl Into<String>) -> BuilderDecision {
    BuilderDecision {
        kind,
        reason: reason.into(),
        warnings: Vec::new(),
    }
}

fn same_machine(a: &Platform, b: &Platform) -> bool {
    a.os() == b.os() && a.architecture() == b.architecture()
}

/// Decides the builder.
pub(crate) fn choose(situation: Situation<'_>) -> Result<BuilderDecision> {
    let Situation {
        choice,
        dockerfile,
        target,
        host,
        multi_platform,
        use_buildx,
        buildkit_available,
    } = situation;
    let no_buildkit = |why: String| {
        Error::invalid_input(
            "builder",
            "buildkit",
            format!("a daemon that can build with BuildKit: {why}, but this daemon cannot"),
        )
    };

    // 1. The Dockerfile needs BuildKit.
    if let Some(feature) = buildkit_features(dockerfile).into_iter().next() {
        let why = feature.describe();
        if choice == BuilderChoice::Classic {
            return Err(Error::invalid_input(
                "--builder",
                "classic",
                format!("auto or buildkit: {why}"),
            ));
        }
        if !buildkit_available {
            return Err(no_buildkit(why));
        }
        return Ok(decided(BuilderKind::Buildkit, why));
    }

    // 2. Another platform, or several.
    if multi_platform || !same_machine(target, host) {
        let why = if multi_platform {
            "a multi-platform build needs BuildKit".to_owned()
        } else {
            format!(
                "the target {target} is not the host's platform {host}: cross-platform builds need BuildKit"
            )
        };
        if choice == BuilderChoice::Classic {
            return Err(Error::invalid_input(
                "--builder",
                "classic",
                format!(
                    "auto or buildkit: {why} (the classic builder builds for the daemon's platform only)"
                ),
            ));
        }
        if !buildkit_available {
            return Err(no_buildkit(why));
        }
        return Ok(decided(BuilderKind::Buildkit, why));
    }

    // 3. The configuration, or an explicit choice.
    match choice {
        BuilderChoice::Classic => Ok(decided(
            BuilderKind::Classic,
            "chosen with --builder classic",
        )),
        BuilderChoice::Buildkit if buildkit_available => Ok(decided(
            BuilderKind::Buildkit,
            "chosen with --builder buildkit",
        )),
        BuilderChoice::Buildkit => Err(no_buildkit("--builder buildkit asks for it".to_owned())),
        BuilderChoice::Auto => match (use_buildx, buildkit_available) {
            (Some(false), _) => Ok(decided(
                BuilderKind::Classic,
                "use_buildx = false in the configuration: nothing in the Dockerfile or the \
                 platform needs BuildKit",
            )),
            (Some(true), true) => Ok(decided(
                BuilderKind::Buildkit,
                "use_buildx is set in the configuration",
            )),
            (Some(true), false) => Ok(BuilderDecision {
                kind: BuilderKind::Classic,
                reason: "use_buildx is set, but the daemon cannot build with BuildKit: the \
                         classic builder"
                    .to_owned(),
                warnings: vec![
                    "use_buildx is set but the daemon has no BuildKit; building with the \
                     classic builder"
                        .to_owned(),
                ],
            }),
            // 4. Nothing asks: BuildKit where the daemon has it, as Docker Engine 23 does.
            (None, true) => Ok(decided(
                BuilderKind::Buildkit,
                "BuildKit is the default where the daemon has it (use_buildx = false: classic)",
            )),
            (None, false) => Ok(decided(
                BuilderKind::Classic,
                "the daemon cannot build with BuildKit: the classic builder",
            )),
        },
    }
}

/// When a BuildKit build failed because the daemon's built-in Dockerfile frontend lacks a
/// feature the file uses, the error that names the line and what would make it work.
pub(crate) fn explain_frontend_failure(dockerfile: &Dockerfile, error: Error) -> Error {
    let Error::BuildFailed {
        step,
        message,
        log_tail,
    } = &error
    else {
        return error;
    };
    let lowered = message.to_ascii_lowercase();
    let rejected = lowered.contains("unknown flag")
        || lowered.contains("dockerfile parse error")
        || lowered.contains("unknown instruction");
    if !rejected {
        return error;
    }
    let Some((feature, remedy)) =
        needs_newer_frontend(dockerfile)
            .into_iter()
            .find(|(feature, _)| {
                lowered.contains(&format!("line {}", feature.line))
                    || lowered.contains(&feature.text.trim_start_matches("--").to_ascii_lowercase())
            })
    else {
        return error;
    };
    Error::BuildFailed {
        step: step.clone(),
        message: format!(
            "{}, which the daemon's built-in Dockerfile frontend does not support ({message}); {remedy}",
            feature.describe()
        ),
        log_tail: log_tail.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn situation<'a>(
        dockerfile: &'a Dockerfile,
        target: &'a Platform,
        host: &'a Platform,
    ) -> Situation<'a> {
        Situation {
            choice: BuilderChoice::Auto,
            dockerfile,
            target,
            host,
            multi_platform: false,
            use_buildx: None,
            buildkit_available: true,
        }
    }

    fn outcome(result: Result<BuilderDecision>) -> String {
        match result {
            Ok(decision) => format!("{}: {}", decision.kind, decision.reason),
            Err(error) => format!("error: {error}"),
        }
    }

    #[test]
    fn selection_rules_in_order() {
        let amd = Platform::linux_amd64();
        let arm = Platform::linux_arm64();
        let plain = Dockerfile::parse("FROM scratch\nCOPY . /\n");
        let mount = Dockerfile::parse("FROM scratch\nRUN --mount=type=cache,target=/c true\n");
        let platform_arg = Dockerfile::parse("FROM scratch\nARG TARGETARCH\n");
        let mut cases = Vec::new();
        let mut case = |label: &str, situation: Situation<'_>| {
            cases.push(format!("{label:<38} {}", outcome(choose(situation))));
        };
        case("plain, host target", situation(&plain, &amd, &amd));
        case("RUN --mount", situation(&mount, &amd, &amd));
        case(
            "automatic platform arg",
            situation(&platform_arg, &amd, &amd),
        );
        case(
            "RUN --mount, --builder classic",
            Situation {
                choice: BuilderChoice::Classic,
                ..situation(&mount, &amd, &amd)
            },
        );
        case(
            "RUN --mount, no BuildKit",
            Situation {
                buildkit_available: false,
                ..situation(&mount, &amd, &amd)
            },
        );
        case("arm64 target on amd64", situation(&plain, &arm, &amd));
        case(
            "arm64 target, --builder classic",
            Situation {
                choice: BuilderChoice::Classic,
                ..situation(&plain, &arm, &amd)
            },
        );
        case(
            "multi-platform",
            Situation {
                multi_platform: true,
                ..situation(&plain, &amd, &amd)
            },
        );
        case(
            "use_buildx",
            Situation {
                use_buildx: Some(true),
                ..situation(&plain, &amd, &amd)
            },
        );
        case(
            "use_buildx, no BuildKit",
            Situation {
                use_buildx: Some(true),
                buildkit_available: false,
                ..situation(&plain, &amd, &amd)
            },
        );
        case(
            "use_buildx = false",
            Situation {
                use_buildx: Some(false),
                ..situation(&plain, &amd, &amd)
            },
        );
        case(
            "nothing configured, no BuildKit",
            Situation {
                buildkit_available: false,
                ..situation(&plain, &amd, &amd)
            },
        );
        case(
            "--builder buildkit",
            Situation {
                choice: BuilderChoice::Buildkit,
                ..situation(&plain, &amd, &amd)
            },
        );
        case(
            "--builder classic",
            Situation {
                choice: BuilderChoice::Classic,
                ..situation(&plain, &amd, &amd)
            },
        );
        insta::assert_snapshot!(cases.join("\n"));
    }

    #[test]
    fn a_frontend_failure_names_the_line_and_the_remedy() {
        let dockerfile = Dockerfile::parse("FROM scratch\nCOPY --link a /a\n");
        let error = Error::BuildFailed {
            step: None,
            message: "dockerfile parse error line 2: Unknown flag: link".into(),
            log_tail: vec![],
        };
        let explained = explain_frontend_failure(&dockerfile, error).to_string();
        assert!(explained.contains("line 2"), "{explained}");
        assert!(explained.contains("--link"), "{explained}");
        assert!(
            explained.contains("syntax=docker/dockerfile:1.4"),
            "{explained}"
        );
        assert!(
            explained.contains("Unknown flag: link"),
            "the daemon's message stays: {explained}"
        );
    }
}
