//! Property tests of the Dockerfile scanner, feature finder and checker: no text makes them
//! panic, and every line number they report is a line of the file (1 to its number of lines).
//!
//! Each property runs a bounded number of cases (`CASES`); `PROPTEST_CASES=100000` runs more.

use kiln_context::dockerfile::Dockerfile;
use kiln_context::features::{buildkit_features, needs_newer_frontend};
use kiln_core::env::{Env, ProcessEnv};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

/// Cases per property when `PROPTEST_CASES` is not set.
const CASES: u32 = 1024;

/// The configuration of every property here: `CASES` cases unless `PROPTEST_CASES` says more,
/// and failures kept in `proptest-regressions/` (run again first next time).
fn config() -> ProptestConfig {
    let default = ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/dockerfile_properties.txt",
        ))),
        ..ProptestConfig::default()
    };
    if ProcessEnv.var("PROPTEST_CASES").is_some() {
        default
    } else {
        ProptestConfig {
            cases: CASES,
            ..default
        }
    }
}

/// The pieces Dockerfiles are made of, the tricky ones included: directives, continuations in
/// both escape characters, heredoc openings and terminators, flags, variables, quotes.
fn fragment() -> impl Strategy<Value = String> {
    let pieces: Vec<&'static str> = vec![
        "FROM",
        "from",
        "RUN",
        "COPY",
        "ADD",
        "ARG",
        "ENV",
        "ONBUILD",
        "LABEL",
        "WORKDIR",
        "CMD",
        "HEALTHCHECK",
        "FROBNICATE",
        "AS",
        "as",
        "scratch",
        "alpine:3",
        "base",
        "${IMAGE:-alpine}",
        "$TARGETARCH",
        "${TARGETARCH}",
        "IMAGE=busybox",
        "TARGETOS=linux",
        "--platform=$BUILDPLATFORM",
        "--mount=type=cache,target=/c",
        "--mount",
        "--network=none",
        "--security=insecure",
        "--chmod=755",
        "--link",
        "--from=base",
        "--",
        "<<EOF",
        "<<-EOF",
        "<<'EOF'",
        "<<\"E\"OF",
        "3<<EOF",
        "<<<x",
        "EOF",
        "\tEOF",
        "\\",
        "`",
        "\\\\",
        "#",
        "# syntax=docker/dockerfile:1.4",
        "# escape=`",
        "# check=skip=all",
        "#syntax=x/y",
        "[\"sh\",",
        "\"-c\"]",
        "'",
        "\"",
        "echo",
        "&&",
        "=",
        "\u{feff}",
        "é",
        " ",
        "\t",
    ];
    prop_oneof![
        8 => prop::sample::select(pieces).prop_map(str::to_owned),
        1 => "[ -~]{1,6}",
    ]
}

/// Dockerfile-like text: lines of fragments, ended by `\n`, `\r\n` or nothing.
fn dockerfile_like() -> impl Strategy<Value = String> {
    let line = (
        prop::collection::vec(fragment(), 0..6),
        prop::sample::select(vec!["\n", "\r\n", " \\\n", "`\n", "\n\n"]),
    )
        .prop_map(|(fragments, end)| fragments.join(" ") + end);
    prop_oneof![
        6 => (prop::collection::vec(line, 0..16), any::<bool>()).prop_map(|(lines, cut)| {
            let mut text = lines.concat();
            if cut {
                text.pop();
            }
            text
        }),
        1 => any::<String>(),
    ]
}

/// The number of lines of `text` as the scanner numbers them (a byte order mark is not a
/// line, and a last line without a line break still is one).
fn line_count(text: &str) -> usize {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.split_inclusive('\n').count()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_line_number_is_a_line_of_the_file(
        text in dockerfile_like(),
        build_args in prop::collection::btree_map(
            "IMAGE|TARGETARCH|[A-Z]{1,3}",
            "[ -~]{0,10}|\\$\\{IMAGE(:-x)?\\}",
            0..3,
        ),
    ) {
        let lines = line_count(&text);
        let in_range = |line: usize| (1..=lines).contains(&line);
        let dockerfile = Dockerfile::parse(&text);
        if let Some(line) = dockerfile.directives.syntax_line {
            prop_assert!(in_range(line), "syntax on line {} of {}", line, lines);
        }
        let mut previous = 0;
        for instruction in &dockerfile.instructions {
            prop_assert!(in_range(instruction.line), "{:?} of {} lines", instruction, lines);
            prop_assert!(instruction.line > previous, "instructions out of order");
            prop_assert_eq!(instruction.source.first().map(|source| source.line), Some(instruction.line));
            let mut last = instruction.line;
            for source in &instruction.source {
                prop_assert!(in_range(source.line) && source.line >= last, "{:?}", instruction);
                last = source.line;
            }
            for heredoc in &instruction.heredocs {
                prop_assert!(in_range(heredoc.line), "{:?} of {} lines", heredoc, lines);
                prop_assert!(heredoc.body_line > last, "{:?}", heredoc);
                if !heredoc.body.is_empty() || heredoc.terminated {
                    prop_assert!(in_range(heredoc.body_line), "{:?} of {} lines", heredoc, lines);
                }
                let body_lines = heredoc.body.matches('\n').count();
                last = heredoc.body_line + body_lines + usize::from(heredoc.terminated) - 1;
                prop_assert!(last <= lines, "{:?} ends past line {}", heredoc, lines);
            }
            for flag in instruction.flags() {
                prop_assert!(in_range(flag.line), "{:?} of {} lines", flag, lines);
            }
            previous = last.max(instruction.line);
        }
        for feature in buildkit_features(&dockerfile) {
            prop_assert!(in_range(feature.line), "{:?} of {} lines", feature, lines);
        }
        for (feature, remedy) in needs_newer_frontend(&dockerfile) {
            prop_assert!(in_range(feature.line), "{:?} of {} lines", feature, lines);
            prop_assert!(!remedy.is_empty());
        }
        for (image, line) in dockerfile.base_image_lines(&build_args) {
            prop_assert!(in_range(line), "{} on line {} of {}", image, line, lines);
        }
        let _ = dockerfile.declared_args();
    }

    #[test]
    fn the_check_names_a_line_of_the_file_or_none(
        text in dockerfile_like(),
        target in proptest::option::of(prop_oneof![Just("base".to_owned()), "[a-zA-Z]{0,4}"]),
    ) {
        let dockerfile = Dockerfile::parse(&text);
        let stages = dockerfile.stages();
        match dockerfile.check(target.as_deref()) {
            Ok(()) => {
                if let (Some(target), None) = (&target, &dockerfile.directives.syntax) {
                    prop_assert!(stages.contains(&target.to_ascii_lowercase()));
                }
            }
            Err(problem) => {
                prop_assert!(!problem.to_string().is_empty());
                if let Some(line) = problem.line() {
                    prop_assert!((1..=line_count(&text)).contains(&line), "{problem}");
                }
            }
        }
    }
}
