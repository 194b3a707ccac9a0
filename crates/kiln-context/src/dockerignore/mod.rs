//! `.dockerignore` with the exact rules of the Docker CLI 28 (moby/patternmatcher v0.6).
//!
//! Docker's rules are not gitignore's, and they have quirks that users rely on without knowing,
//! so this module reproduces them rather than improving on them:
//!
//! - [`parse_dockerignore`] reads the file like `ignorefile.ReadAll`: comments only in column 0,
//!   whitespace trimmed, each pattern cleaned like Go's `filepath.Clean`, a leading `/` dropped.
//! - [`PatternMatcher`] is `patternmatcher.New`: every pattern is checked like Go's
//!   `filepath.Match` would check it, then compiled into an exact, prefix, suffix or regular
//!   expression match with the same translation Docker uses (quirks included, such as `**foo`
//!   matching `barfoo`). The last matching pattern wins, and a `!` pattern re-includes.
//! - Its three match functions are those of the walker (`MatchesUsingParentResults`), of the
//!   parent-aware check (`MatchesOrParentMatches`) and of the CLI's deprecated `Matches` that
//!   [`trim_build_files_from_excludes`] still uses.
//!
//! Docker hands each regular expression to Go's `regexp`. This module parses that same
//! expression with Go's RE2 rules (where `[` inside a class is a literal, unlike in the `regex`
//! crate) and rebuilds it for the `regex` crate, so even odd patterns match what they match in
//! Docker: `[?]` matches `[]`, `[[:digit:]]` one digit, and `*.js|*.map` is an alternation
//! (Docker leaves `|`, `{` and `}` unescaped). The one thing it cannot rebuild, a Unicode class
//! written as `\pL` in a pattern, is reported as an error.
//!
//! All paths are slash-separated and relative to the context root, as Docker uses them on Linux.

mod compile;
mod error;
pub mod go_path;
mod go_regex;
mod matcher;
mod read;
mod syntax;

pub use error::PatternError;
pub use matcher::{MatchInfo, PatternMatcher, trim_build_files_from_excludes};
pub use read::parse_dockerignore;

/// Helpers shared by the tests of several files.
#[cfg(test)]
mod test_support {
    use super::go_path::dir;
    use super::{MatchInfo, PatternMatcher};

    pub(super) fn matcher(patterns: &[&str]) -> PatternMatcher {
        PatternMatcher::new(patterns)
            .unwrap_or_else(|error| panic!("patterns {patterns:?} rejected: {error}"))
    }

    /// What Docker's walker decides for `path`: the parents are matched first, each handing its
    /// MatchInfo to the next, as the walk does.
    pub(super) fn walked(matcher: &PatternMatcher, path: &str) -> bool {
        let mut info = MatchInfo::default();
        let parent = dir(path);
        if parent != "." {
            let mut ends: Vec<usize> = parent.match_indices('/').map(|(index, _)| index).collect();
            ends.push(parent.len());
            for end in ends {
                info = matcher
                    .matches_using_parent_results(&parent[..end], &info)
                    .1;
            }
        }
        matcher.matches_using_parent_results(path, &info).0
    }

    /// `MatchesOrParentMatches`, which `MatchesUsingParentResults` without information equals,
    /// and the walk, which agrees with both for a single pattern.
    #[track_caller]
    pub(super) fn check(patterns: &[&str], path: &str, expected: bool) {
        let matcher = matcher(patterns);
        let what = format!("patterns {patterns:?}, path {path:?}");
        assert_eq!(matcher.matches_or_parent_matches(path), expected, "{what}");
        let no_info = matcher.matches_using_parent_results(path, &MatchInfo::default());
        assert_eq!(no_info.0, expected, "{what} (no MatchInfo)");
        if patterns.len() == 1 {
            assert_eq!(walked(&matcher, path), expected, "{what} (walk)");
        }
    }
}
