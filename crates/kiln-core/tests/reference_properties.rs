//! Property tests of the image reference parser: it never panics, whatever the text, and every
//! reference it accepts reads back the same from its full and its familiar form.
//!
//! Each property runs a bounded number of cases (`CASES`); `PROPTEST_CASES=100000` runs more.

use kiln_core::env::{Env, ProcessEnv};
use kiln_core::{ImageRef, ReferenceRule};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

/// Cases per property when `PROPTEST_CASES` is not set.
const CASES: u32 = 512;

/// The configuration of every property here: `CASES` cases unless `PROPTEST_CASES` says more,
/// and failures kept in `proptest-regressions/` (run again first next time).
fn config() -> ProptestConfig {
    let default = ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/reference_properties.txt",
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

/// Text made mostly of the characters references are written with, so that a good share of
/// the cases parse and the rest fail in the middle of the grammar rather than at its start.
fn reference_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9./:@_-]{0,40}",
        "[a-zA-Z0-9./:@_\\[\\]-]{0,80}",
        "([a-z0-9]{1,5}[./:@_-]{1,2}){0,10}[a-z0-9]{0,5}",
        any::<String>(),
    ]
}

/// A registry domain that Docker reads as one: it has a `.`, a port, or is `localhost`.
fn domain() -> impl Strategy<Value = String> {
    let component = "[a-zA-Z0-9]([a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?";
    let port = proptest::option::of("[0-9]{1,5}");
    prop_oneof![
        Just("docker.io".to_owned()),
        Just("index.docker.io".to_owned()),
        Just("localhost".to_owned()),
        (prop::collection::vec(component, 2..4), port.clone()).prop_map(|(parts, port)| {
            let host = parts.join(".");
            port.map_or(host.clone(), |port| format!("{host}:{port}"))
        }),
        (component, "[0-9]{1,5}").prop_map(|(host, port)| format!("{host}:{port}")),
        ("[0-9a-f]{0,4}:[0-9a-f:]{0,8}", port).prop_map(|(address, port)| match port {
            Some(port) => format!("[{address}]:{port}"),
            None => format!("[{address}]"),
        }),
    ]
}

/// A path component: `[a-z0-9]+` runs joined by `.`, `_`, `__` or dashes.
fn path_component() -> impl Strategy<Value = String> {
    (
        "[a-z0-9]{1,6}",
        prop::collection::vec(("(\\.|_|__|-{1,3})", "[a-z0-9]{1,6}"), 0..3),
    )
        .prop_map(|(first, rest)| {
            let mut out = first;
            for (separator, run) in rest {
                out.push_str(&separator);
                out.push_str(&run);
            }
            out
        })
}

/// The parts of a valid reference, and the text they make.
#[derive(Debug, Clone)]
struct Parts {
    domain: Option<String>,
    path: Vec<String>,
    tag: Option<String>,
    digest: Option<String>,
}

impl Parts {
    fn text(&self) -> String {
        let mut out = String::new();
        if let Some(domain) = &self.domain {
            out.push_str(domain);
            out.push('/');
        }
        out.push_str(&self.path.join("/"));
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest);
        }
        out
    }
}

fn valid_parts() -> impl Strategy<Value = Parts> {
    (
        proptest::option::of(domain()),
        prop::collection::vec(path_component(), 1..4),
        proptest::option::of("[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,20}"),
        proptest::option::of(prop_oneof![
            "[0-9a-f]{64}".prop_map(|hex| format!("sha256:{hex}")),
            "[0-9a-f]{128}".prop_map(|hex| format!("sha512:{hex}")),
        ]),
    )
        .prop_map(|(domain, path, tag, digest)| Parts {
            domain,
            path,
            tag,
            digest,
        })
        // Without a domain, a first component with a `.` (or `localhost`) is read as one.
        .prop_filter("the first component reads as a registry", |parts| {
            let first = &parts.path[0];
            parts.domain.is_some()
                || parts.path.len() == 1
                || !(first.contains('.') || first == "localhost")
        })
}

/// What every accepted reference must satisfy: both printed forms and serde read back equal.
fn check_round_trips(reference: &ImageRef) -> Result<(), TestCaseError> {
    let full = reference.to_string();
    prop_assert_eq!(
        ImageRef::parse(&full),
        Ok(reference.clone()),
        "full form {}",
        full
    );
    let familiar = reference.familiar();
    prop_assert_eq!(
        ImageRef::parse(&familiar),
        Ok(reference.clone()),
        "familiar form {}",
        familiar
    );
    prop_assert!(
        full.ends_with(&familiar),
        "{} is not a suffix of {}",
        familiar,
        full
    );
    let json = serde_json::to_string(reference).expect("a reference serialises");
    let back: ImageRef = serde_json::from_str(&json).expect("its JSON deserialises");
    prop_assert_eq!(&back, reference);
    prop_assert!(reference.tag().is_some() || reference.digest().is_some());
    prop_assert!(reference.path().len() <= ImageRef::MAX_PATH_LENGTH);
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_text_parses_or_is_refused_with_its_value(input in reference_like()) {
        match ImageRef::parse(&input) {
            Ok(reference) => check_round_trips(&reference)?,
            Err(error) => {
                prop_assert_eq!(&error.value, &input);
                prop_assert!(!error.to_string().is_empty());
                prop_assert_eq!(input.is_empty(), error.rule == ReferenceRule::Empty);
            }
        }
    }

    #[test]
    fn valid_references_parse_to_their_parts(parts in valid_parts()) {
        let text = parts.text();
        let reference = ImageRef::parse(&text)
            .map_err(|error| TestCaseError::fail(format!("{text:?} refused: {error}")))?;
        check_round_trips(&reference)?;
        let domain = match parts.domain.as_deref() {
            None | Some("index.docker.io") => "docker.io",
            Some(domain) => domain,
        };
        prop_assert_eq!(reference.domain(), domain);
        let path = parts.path.join("/");
        if domain == "docker.io" && parts.path.len() == 1 {
            prop_assert_eq!(reference.path(), format!("library/{path}"));
        } else {
            prop_assert_eq!(reference.path(), path);
        }
        prop_assert_eq!(reference.digest(), parts.digest.as_deref());
        match (&parts.tag, &parts.digest) {
            (None, None) => prop_assert_eq!(reference.tag(), Some("latest")),
            (tag, _) => prop_assert_eq!(reference.tag(), tag.as_deref()),
        }
    }

    #[test]
    fn with_tag_accepts_only_tags_that_read_back(parts in valid_parts(), tag in reference_like()) {
        let reference = ImageRef::parse(&parts.text())
            .map_err(|error| TestCaseError::fail(error.to_string()))?;
        match reference.with_tag(&tag) {
            Ok(tagged) => {
                prop_assert_eq!(tagged.tag(), Some(tag.as_str()));
                prop_assert_eq!(tagged.digest(), None);
                prop_assert_eq!(tagged.repository(), reference.repository());
                check_round_trips(&tagged)?;
            }
            Err(error) => prop_assert!(
                matches!(
                    error.rule,
                    ReferenceRule::InvalidTag { .. } | ReferenceRule::TagTooLong { .. }
                ),
                "{error}"
            ),
        }
    }
}
