//! Property tests of the `.dockerignore` reader, compiler and matcher: no input makes them
//! panic, and the rules every user relies on hold for any pattern and path.
//!
//! Each property runs a bounded number of cases (`CASES`); `PROPTEST_CASES=100000` runs more.

use kiln_context::dockerignore::{
    MatchInfo, PatternError, PatternMatcher, parse_dockerignore, trim_build_files_from_excludes,
};
use kiln_core::env::{Env, ProcessEnv};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

/// Cases per property when `PROPTEST_CASES` is not set.
const CASES: u32 = 256;

/// The configuration of every property here: `CASES` cases unless `PROPTEST_CASES` says more,
/// and failures kept in `proptest-regressions/` (run again first next time).
fn config() -> ProptestConfig {
    let default = ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/dockerignore_properties.txt",
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

/// A pattern written with glob syntax, valid or not: classes, escapes, `**`, `!`, `/`, `.`.
fn glob_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-c.]{1,3}",
        Just("*".to_owned()),
        Just("**".to_owned()),
        Just("?".to_owned()),
        Just("/".to_owned()),
        Just("\\".to_owned()),
        Just("!".to_owned()),
        Just(" ".to_owned()),
        "\\[\\^?[a-c\\]\\-\\\\:\\[]{0,4}\\]?",
        Just("[[:digit:]]".to_owned()),
        "[|{}()+$^]",
        "\\\\[a-z*?\\[\\\\]",
        Just("..".to_owned()),
        Just("é".to_owned()),
    ];
    prop_oneof![
        4 => prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat()),
        1 => any::<String>(),
    ]
}

/// A clean relative path as the context walk produces it: non-empty components, no `.` or
/// `..`, slash-separated.
fn walked_path() -> impl Strategy<Value = String> {
    prop::collection::vec("[a-c][a-c._*?\\[\\]\\\\ -]{0,3}|é|[a-c]{1,2}", 1..5)
        .prop_map(|components| components.join("/"))
}

/// A path written without glob characters, so that as a pattern it matches only itself.
fn literal_path() -> impl Strategy<Value = String> {
    prop::collection::vec("[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,6}", 1..5)
        .prop_map(|components| components.join("/"))
}

/// The walker's decision for `path`: each parent directory is matched first, handing its
/// [`MatchInfo`] to the next, as Docker's context walk does.
fn walked(matcher: &PatternMatcher, path: &str) -> bool {
    let mut info = MatchInfo::default();
    for (end, _) in path.match_indices('/') {
        info = matcher.matches_using_parent_results(&path[..end], &info).1;
    }
    matcher.matches_using_parent_results(path, &info).0
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_ignore_file_reads_into_patterns_without_panicking(
        contents in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            prop::collection::vec(glob_like(), 0..6).prop_map(|lines| lines.join("\n").into_bytes()),
        ]
    ) {
        let patterns = parse_dockerignore(&contents);
        for pattern in &patterns {
            prop_assert!(!pattern.is_empty());
            prop_assert!(!pattern.contains('\n'));
        }
        match PatternMatcher::new(&patterns) {
            Ok(matcher) => {
                prop_assert!(matcher.patterns().count() <= patterns.len());
                let _ = matcher.matches_or_parent_matches("a/b");
            }
            Err(error) => prop_assert!(!error.to_string().is_empty()),
        }
    }

    #[test]
    fn any_patterns_compile_or_are_refused_by_name(
        patterns in prop::collection::vec(glob_like(), 0..5),
        path in prop_oneof![walked_path(), any::<String>()],
    ) {
        match PatternMatcher::new(&patterns) {
            Ok(matcher) => {
                let _ = matcher.matches_or_parent_matches(&path);
                let _ = matcher.matches_using_parent_results(&path, &MatchInfo::default());
                let _ = matcher.matches_legacy(&path);
                let _ = matcher.dir_may_contain_reincluded(&path);
                let _ = walked(&matcher, &path);
                let _ = trim_build_files_from_excludes(patterns.clone(), &path);
            }
            Err(error) => {
                let named = match &error {
                    PatternError::LoneExclamation { pattern }
                    | PatternError::Syntax { pattern, .. }
                    | PatternError::Regex { pattern, .. } => pattern.clone(),
                };
                prop_assert!(
                    patterns.iter().any(|given| given.trim() == named),
                    "{} names none of {:?}", error, patterns
                );
            }
        }
    }

    #[test]
    fn the_walk_agrees_with_the_parent_check_for_one_pattern(
        pattern in glob_like(),
        path in walked_path(),
    ) {
        if let Ok(matcher) = PatternMatcher::new(&[&pattern]) {
            let direct = matcher.matches_or_parent_matches(&path);
            prop_assert_eq!(walked(&matcher, &path), direct);
            let no_info = matcher.matches_using_parent_results(&path, &MatchInfo::default()).0;
            prop_assert_eq!(no_info, direct);
        }
    }

    #[test]
    fn a_literal_pattern_matches_its_path_and_what_is_below_it(
        path in literal_path(),
        below in literal_path(),
    ) {
        let matcher = PatternMatcher::new(&[&path])
            .map_err(|error| TestCaseError::fail(error.to_string()))?;
        prop_assert!(matcher.matches_or_parent_matches(&path));
        prop_assert!(matcher.matches_legacy(&path));
        let child = format!("{path}/{below}");
        prop_assert!(matcher.matches_or_parent_matches(&child));
        prop_assert!(walked(&matcher, &child));
        let sibling = format!("{path}x");
        prop_assert!(!matcher.matches_or_parent_matches(&sibling));
    }

    #[test]
    fn the_same_pattern_with_a_bang_reincludes(pattern in glob_like(), path in walked_path()) {
        // The pattern as the matcher keeps it (trimmed and cleaned), so that `!` + it is the
        // same pattern: `!` is looked at after cleaning, as in Docker.
        let Ok(single) = PatternMatcher::new(&[&pattern]) else {
            return Ok(());
        };
        let Some((text, false)) = single.patterns().next() else {
            return Ok(());
        };
        // Patterns are trimmed and `!/` cleans to `!` (refused, as in Docker): such a text
        // cannot be written after a `!`.
        if text == "/" || text.trim_end() != text {
            return Ok(());
        }
        let reincluded = [text.to_owned(), format!("!{text}")];
        let matcher = PatternMatcher::new(&reincluded)
            .map_err(|error| TestCaseError::fail(error.to_string()))?;
        prop_assert!(!matcher.matches_or_parent_matches(&path));
        prop_assert!(!matcher.matches_legacy(&path));
        prop_assert!(!walked(&matcher, &path));
    }

    #[test]
    fn a_star_excludes_every_path(path in walked_path()) {
        let matcher = PatternMatcher::new(&["*"]).expect("`*` compiles");
        prop_assert!(matcher.matches_or_parent_matches(&path));
        prop_assert!(walked(&matcher, &path));
    }
}
