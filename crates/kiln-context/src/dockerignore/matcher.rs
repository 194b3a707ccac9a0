//! [`PatternMatcher`], Docker's `patternmatcher.PatternMatcher`: the compiled patterns, its three
//! match functions, the [`MatchInfo`] its walker hands down, and the CLI's
//! [`trim_build_files_from_excludes`].

use std::borrow::Cow;

use super::compile::{MatchKind, compile};
use super::error::PatternError;
use super::go_path::{clean, dir, leading_elements};
use super::syntax::check_glob_syntax;

/// Compiled `.dockerignore` patterns, matching paths exactly as Docker's `PatternMatcher` does.
///
/// Patterns are evaluated in order and the last one that matches decides: a plain pattern
/// excludes, a `!` pattern re-includes. A pattern that cannot change the current answer is not
/// evaluated at all (a plain pattern while already excluded, a `!` pattern while included),
/// which matters for [`MatchInfo`].
#[derive(Clone, Debug)]
pub struct PatternMatcher {
    patterns: Vec<Pattern>,
    exclusions: bool,
}

/// One compiled pattern.
#[derive(Clone, Debug)]
struct Pattern {
    /// The pattern after trimming and cleaning, without its `!` (Docker's `Pattern.String()`).
    text: String,
    /// Whether the pattern started with `!`.
    exclusion: bool,
    /// How many slash-separated elements the pattern has (for the legacy parent check).
    elements: usize,
    /// How the pattern matches.
    kind: MatchKind,
}

impl Pattern {
    fn matches(&self, path: &str) -> bool {
        match &self.kind {
            MatchKind::Exact => path == self.text,
            MatchKind::Prefix => path.starts_with(&self.text[..self.text.len() - 2]),
            MatchKind::Suffix => {
                let suffix = &self.text.as_bytes()[2..];
                path.as_bytes().ends_with(suffix)
                    || (suffix.first() == Some(&b'/') && path.as_bytes() == &suffix[1..])
            }
            MatchKind::Literal(text) => path == &**text,
            MatchKind::Regex(compiled) => {
                path.starts_with(&*compiled.prefix)
                    && path.ends_with(&*compiled.suffix)
                    && compiled.regex.is_match(path)
            }
        }
    }

    /// Whether the pattern matches one of `parent`'s leading paths: `a`, `a/b`, ..., `parent`.
    fn matches_a_parent(&self, parent: &str) -> bool {
        parent
            .match_indices('/')
            .any(|(index, _)| self.matches(&parent[..index]))
            || self.matches(parent)
    }
}

impl PatternMatcher {
    /// Compiles patterns like Docker's `patternmatcher.New`.
    ///
    /// Each pattern is trimmed (blank ones are skipped) and cleaned like `filepath.Clean`; a
    /// leading `!` makes it a re-inclusion. Patterns usually come from
    /// [`parse_dockerignore`](super::parse_dockerignore), possibly through
    /// [`trim_build_files_from_excludes`].
    ///
    /// # Errors
    ///
    /// A pattern that is only `!`, a pattern that Go's `filepath.Match` rejects (an unclosed or
    /// empty character class, a class item starting with `-` or `]`, a trailing `\`...), and a
    /// pattern whose derived regular expression Go's `regexp` would reject (such as the reversed
    /// range `l-O` in `[Local-Only]`). The error names the pattern.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, PatternError> {
        let mut matcher = PatternMatcher {
            patterns: Vec::with_capacity(patterns.len()),
            exclusions: false,
        };
        for pattern in patterns {
            matcher.push(pattern.as_ref())?;
        }
        Ok(matcher)
    }

    fn push(&mut self, pattern: &str) -> Result<(), PatternError> {
        let trimmed = pattern.trim();
        if trimmed.is_empty() {
            return Ok(());
        }
        // Docker cleans before looking at the `!`, so `!./a` keeps its `./`.
        let cleaned = clean(trimmed);
        let (exclusion, text) = match cleaned.strip_prefix('!') {
            Some("") => {
                return Err(PatternError::LoneExclamation {
                    pattern: trimmed.to_owned(),
                });
            }
            Some(rest) => (true, rest),
            None => (false, &*cleaned),
        };
        check_glob_syntax(text).map_err(|reason| PatternError::Syntax {
            pattern: trimmed.to_owned(),
            reason,
        })?;
        let kind = compile(text).map_err(|(regex, reason)| PatternError::Regex {
            pattern: trimmed.to_owned(),
            regex,
            reason,
        })?;
        self.exclusions |= exclusion;
        self.patterns.push(Pattern {
            text: text.to_owned(),
            exclusion,
            elements: text.bytes().filter(|&byte| byte == b'/').count() + 1,
            kind,
        });
        Ok(())
    }

    /// Whether there is no pattern at all (nothing is ever excluded).
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether some pattern is a `!` re-inclusion (Docker's `Exclusions()`).
    pub fn exclusions(&self) -> bool {
        self.exclusions
    }

    /// The patterns in order, as cleaned text without the `!`, each with whether it is a `!`
    /// re-inclusion (Docker's `Pattern.String()` and `Pattern.Exclusion()`).
    pub fn patterns(&self) -> impl Iterator<Item = (&str, bool)> {
        self.patterns
            .iter()
            .map(|pattern| (pattern.text.as_str(), pattern.exclusion))
    }

    /// Whether `path` is excluded, where a pattern also matches when it matches one of the
    /// path's parent directories (Docker's `MatchesOrParentMatches`).
    ///
    /// `path` is slash-separated and relative to the context root. It is used as given; only
    /// its parent directory is cleaned, as Go's `filepath.Dir` does.
    pub fn matches_or_parent_matches(&self, path: &str) -> bool {
        let parent = dir(path);
        let mut matched = false;
        for pattern in &self.patterns {
            if pattern.exclusion != matched {
                continue;
            }
            let hit = pattern.matches(path) || (parent != "." && pattern.matches_a_parent(&parent));
            if hit {
                matched = !pattern.exclusion;
            }
        }
        matched
    }

    /// Whether `path` is excluded, reusing what each pattern did for the parent directory
    /// (Docker's `MatchesUsingParentResults`, which its context walker uses).
    ///
    /// `parent` is the [`MatchInfo`] this returned for the directory that contains `path`, or
    /// [`MatchInfo::default()`] for an entry at the root or when nothing is known; without
    /// information every pattern is also tried on each parent directory, like
    /// [`matches_or_parent_matches`](Self::matches_or_parent_matches). With information, a
    /// pattern that matched the parent counts as matching `path` (even a `!` pattern that the
    /// skip rule would otherwise pass over), and no parent directory is tried.
    ///
    /// Like Docker, the returned [`MatchInfo`] records `false` for every pattern that was
    /// skipped, even one that would have matched.
    ///
    /// # Panics
    ///
    /// If `parent` came from a matcher with a different number of patterns (Docker returns the
    /// error "wrong number of values in parentMatched").
    pub fn matches_using_parent_results(
        &self,
        path: &str,
        parent: &MatchInfo,
    ) -> (bool, MatchInfo) {
        let known = parent.len != 0;
        assert!(
            !known || parent.len == self.patterns.len(),
            "MatchInfo from a matcher with {} patterns used with one with {}",
            parent.len,
            self.patterns.len()
        );
        let mut info = MatchInfo::new(self.patterns.len());
        let mut parent_dir: Option<Cow<'_, str>> = None;
        let mut matched = false;
        for (index, pattern) in self.patterns.iter().enumerate() {
            let mut hit = known && parent.get(index);
            if !hit {
                if pattern.exclusion != matched {
                    continue;
                }
                hit = pattern.matches(path);
                if !hit && !known {
                    let parent_dir = parent_dir.get_or_insert_with(|| dir(path));
                    hit = *parent_dir != "." && pattern.matches_a_parent(parent_dir);
                }
            }
            if hit {
                info.set(index);
                matched = !pattern.exclusion;
            }
        }
        (matched, info)
    }

    /// Whether `path` is excluded by Docker's deprecated `patternmatcher.Matches`, which the CLI
    /// still uses to decide whether to keep `.dockerignore` and the Dockerfile.
    ///
    /// `path` is cleaned first and a path that cleans to `.` never matches. Besides the path
    /// itself, a pattern is tried on one parent only: the one with as many elements as the
    /// pattern (so `a` matches `a/b/c`, and `a/*` matches `a/b/c` through `a/b`, but `**/b`
    /// does not match `b/c`, which has no two-element parent).
    pub fn matches_legacy(&self, path: &str) -> bool {
        let file = clean(path);
        if file == "." {
            return false;
        }
        let parent = dir(&file);
        let parent_elements = if parent == "." {
            0
        } else {
            parent.bytes().filter(|&byte| byte == b'/').count() + 1
        };
        let mut matched = false;
        for pattern in &self.patterns {
            if pattern.exclusion != matched {
                continue;
            }
            let hit = pattern.matches(&file)
                || (parent_elements != 0
                    && pattern.elements <= parent_elements
                    && pattern.matches(leading_elements(&parent, pattern.elements)));
            if hit {
                matched = !pattern.exclusion;
            }
        }
        matched
    }

    /// Whether an excluded directory must still be walked because a `!` pattern may re-include
    /// something below it: Docker's walker rule, true when some `!` pattern's text followed by
    /// `/` starts with `rel_dir` followed by `/`.
    ///
    /// The test is purely textual: `!a/*/c` keeps the walk going into `a` but not into `a/b`,
    /// and `!**/keep` or `!*/keep` do not keep it going into `a`, so in Docker nothing under an
    /// excluded `a` comes back through them. `rel_dir` is slash-separated and relative to the
    /// context root.
    pub fn dir_may_contain_reincluded(&self, rel_dir: &str) -> bool {
        self.exclusions
            && self.patterns.iter().any(|pattern| {
                let text = pattern.text.as_str();
                pattern.exclusion
                    && text.starts_with(rel_dir)
                    && (text.len() == rel_dir.len() || text.as_bytes()[rel_dir.len()] == b'/')
            })
    }
}

/// What each pattern did for a directory, handed back to
/// [`PatternMatcher::matches_using_parent_results`] for the entries in that directory.
///
/// The default value means "no information about the parent".
#[derive(Clone, Debug, Default)]
pub struct MatchInfo {
    /// Number of patterns recorded; 0 means no information.
    len: usize,
    /// The bits for the first 128 patterns, so that common matchers never allocate.
    inline: [u64; 2],
    /// The bits for all patterns when there are more than 128.
    heap: Vec<u64>,
}

impl MatchInfo {
    fn new(len: usize) -> Self {
        MatchInfo {
            len,
            inline: [0; 2],
            heap: if len > 128 {
                vec![0; len.div_ceil(64)]
            } else {
                Vec::new()
            },
        }
    }

    fn words(&self) -> &[u64] {
        if self.heap.is_empty() {
            &self.inline
        } else {
            &self.heap
        }
    }

    fn get(&self, index: usize) -> bool {
        self.words()[index / 64] & (1 << (index % 64)) != 0
    }

    fn set(&mut self, index: usize) {
        let words = if self.heap.is_empty() {
            &mut self.inline[..]
        } else {
            &mut self.heap[..]
        };
        words[index / 64] |= 1 << (index % 64);
    }
}

/// Adds the re-inclusions the Docker CLI adds before sending a context: `!.dockerignore` when
/// `.dockerignore` is excluded, then `!` + `dockerfile` when the Dockerfile is excluded (checked
/// with the first addition in place). Both checks use [`PatternMatcher::matches_legacy`], as
/// the CLI does. The daemon hides both files from the build anyway; they must be sent.
///
/// `dockerfile` is the Dockerfile's slash-separated path relative to the context root, as the
/// CLI has it; it is added as given, not cleaned. The caller skips this when the Dockerfile
/// comes from standard input, as the CLI does.
///
/// # Errors
///
/// When a pattern is invalid (see [`PatternMatcher::new`]). The CLI ignores the error here and
/// fails a moment later when it builds the matcher for the walk; this reports it at once.
pub fn trim_build_files_from_excludes(
    mut patterns: Vec<String>,
    dockerfile: &str,
) -> Result<Vec<String>, PatternError> {
    let mut matcher = PatternMatcher::new(&patterns)?;
    if matcher.matches_legacy(".dockerignore") {
        patterns.push("!.dockerignore".to_owned());
        matcher.push("!.dockerignore")?;
    }
    if matcher.matches_legacy(dockerfile) {
        patterns.push(format!("!{dockerfile}"));
    }
    Ok(patterns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerignore::test_support::{check, matcher, walked};

    #[track_caller]
    fn check_legacy(patterns: &[&str], path: &str, expected: bool) {
        let what = format!("patterns {patterns:?}, path {path:?}");
        assert_eq!(matcher(patterns).matches_legacy(path), expected, "{what}");
    }

    #[track_caller]
    fn check_walk(patterns: &[&str], path: &str, expected: bool) {
        let what = format!("patterns {patterns:?}, path {path:?}");
        assert_eq!(walked(&matcher(patterns), path), expected, "{what}");
    }

    #[test]
    fn exclusions_and_last_match_wins() {
        check(&["*.go", "!main.go"], "main.go", false);
        check(&["*.go", "!main.go"], "x.go", true);
        check(&["!main.go", "*.go"], "main.go", true);
        check(&["docs", "!docs/README.md"], "docs/README.md", false);
        check(&["docs", "!docs/README.md"], "docs/other.md", true);
        check(&["docs/", "!docs/README.md"], "docs/README.md", false);
        check(&["**", "!util/docker/web"], "util/docker/web/foo", false);
        check(
            &["**", "!util/docker/web", "util/docker/web/foo"],
            "util/docker/web/foo",
            true,
        );
        check(&["*", "!keep", "keep/tmp"], "keep/tmp/x", true);
        check(&["*", "!keep", "keep/tmp"], "keep/other", false);
    }

    #[test]
    fn parents_in_the_three_functions() {
        check(&["a/*"], "a/b/c", true);
        check_legacy(&["a/*"], "a/b/c", true);
        check_walk(&["a/*"], "a/b/c/d", true);
        // The legacy check tries only the parent with as many elements as the pattern.
        check(&["**/b"], "b/c", true);
        check_legacy(&["**/b"], "b/c", false);
        check_legacy(&["a"], "a/b/c", true);
        check_legacy(&["a/b"], "a/b/c/d", true);
        check_legacy(&["*.go", "!main.go"], "main.go", false);
        // The legacy check cleans the path first and never matches the root.
        check_legacy(&["a"], "./a", true);
        check(&["a"], "./a", false);
        check_legacy(&["*"], ".", false);
        check_legacy(&["**"], "./", false);
        // The parent directory is cleaned like Go's filepath.Dir.
        check(&["a/b"], "a//b/c", true);
        check(&["a"], "./a/b", true);
    }

    #[test]
    fn match_info_records_false_for_skipped_patterns() {
        let patterns = ["dir", "!dir/sub", "dir"];
        let matcher = matcher(&patterns);
        let (excluded, info) = matcher.matches_using_parent_results("dir", &MatchInfo::default());
        assert!(excluded);
        // The third pattern would match but is skipped, and recorded as not matching.
        assert_eq!(
            (0..3).map(|index| info.get(index)).collect::<Vec<_>>(),
            [true, false, false]
        );
        let (excluded, _) = matcher.matches_using_parent_results("dir/sub", &info);
        assert!(!excluded);
        // Without parent information the third pattern sees the parent and excludes again.
        assert!(matcher.matches_or_parent_matches("dir/sub"));
        assert!(
            matcher
                .matches_using_parent_results("dir/sub", &MatchInfo::default())
                .0
        );
    }

    #[test]
    fn match_info_disables_the_parent_check() {
        let matcher = matcher(&["a"]);
        let (_, unrelated) = matcher.matches_using_parent_results("z", &MatchInfo::default());
        assert!(!matcher.matches_using_parent_results("a/b", &unrelated).0);
        assert!(
            matcher
                .matches_using_parent_results("a/b", &MatchInfo::default())
                .0
        );
        // A pattern the parent matched counts (and is recorded) even where the skip rule would
        // pass over it.
        let matcher = self::matcher(&["a", "!a/c", "!a"]);
        let bits = |info: &MatchInfo| (0..3).map(|index| info.get(index)).collect::<Vec<_>>();
        let (excluded, info) = matcher.matches_using_parent_results("a", &MatchInfo::default());
        assert!(!excluded);
        assert_eq!(bits(&info), [true, false, true]);
        let (excluded, child) = matcher.matches_using_parent_results("a/c", &info);
        assert!(!excluded);
        assert_eq!(bits(&child), [true, true, true]);
        let (excluded, child) = matcher.matches_using_parent_results("a/c", &MatchInfo::default());
        assert!(!excluded);
        assert_eq!(bits(&child), [true, true, false]);
    }

    #[test]
    fn match_info_with_many_patterns() {
        let mut patterns: Vec<String> = (0..200).map(|index| format!("p{index}")).collect();
        patterns.push("dir".to_owned());
        patterns.push("!dir/keep".to_owned());
        let matcher = PatternMatcher::new(&patterns).unwrap();
        let (excluded, info) = matcher.matches_using_parent_results("dir", &MatchInfo::default());
        assert!(excluded && info.get(200) && !info.get(201) && !info.get(0));
        assert!(!matcher.matches_using_parent_results("dir/keep", &info).0);
        assert!(matcher.matches_using_parent_results("dir/other", &info).0);
    }

    #[test]
    fn match_info_from_another_matcher_panics() {
        let (_, info) =
            matcher(&["a", "b"]).matches_using_parent_results("a", &MatchInfo::default());
        let one = matcher(&["a"]);
        let panic = std::panic::catch_unwind(|| one.matches_using_parent_results("a/b", &info))
            .expect_err("a MatchInfo of two patterns given to a matcher of one");
        let message = panic.downcast_ref::<String>().expect("a formatted message");
        assert_eq!(
            message,
            "MatchInfo from a matcher with 2 patterns used with one with 1"
        );
    }

    #[test]
    fn matcher_properties() {
        let matcher = self::matcher(&["", "  ", "\t"]);
        assert!(matcher.is_empty() && !matcher.exclusions());
        assert!(!matcher.matches_or_parent_matches("a"));
        let matcher = self::matcher(&["/a/", "!./b", " c ", "!d//e/"]);
        assert!(!matcher.is_empty() && matcher.exclusions());
        assert_eq!(
            matcher.patterns().collect::<Vec<_>>(),
            [("/a", false), ("./b", true), ("c", false), ("d/e", true)]
        );
    }

    #[test]
    fn trimming_build_files() {
        let trim = |patterns: &[&str], dockerfile: &str| {
            let patterns = patterns.iter().map(|&pattern| pattern.to_owned()).collect();
            trim_build_files_from_excludes(patterns, dockerfile).unwrap()
        };
        assert_eq!(trim(&[], "Dockerfile"), Vec::<String>::new());
        assert_eq!(
            trim(&["*"], "Dockerfile"),
            ["*", "!.dockerignore", "!Dockerfile"]
        );
        assert_eq!(
            trim(&[".dockerignore"], "Dockerfile"),
            [".dockerignore", "!.dockerignore"]
        );
        assert_eq!(
            trim(&["docker"], "docker/Dockerfile"),
            ["docker", "!docker/Dockerfile"]
        );
        assert_eq!(trim(&["**/*.md"], "Dockerfile"), ["**/*.md"]);
        assert_eq!(
            trim(&["*", "!Dockerfile"], "Dockerfile"),
            ["*", "!Dockerfile", "!.dockerignore"]
        );
        // The legacy check misses `**/b` for `b/Dockerfile`, as the CLI does.
        assert_eq!(trim(&["**/b"], "b/Dockerfile"), ["**/b"]);
        // The Dockerfile path is added as given.
        assert_eq!(
            trim(&["*"], "./Dockerfile"),
            ["*", "!.dockerignore", "!./Dockerfile"]
        );
        let error = trim_build_files_from_excludes(vec!["a[".to_owned()], "Dockerfile");
        assert!(matches!(error, Err(PatternError::Syntax { .. })));
    }

    #[test]
    fn descending_into_excluded_directories() {
        let matcher = self::matcher(&["a", "!a/*/c"]);
        assert!(matcher.dir_may_contain_reincluded("a"));
        assert!(!matcher.dir_may_contain_reincluded("a/b"));
        assert!(matcher.dir_may_contain_reincluded("a/*"));
        assert!(!self::matcher(&["**", "!**/keep"]).dir_may_contain_reincluded("a"));
        assert!(!self::matcher(&["*", "!*/keep"]).dir_may_contain_reincluded("a"));
        assert!(self::matcher(&["a", "!a"]).dir_may_contain_reincluded("a"));
        assert!(!self::matcher(&["ab", "!abc/d"]).dir_may_contain_reincluded("ab"));
        assert!(self::matcher(&["ab", "!ab/c/d"]).dir_may_contain_reincluded("ab/c"));
        assert!(!self::matcher(&["a", "a/b"]).dir_may_contain_reincluded("a"));
    }
}
