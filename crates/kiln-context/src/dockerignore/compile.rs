//! Docker's compiler: a checked pattern becomes an exact, prefix, suffix or regular expression
//! match, through the same Go regular expression Docker derives from it.

use regex::Regex;

use super::go_regex::translate_go_regex;

/// The four match types of Docker's compiler, plus a literal shortcut for regular expressions
/// that turned out to be plain text.
#[derive(Clone, Debug)]
pub(super) enum MatchKind {
    /// The path equals the pattern text.
    Exact,
    /// The path starts with the pattern text minus its trailing `**`.
    Prefix,
    /// The path ends with the pattern text minus its (byte-wise) first two bytes, or equals
    /// that suffix minus a leading `/`.
    Suffix,
    /// A regular expression whose only possible match is this text (e.g. from `\*.txt`).
    Literal(Box<str>),
    /// A regular expression.
    Regex(Box<CompiledRegex>),
}

/// A regular expression with literal text that every match must start and end with, checked
/// first because it is much cheaper than the regular expression.
#[derive(Clone, Debug)]
pub(super) struct CompiledRegex {
    pub(super) regex: Regex,
    pub(super) prefix: Box<str>,
    pub(super) suffix: Box<str>,
}

/// What Docker's compiler decided so far.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Detected {
    Exact,
    Prefix,
    Suffix,
    Regex,
}

/// Compiles a checked pattern (cleaned, without `!`) into its match type. On failure returns
/// the Go regular expression and what is wrong with it.
pub(super) fn compile(text: &str) -> Result<MatchKind, (String, String)> {
    let mut go_regex = String::with_capacity(text.len() * 2 + 2);
    go_regex.push('^');
    let mut detected = Detected::Exact;
    // Docker reads the pattern with Go's text/scanner, which skips a byte order mark at the
    // very start; the exact, prefix and suffix matches still use the full text.
    let body = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut chars = body.chars().peekable();
    let mut position = 0;
    while let Some(ch) = chars.next() {
        match ch {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                if chars.peek() == Some(&'/') {
                    chars.next();
                }
                if chars.peek().is_none() {
                    if detected == Detected::Exact {
                        detected = Detected::Prefix;
                    } else {
                        go_regex.push_str(".*");
                        detected = Detected::Regex;
                    }
                } else {
                    go_regex.push_str("(.*/)?");
                    detected = Detected::Regex;
                }
                if position == 0 {
                    detected = Detected::Suffix;
                }
            }
            '*' => {
                go_regex.push_str("[^/]*");
                detected = Detected::Regex;
            }
            '?' => {
                go_regex.push_str("[^/]");
                detected = Detected::Regex;
            }
            // Docker means to escape `.+()|{}$`, but its lookup table only has room for
            // characters below 64, so `|`, `{` and `}` reach Go's regexp unescaped (and
            // `*.js|*.map` is an alternation there).
            '.' | '+' | '(' | ')' | '$' => {
                go_regex.push('\\');
                go_regex.push(ch);
            }
            '\\' => match chars.next() {
                Some(escaped) => {
                    go_regex.push('\\');
                    go_regex.push(escaped);
                    detected = Detected::Regex;
                }
                None => go_regex.push('\\'),
            },
            '[' | ']' => {
                go_regex.push(ch);
                detected = Detected::Regex;
            }
            _ => go_regex.push(ch),
        }
        position += 1;
    }
    Ok(match detected {
        Detected::Exact => MatchKind::Exact,
        Detected::Prefix => MatchKind::Prefix,
        Detected::Suffix => MatchKind::Suffix,
        Detected::Regex => {
            go_regex.push('$');
            let translated = match translate_go_regex(&go_regex) {
                Ok(translated) => translated,
                Err(reason) => return Err((go_regex, reason)),
            };
            match translated.literal {
                Some(literal) => MatchKind::Literal(literal.into()),
                None => {
                    let regex = Regex::new(&translated.regex)
                        .map_err(|error| (go_regex.clone(), error.to_string()))?;
                    MatchKind::Regex(Box::new(CompiledRegex {
                        regex,
                        prefix: translated.prefix.into(),
                        suffix: translated.suffix.into(),
                    }))
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerignore::test_support::check;

    #[track_caller]
    fn check_kind(pattern: &str, expected: &str) {
        let kind = match compile(pattern) {
            Ok(MatchKind::Exact) => "exact",
            Ok(MatchKind::Prefix) => "prefix",
            Ok(MatchKind::Suffix) => "suffix",
            Ok(MatchKind::Literal(_)) => "literal",
            Ok(MatchKind::Regex(_)) => "regex",
            Err(error) => panic!("{pattern:?}: {error:?}"),
        };
        assert_eq!(kind, expected, "{pattern:?}");
    }

    #[test]
    fn exact_matches() {
        check(&["foo"], "foo", true);
        check(&["foo"], "foobar", false);
        check(&["foo"], "xfoo", false);
        check(&["foo"], "foo/bar", true);
        check(&["a/b"], "a/b/c/d", true);
        check(&["a/b"], "a/bc", false);
        check(&["a.b"], "aXb", false);
        check(&["a.b"], "a.b", true);
        check(&["a(b)c/d+e$"], "a(b)c/d+e$", true);
        // A matcher built directly does not drop a leading slash (only the file reader does).
        check(&["/a"], "a", false);
        check(&["/a"], "/a", true);
    }

    #[test]
    fn prefix_matches() {
        check(&["dir/**"], "dir/file", true);
        check(&["dir/**"], "dir/a/b/c", true);
        check(&["dir/**"], "dir", false);
        check(&["dir/**"], "dirt/x", false);
        check(&["foo**"], "foobar", true);
        check(&["foo**"], "foo", true);
        check(&["a.b/**"], "a.b/c", true);
        check(&["a.b/**"], "aXb/c", false);
    }

    #[test]
    fn suffix_matches() {
        check(&["**"], "anything/at/all", true);
        check(&["**/"], "file", true);
        check(&["**/foo"], "foo", true);
        check(&["**/foo"], "a/b/foo", true);
        check(&["**/foo"], "a/foo/bar", true);
        check(&["**/foo"], "afoo", false);
        check(&["**/foo"], "foo.txt", false);
        // `**foo` is a plain suffix: it matches inside a name.
        check(&["**foo"], "barfoo", true);
        check(&["**foo"], "a/barfoo", true);
        check(&["**/.foo"], "bar.foo", false);
        check(&["**/.foo"], ".foo", true);
        check(&["**/foo/bar"], "x/y/foo/bar", true);
        check(&["**/foo/bar"], "foo/bar", true);
        check(&["**/foo/bar"], "xfoo/bar", false);
        check(&["**foo/bar"], "xfoo/bar", true);
    }

    #[test]
    fn regex_matches() {
        check(&["*.go"], "main.go", true);
        check(&["*.go"], "cmd/main.go", false);
        check(&["*"], "a", true);
        check(&["*"], "a/b", true);
        check(&["**/*.go"], "main.go", true);
        check(&["**/*.go"], "cmd/x/main.go", true);
        check(&["**/*.go"], "main.gox", false);
        check(&["a/**/b"], "a/b", true);
        check(&["a/**/b"], "a/x/y/b", true);
        check(&["a/**/b"], "ab", false);
        check(&["a/**/b"], "a/xb", false);
        check(&["a**/*.txt"], "a/dir/file.txt", true);
        check(&["a/*.txt**"], "a/file.txt", true);
        check(&["**/**"], "x/y", true);
        check(&["**/dir2/*"], "dir/dir2/file", true);
        check(&["**/dir2/*"], "dir2/file/x", true);
        check(&["abc?def"], "abcZdef", true);
        check(&["abc?def"], "abcdef", false);
        check(&["abc?def"], "abc/def", false);
        check(&["a?b"], "a☺b", true);
        check(&["a*b"], "a/b", false);
        check(&[".*"], ".foo", true);
        check(&[".*"], "foo", false);
        check(
            &["dist/*.whl"],
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            true,
        );
    }

    #[test]
    fn match_types() {
        check_kind("*", "regex");
        check_kind("**", "suffix");
        check_kind("**/**", "regex");
        check_kind("dir/**", "prefix");
        check_kind("**/dir", "suffix");
        check_kind("**/dir2/*", "regex");
        check_kind("**/dir2/**", "regex");
        check_kind("**file", "suffix");
        check_kind("**/**/*.txt", "regex");
        check_kind("a[b-d]e", "regex");
        check_kind("abc.def", "exact");
        check_kind("a(b)c/def", "exact");
        check_kind("a.|)$(}+{bc", "exact");
        check_kind("\\*.txt", "literal");
        check_kind("a\\", "exact");
    }
}
