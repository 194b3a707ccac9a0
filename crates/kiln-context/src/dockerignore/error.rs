//! [`PatternError`], the error for a `.dockerignore` pattern that Docker would reject.

/// A `.dockerignore` pattern that Docker would reject.
#[derive(Debug, thiserror::Error)]
pub enum PatternError {
    /// A pattern that is only `!` (Docker: `illegal exclusion pattern: "!"`).
    #[error(
        "invalid .dockerignore pattern \"{pattern}\": illegal exclusion pattern: \"!\" must be \
         followed by a pattern"
    )]
    LoneExclamation {
        /// The pattern as given, trimmed.
        pattern: String,
    },
    /// A pattern that Go's `filepath.Match` rejects with `ErrBadPattern`.
    #[error("invalid .dockerignore pattern \"{pattern}\": {reason}")]
    Syntax {
        /// The pattern as given, trimmed.
        pattern: String,
        /// What is wrong, e.g. "unclosed character class".
        reason: &'static str,
    },
    /// A pattern that passes the `filepath.Match` check but whose regular expression Go's
    /// `regexp` rejects (e.g. the reversed range in `[z-a]`), or that uses a construct this
    /// module cannot rebuild. Docker fails on such a pattern when it first uses it; this module
    /// fails when the matcher is built.
    #[error(
        "invalid .dockerignore pattern \"{pattern}\": {reason} (in the regular expression \
         {regex:?} that Docker derives from it)"
    )]
    Regex {
        /// The pattern as given, trimmed.
        pattern: String,
        /// The Go regular expression Docker compiles for the pattern.
        regex: String,
        /// What is wrong with it.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerignore::{PatternMatcher, parse_dockerignore};

    #[track_caller]
    fn check_invalid(pattern: &str, message: &str) {
        match PatternMatcher::new(&[pattern]) {
            Ok(matcher) => panic!("{pattern:?} accepted: {matcher:?}"),
            Err(error) => {
                let text = error.to_string();
                assert!(text.contains(message), "{pattern:?}: {text}");
                assert!(
                    text.starts_with(&format!(
                        "invalid .dockerignore pattern \"{}\"",
                        pattern.trim()
                    )),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn lone_exclamation_is_rejected() {
        let patterns = parse_dockerignore(b"a\n!\n");
        let error = PatternMatcher::new(&patterns).unwrap_err();
        assert!(
            matches!(error, PatternError::LoneExclamation { .. }),
            "{error}"
        );
        check_invalid("  !  ", "illegal exclusion pattern");
    }

    #[test]
    fn invalid_patterns() {
        check_invalid("a[", "unclosed character class");
        check_invalid("[", "unclosed character class");
        check_invalid("[^bc", "unclosed character class");
        check_invalid("[a-b", "unclosed character class");
        check_invalid("[\\", "unclosed character class");
        check_invalid("[]", "empty character class");
        check_invalid("[^]", "empty character class");
        check_invalid("[]a]", "empty character class");
        check_invalid("[-a]", "unescaped '-'");
        check_invalid("[a-b-c]", "unescaped '-'");
        check_invalid("[a-]", "character range without an upper end");
        check_invalid("a\\", "trailing backslash");
        check_invalid("!x/a\\", "trailing backslash");
        check_invalid("*/[", "unclosed character class");
        // Go's syntax check accepts these; Go's regexp rejects them when Docker first uses the
        // pattern, and this matcher when it is built.
        check_invalid("[z-a]", "invalid character class range");
        check_invalid("[Local-Only]/", "invalid character class range");
        check_invalid("a\\e", "invalid escape sequence");
        check_invalid("a\\é", "invalid escape sequence");
        check_invalid("x{1001}*", "invalid repeat count");
        check_invalid("\\pL", "Unicode classes");
        let error = PatternMatcher::new(&["ok", "a["]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid .dockerignore pattern \"a[\": unclosed character class"
        );
    }
}
