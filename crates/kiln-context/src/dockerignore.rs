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

use std::borrow::Cow;
use std::fmt::Write as _;

use regex::Regex;

/// The UTF-8 byte order mark that `ignorefile.ReadAll` strips from the start of the file.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Reads the contents of a `.dockerignore` file into its list of patterns, like the Docker CLI.
///
/// Lines end at `\n` and lose one trailing `\r`; a UTF-8 byte order mark is removed from the
/// first line. A line whose very first byte is `#` is a comment (`  # x` is the pattern `# x`).
/// Each line is trimmed of Unicode whitespace and skipped when empty. A leading `!` marks a
/// re-inclusion: it is kept, and the rest of the line is trimmed again. The pattern itself is
/// cleaned like Go's `filepath.Clean` (`a//b/./c/../d/` becomes `a/b/d`) and loses a leading
/// `/` when it is longer than one character. A lone `!` is kept as `!`, which
/// [`PatternMatcher::new`] rejects, as Docker does.
///
/// Invalid UTF-8 is replaced by U+FFFD.
pub fn parse_dockerignore(contents: &[u8]) -> Vec<String> {
    let mut patterns = Vec::new();
    for (index, mut line) in scan_lines(contents).enumerate() {
        if index == 0 {
            line = line.strip_prefix(UTF8_BOM).unwrap_or(line);
        }
        let line = String::from_utf8_lossy(line);
        if line.starts_with('#') {
            continue;
        }
        let mut pattern = line.trim();
        if pattern.is_empty() {
            continue;
        }
        let invert = pattern.starts_with('!');
        if invert {
            pattern = pattern[1..].trim();
        }
        let mut result = String::with_capacity(pattern.len() + 1);
        if invert {
            result.push('!');
        }
        if !pattern.is_empty() {
            let cleaned = clean(pattern);
            let cleaned = match cleaned.strip_prefix('/') {
                Some(rest) if !rest.is_empty() => rest,
                _ => &cleaned,
            };
            result.push_str(cleaned);
        }
        patterns.push(result);
    }
    patterns
}

/// Splits like Go's `bufio.ScanLines`: at each `\n`, without a final empty line, and with one
/// trailing `\r` dropped from every line.
fn scan_lines(contents: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = contents.strip_suffix(b"\n").unwrap_or(contents);
    let lines = (!contents.is_empty()).then(|| body.split(|&byte| byte == b'\n'));
    lines
        .into_iter()
        .flatten()
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
}

/// Go's `path.Clean`: the shortest equivalent path, by lexical processing only.
///
/// Borrows when the path is already clean, which is the common case in the hot path.
fn clean(path: &str) -> Cow<'_, str> {
    if is_clean(path) {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(clean_owned(path))
    }
}

/// A cheap sufficient test for `clean(path) == path`.
fn is_clean(path: &str) -> bool {
    if path == "/" || path == "." {
        return true;
    }
    if path.is_empty() || path.ends_with('/') {
        return false;
    }
    let body = path.strip_prefix('/').unwrap_or(path);
    body.split('/')
        .all(|element| !element.is_empty() && element != "." && element != "..")
}

/// The allocation-making half of [`clean`], following Go's algorithm step by step.
fn clean_owned(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let bytes = path.as_bytes();
    let len = bytes.len();
    let rooted = bytes[0] == b'/';
    let mut out = String::with_capacity(len);
    let mut read = 0;
    // Where a `..` may no longer remove anything: after the root, or after leading `..`s.
    let mut floor = 0;
    if rooted {
        out.push('/');
        read = 1;
        floor = 1;
    }
    while read < len {
        let rest = &bytes[read..];
        // An empty element or a `.` element.
        if rest[0] == b'/' || (rest[0] == b'.' && (rest.len() == 1 || rest[1] == b'/')) {
            read += 1;
        } else if rest.starts_with(b"..") && (rest.len() == 2 || rest[2] == b'/') {
            read += 2;
            if out.len() > floor {
                let mut end = out.len() - 1;
                while end > floor && out.as_bytes()[end] != b'/' {
                    end -= 1;
                }
                out.truncate(end);
            } else if !rooted {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str("..");
                floor = out.len();
            }
        } else {
            if (rooted && out.len() != 1) || (!rooted && !out.is_empty()) {
                out.push('/');
            }
            let element_len = rest
                .iter()
                .position(|&byte| byte == b'/')
                .unwrap_or(rest.len());
            out.push_str(&path[read..read + element_len]);
            read += element_len;
        }
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

/// Go's `filepath.Dir` for a slash-separated path: everything before the last element, cleaned.
fn dir(path: &str) -> Cow<'_, str> {
    match path.rfind('/') {
        None => Cow::Borrowed("."),
        Some(0) => Cow::Borrowed("/"),
        // Cleaning drops the trailing slash, so `Clean(path[..=i]) == Clean(path[..i])` here.
        Some(index) => clean(&path[..index]),
    }
}

/// The first `count` (at least 1) slash-separated elements of `path`, as Go's
/// `strings.Join(strings.Split(path, "/")[:count], "/")` (so `""` then `"/"` for `"/"`).
fn leading_elements(path: &str, count: usize) -> &str {
    match path.match_indices('/').nth(count.saturating_sub(1)) {
        Some((index, _)) => &path[..index],
        None => path,
    }
}

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

/// The four match types of Docker's compiler, plus a literal shortcut for regular expressions
/// that turned out to be plain text.
#[derive(Clone, Debug)]
enum MatchKind {
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
struct CompiledRegex {
    regex: Regex,
    prefix: Box<str>,
    suffix: Box<str>,
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
    /// leading `!` makes it a re-inclusion. Patterns usually come from [`parse_dockerignore`],
    /// possibly through [`trim_build_files_from_excludes`].
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

// ---------------------------------------------------------------------------------------------
// Syntax check: the errors Go's filepath.Match reports. The Go releases that build Docker CLI 28
// check the whole pattern whatever the name, so matching against "." is a pure syntax check.
// ---------------------------------------------------------------------------------------------

/// Checks `pattern` the way `filepath.Match(pattern, ".")` does, returning why it is invalid.
///
/// Note that Go does not check the order of a range's ends here (`[z-a]` passes); the regular
/// expression stage rejects it when it reaches Go's `regexp` as a range.
fn check_glob_syntax(pattern: &str) -> Result<(), &'static str> {
    let mut rest = pattern.as_bytes();
    while !rest.is_empty() {
        while let [b'*', tail @ ..] = rest {
            rest = tail;
        }
        let (chunk, tail) = split_chunk(rest);
        check_chunk(chunk)?;
        rest = tail;
    }
    Ok(())
}

/// Splits off the text up to the next `*` that is outside brackets (Go's `scanChunk`, whose
/// bracket tracking is simpler than the class parser's).
fn split_chunk(pattern: &[u8]) -> (&[u8], &[u8]) {
    let mut in_range = false;
    let mut index = 0;
    while index < pattern.len() {
        match pattern[index] {
            b'\\' if index + 1 < pattern.len() => index += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => break,
            _ => {}
        }
        index += 1;
    }
    pattern.split_at(index)
}

/// Checks one star-free chunk (Go's `matchChunk`, which keeps parsing after a mismatch).
fn check_chunk(mut chunk: &[u8]) -> Result<(), &'static str> {
    while let Some(&byte) = chunk.first() {
        match byte {
            b'[' => {
                chunk = &chunk[1..];
                if chunk.first() == Some(&b'^') {
                    chunk = &chunk[1..];
                }
                let mut items = 0;
                loop {
                    if chunk.first() == Some(&b']') && items > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    chunk = class_char(chunk, items == 0)?;
                    if chunk[0] == b'-' {
                        chunk = class_char(&chunk[1..], false)?;
                    }
                    items += 1;
                }
            }
            b'\\' => {
                if chunk.len() == 1 {
                    return Err("trailing backslash (it escapes nothing)");
                }
                chunk = &chunk[2..];
            }
            _ => chunk = &chunk[1..],
        }
    }
    Ok(())
}

const UNCLOSED_CLASS: &str = "unclosed character class";
const EMPTY_CLASS: &str =
    "empty character class (a ']' right after '[' or '[^' must be escaped as '\\]')";
const UNESCAPED_DASH: &str = "unescaped '-' in character class (escape it as '\\-')";
const RANGE_WITHOUT_END: &str = "character range without an upper end (escape the '-' as '\\-')";

/// Consumes one possibly escaped character of a class (Go's `getEsc`), requiring more text
/// after it, and returns the rest.
fn class_char(chunk: &[u8], first: bool) -> Result<&[u8], &'static str> {
    let mut chunk = match chunk.first() {
        None => return Err(UNCLOSED_CLASS),
        Some(b'-') => return Err(UNESCAPED_DASH),
        // After the first item a `]` closes the class, so here it can only end a range.
        Some(b']') if first => return Err(EMPTY_CLASS),
        Some(b']') => return Err(RANGE_WITHOUT_END),
        Some(b'\\') => &chunk[1..],
        Some(_) => chunk,
    };
    let Some(&lead) = chunk.first() else {
        return Err(UNCLOSED_CLASS);
    };
    chunk = &chunk[utf8_len(lead)..];
    if chunk.is_empty() {
        return Err(UNCLOSED_CLASS);
    }
    Ok(chunk)
}

/// The length of the UTF-8 sequence that starts with `lead` (the input is valid UTF-8).
fn utf8_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

// ---------------------------------------------------------------------------------------------
// Compilation: Docker's translation of a pattern into a match type and a Go regular expression.
// ---------------------------------------------------------------------------------------------

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
fn compile(text: &str) -> Result<MatchKind, (String, String)> {
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

// ---------------------------------------------------------------------------------------------
// Go RE2 syntax to `regex` syntax. Only what Docker's compiler can produce is reachable (raw
// `[`, `]`, `^`, `|`, `{` and `}` from the pattern, `\` followed by any character, and the fixed
// pieces it inserts), but that already includes Go-only meanings: in Go `[` inside a class is a
// literal (the `regex` crate nests classes), `\d`, `\s`, `\w`, `\b` are ASCII-only, `[[:alpha:]]`
// is a POSIX class, `{` is a literal unless it starts a valid count, and `\Q...\E` quotes.
// ---------------------------------------------------------------------------------------------

/// The result of translating a Go regular expression.
struct Translated {
    /// The expression in `regex` syntax.
    regex: String,
    /// Literal text every match starts with.
    prefix: String,
    /// Literal text every match ends with.
    suffix: String,
    /// The only text the expression matches, when it is anchored plain text.
    literal: Option<String>,
}

/// One element of the expression, as far as the literal prefix and suffix are concerned.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Piece {
    Begin,
    End,
    Char(char),
    Other,
}

/// What came last, for Go's rules on repetition operators.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Last {
    Nothing,
    Atom,
    Repeat,
}

struct Translator<'a> {
    source: &'a str,
    position: usize,
    out: String,
    pieces: Vec<Piece>,
    depth: usize,
    alternation: bool,
    last: Last,
    /// The counts of the `{n,m}` repetitions applied to the last atom, innermost first.
    counts: Vec<i64>,
}

/// Translates a Go regular expression (Perl flags, as `regexp.Compile` uses) into `regex`
/// syntax, with Go's error messages for what Go rejects.
fn translate_go_regex(source: &str) -> Result<Translated, String> {
    let mut translator = Translator {
        source,
        position: 0,
        out: String::with_capacity(source.len() * 2),
        pieces: Vec::with_capacity(source.len()),
        depth: 0,
        alternation: false,
        last: Last::Nothing,
        counts: Vec::new(),
    };
    translator.run()?;
    Ok(translator.finish())
}

impl Translator<'_> {
    fn rest(&self) -> &str {
        &self.source[self.position..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn next_char(&mut self) -> Option<char> {
        let ch = self.peek()?;
        self.position += ch.len_utf8();
        Some(ch)
    }

    fn piece(&mut self, piece: Piece) {
        self.counts.clear();
        self.pieces
            .push(if self.depth > 0 { Piece::Other } else { piece });
    }

    fn literal(&mut self, ch: char) {
        push_char(&mut self.out, ch);
        self.piece(Piece::Char(ch));
        self.last = Last::Atom;
    }

    fn run(&mut self) -> Result<(), String> {
        while let Some(ch) = self.peek() {
            match ch {
                '(' => {
                    if self.rest().starts_with("(?") {
                        return Err("unsupported group flags".to_owned());
                    }
                    self.position += 1;
                    self.out.push_str("(?:");
                    self.piece(Piece::Other);
                    self.depth += 1;
                    self.last = Last::Nothing;
                }
                ')' => {
                    if self.depth == 0 {
                        return Err("unexpected ): `)`".to_owned());
                    }
                    self.position += 1;
                    self.out.push(')');
                    self.depth -= 1;
                    self.piece(Piece::Other);
                    self.last = Last::Atom;
                }
                '|' => {
                    self.position += 1;
                    self.out.push('|');
                    self.alternation = true;
                    self.last = Last::Nothing;
                }
                '^' | '$' | '.' => {
                    self.position += 1;
                    self.out.push(ch);
                    self.piece(match ch {
                        '^' => Piece::Begin,
                        '$' => Piece::End,
                        _ => Piece::Other,
                    });
                    self.last = Last::Atom;
                }
                '[' => {
                    self.class()?;
                    self.piece(Piece::Other);
                    self.last = Last::Atom;
                }
                '*' | '+' | '?' => {
                    self.position += 1;
                    match self.last {
                        Last::Nothing => {
                            return Err(format!("missing argument to repetition operator: `{ch}`"));
                        }
                        Last::Repeat => {
                            return Err(format!("invalid nested repetition operator: `{ch}`"));
                        }
                        Last::Atom => {}
                    }
                    self.out.push(ch);
                    if self.peek() == Some('?') {
                        self.position += 1;
                        self.out.push('?');
                    }
                    if let Some(last) = self.pieces.last_mut() {
                        *last = Piece::Other;
                    }
                    self.last = Last::Repeat;
                }
                '{' => match parse_repeat(self.rest()) {
                    None => {
                        // Not a valid `{n}`, `{n,}` or `{n,m}`: Go takes the `{` literally.
                        self.position += 1;
                        self.literal('{');
                    }
                    Some(repeat) => self.counted_repeat(repeat)?,
                },
                '\\' => self.escape()?,
                _ => {
                    self.position += ch.len_utf8();
                    self.literal(ch);
                }
            }
        }
        if self.depth != 0 {
            return Err("missing closing ): `(`".to_owned());
        }
        Ok(())
    }

    /// Applies a parsed `{n}`, `{n,}` or `{n,m}` (Go's checks, in Go's order).
    fn counted_repeat(&mut self, repeat: Repeat) -> Result<(), String> {
        let spec = &self.source[self.position..self.position + repeat.len];
        let too_big = |max: Option<i64>| max.is_some_and(|max| max > 1000);
        if repeat.min < 0
            || repeat.min > 1000
            || too_big(repeat.max)
            || repeat.max.is_some_and(|max| repeat.min > max)
        {
            return Err(format!("invalid repeat count: `{spec}`"));
        }
        let spec = spec.to_owned();
        self.position += repeat.len;
        match self.last {
            Last::Repeat => return Err(format!("invalid nested repetition operator: `{spec}`")),
            Last::Nothing => {
                return Err(format!("missing argument to repetition operator: `{spec}`"));
            }
            Last::Atom => {}
        }
        // Go bounds the product of nested counts (reachable only through an empty `\Q\E`).
        let count = repeat.max.unwrap_or(repeat.min);
        if repeat.min >= 2 || repeat.max.is_some_and(|max| max >= 2) {
            let mut budget = 1000;
            for &inner in std::iter::once(&count).chain(self.counts.iter().rev()) {
                if inner == 0 {
                    break;
                }
                if inner > budget {
                    return Err(format!("invalid repeat count: `{spec}`"));
                }
                budget /= inner;
            }
        }
        self.counts.push(count);
        self.out.push_str(&spec);
        if self.peek() == Some('?') {
            self.position += 1;
            self.out.push('?');
        }
        if let Some(last) = self.pieces.last_mut() {
            *last = Piece::Other;
        }
        self.last = Last::Repeat;
        Ok(())
    }

    /// A backslash outside a class.
    fn escape(&mut self) -> Result<(), String> {
        let source = self.source;
        let rest = &source[self.position..];
        let Some(ch) = rest[1..].chars().next() else {
            return Err("trailing backslash at end of expression".to_owned());
        };
        let simple = match ch {
            'A' => Some(r"\A"),
            'z' => Some(r"\z"),
            'b' => Some(r"(?-u:\b)"),
            'B' => Some(r"(?-u:\B)"),
            _ => None,
        };
        if let Some(simple) = simple {
            self.position += 2;
            self.out.push_str(simple);
            self.piece(Piece::Other);
            self.last = Last::Atom;
            return Ok(());
        }
        match ch {
            'C' => Err(r"invalid escape sequence: `\C`".to_owned()),
            'Q' => {
                // `\Q...\E`: everything up to `\E` (or the end, `$` included) is literal.
                let quoted = &rest[2..];
                let (literal, consumed) = match quoted.find(r"\E") {
                    Some(end) => (&quoted[..end], 2 + end + 2),
                    None => (quoted, 2 + quoted.len()),
                };
                self.position += consumed;
                for ch in literal.chars() {
                    self.literal(ch);
                }
                // Go forgets the previous repetition even when nothing was quoted, so a
                // repetition may then apply to a repetition.
                if self.last == Last::Repeat {
                    self.last = Last::Atom;
                }
                Ok(())
            }
            'p' | 'P' => Err(UNICODE_CLASS.to_owned()),
            _ => {
                if let Some(ranges) = perl_class(&rest[..1 + ch.len_utf8()]) {
                    self.position += 2;
                    push_class(&mut self.out, false, &ranges);
                    self.piece(Piece::Other);
                    self.last = Last::Atom;
                    return Ok(());
                }
                match self.escaped_char()? {
                    Some(ch) => self.literal(ch),
                    None => {
                        self.out.push_str(NOTHING);
                        self.piece(Piece::Other);
                        self.last = Last::Atom;
                    }
                }
                Ok(())
            }
        }
    }

    /// Go's `parseEscape` at a backslash: the character it stands for, or `None` for a code
    /// point that is not a Unicode scalar value (which matches nothing).
    fn escaped_char(&mut self) -> Result<Option<char>, String> {
        let start = self.position;
        self.position += 1;
        let invalid = |this: &Self| {
            let end = this.position.min(this.source.len());
            format!("invalid escape sequence: `{}`", &this.source[start..end])
        };
        let Some(ch) = self.next_char() else {
            return Err("trailing backslash at end of expression".to_owned());
        };
        if ch.is_ascii() && !ch.is_ascii_alphanumeric() {
            return Ok(Some(ch));
        }
        let is_octal = |ch: Option<char>| matches!(ch, Some('0'..='7'));
        let value = match ch {
            '1'..='7' if !is_octal(self.peek()) => return Err(invalid(self)),
            '0'..='7' => {
                let mut value = ch as u32 - '0' as u32;
                for _ in 0..2 {
                    match self.peek() {
                        Some(digit @ '0'..='7') => {
                            self.position += 1;
                            value = value * 8 + (digit as u32 - '0' as u32);
                        }
                        _ => break,
                    }
                }
                value
            }
            'x' => {
                let Some(first) = self.next_char() else {
                    return Err(invalid(self));
                };
                if first == '{' {
                    let mut value: u32 = 0;
                    let mut digits = 0;
                    loop {
                        match self.next_char() {
                            Some('}') if digits > 0 => break,
                            Some(digit) if digit.is_ascii_hexdigit() => {
                                value = value * 16 + digit.to_digit(16).unwrap_or(0);
                                digits += 1;
                                if value > 0x10FFFF {
                                    return Err(invalid(self));
                                }
                            }
                            _ => return Err(invalid(self)),
                        }
                    }
                    value
                } else {
                    let second = self.next_char();
                    match (first.to_digit(16), second.and_then(|ch| ch.to_digit(16))) {
                        (Some(high), Some(low)) => high * 16 + low,
                        _ => return Err(invalid(self)),
                    }
                }
            }
            'a' => 0x07,
            'f' => 0x0C,
            'n' => 0x0A,
            'r' => 0x0D,
            't' => 0x09,
            'v' => 0x0B,
            _ => return Err(invalid(self)),
        };
        Ok(char::from_u32(value))
    }

    /// A character class, from its `[` (Go's `parseClass` with Perl flags).
    fn class(&mut self) -> Result<(), String> {
        let start = self.position;
        self.position += 1;
        let negated = self.peek() == Some('^');
        if negated {
            self.position += 1;
        }
        let missing = |this: &Self| format!("missing closing ]: `{}`", &this.source[start..]);
        let mut ranges: Vec<(u32, u32)> = Vec::new();
        let mut first = true;
        loop {
            let rest = self.rest();
            if rest.is_empty() {
                return Err(missing(self));
            }
            if rest.starts_with(']') && !first {
                self.position += 1;
                break;
            }
            first = false;
            // `[:name:]`; without a closing `:]` the `[` is a plain character.
            if let Some(end) = rest.strip_prefix("[:").and_then(|name| name.find(":]"))
                && rest.len() > 2
            {
                let name = &rest[..end + 4];
                let Some(group) = posix_class(name) else {
                    return Err(format!("invalid character class range: `{name}`"));
                };
                ranges.extend(group);
                self.position += name.len();
                continue;
            }
            if rest.starts_with(r"\p") || rest.starts_with(r"\P") {
                return Err(UNICODE_CLASS.to_owned());
            }
            if let Some(group) = rest.get(..2).and_then(perl_class) {
                ranges.extend(group);
                self.position += 2;
                continue;
            }
            let range_start = self.position;
            let low = self.class_item(&missing)?;
            let mut high = low;
            let rest = self.rest().as_bytes();
            if rest.len() >= 2 && rest[0] == b'-' && rest[1] != b']' {
                self.position += 1;
                high = self.class_item(&missing)?;
                if high < low {
                    return Err(format!(
                        "invalid character class range: `{}`",
                        &self.source[range_start..self.position]
                    ));
                }
            }
            ranges.push((low, high));
        }
        push_class(&mut self.out, negated, &ranges);
        Ok(())
    }

    /// One character of a class, possibly escaped, as a code point.
    fn class_item(&mut self, missing: &dyn Fn(&Self) -> String) -> Result<u32, String> {
        match self.peek() {
            None => Err(missing(self)),
            Some('\\') => Ok(self.escaped_char()?.map_or(0xD800, |ch| ch as u32)),
            Some(ch) => {
                self.position += ch.len_utf8();
                Ok(ch as u32)
            }
        }
    }

    fn finish(self) -> Translated {
        let mut prefix = String::new();
        let mut suffix = String::new();
        let mut literal = None;
        if !self.alternation {
            let pieces = &self.pieces;
            if pieces.first() == Some(&Piece::Begin) {
                prefix = pieces[1..]
                    .iter()
                    .map_while(|piece| match piece {
                        Piece::Char(ch) => Some(*ch),
                        _ => None,
                    })
                    .collect();
            }
            if pieces.last() == Some(&Piece::End) {
                let mut chars: Vec<char> = pieces[..pieces.len() - 1]
                    .iter()
                    .rev()
                    .map_while(|piece| match piece {
                        Piece::Char(ch) => Some(*ch),
                        _ => None,
                    })
                    .collect();
                chars.reverse();
                suffix = chars.into_iter().collect();
                if pieces.len() >= 2 && pieces.first() == Some(&Piece::Begin) {
                    let inner = &pieces[1..pieces.len() - 1];
                    if inner.iter().all(|piece| matches!(piece, Piece::Char(_))) {
                        literal = Some(suffix.clone());
                    }
                }
            }
        }
        Translated {
            regex: self.out,
            prefix,
            suffix,
            literal,
        }
    }
}

/// A counted repetition as Go's `parseRepeat` reads it.
struct Repeat {
    /// The minimum, or -1 when a number is too big.
    min: i64,
    /// The maximum, `None` for `{n,}`.
    max: Option<i64>,
    /// The length of the `{...}` text.
    len: usize,
}

/// Reads `{n}`, `{n,}` or `{n,m}` at the start of `text` like Go: decimal numbers without
/// leading zeros; anything else is not a repetition (and the `{` is a literal).
fn parse_repeat(text: &str) -> Option<Repeat> {
    let bytes = text.as_bytes();
    let mut index = 1;
    let number = |index: &mut usize| -> Option<i64> {
        let start = *index;
        while bytes.get(*index).is_some_and(u8::is_ascii_digit) {
            *index += 1;
        }
        let digits = &bytes[start..*index];
        if digits.is_empty() || (digits.len() >= 2 && digits[0] == b'0') {
            return None;
        }
        let mut value: i64 = 0;
        for &digit in digits {
            if value >= 100_000_000 {
                return Some(-1);
            }
            value = value * 10 + i64::from(digit - b'0');
        }
        Some(value)
    };
    if bytes.first() != Some(&b'{') {
        return None;
    }
    let mut min = number(&mut index)?;
    let max = match bytes.get(index)? {
        b',' => {
            index += 1;
            if *bytes.get(index)? == b'}' {
                None
            } else {
                let max = number(&mut index)?;
                if max < 0 {
                    min = -1;
                }
                Some(max)
            }
        }
        _ => Some(min),
    };
    if bytes.get(index) != Some(&b'}') {
        return None;
    }
    Some(Repeat {
        min,
        max,
        len: index + 1,
    })
}

const UNICODE_CLASS: &str =
    r"Unicode classes such as \pL are not supported (escape the letter after the backslash's p)";

/// A class that matches nothing (for an escaped code point that is not a scalar value).
const NOTHING: &str = r"[^\x{0}-\x{10FFFF}]";
/// A class that matches any character.
const ANYTHING: &str = r"[\x{0}-\x{10FFFF}]";

/// Writes `ch` as a literal in `regex` syntax.
fn push_char(out: &mut String, ch: char) {
    if ch.is_ascii_alphanumeric() || ch == '/' || ch == '_' {
        out.push(ch);
    } else {
        // Writing to a String cannot fail.
        let _ = write!(out, "\\x{{{:X}}}", ch as u32);
    }
}

/// Writes a class of code point ranges in `regex` syntax, leaving out surrogates (which no
/// `&str` holds).
fn push_class(out: &mut String, negated: bool, ranges: &[(u32, u32)]) {
    let start = out.len();
    out.push('[');
    if negated {
        out.push('^');
    }
    let mut empty = true;
    for &(low, high) in ranges {
        for (low, high) in [(low, high.min(0xD7FF)), (low.max(0xE000), high)] {
            if low <= high {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\x{{{low:X}}}-\\x{{{high:X}}}");
                empty = false;
            }
        }
    }
    if empty {
        out.truncate(start);
        out.push_str(if negated { ANYTHING } else { NOTHING });
    } else {
        out.push(']');
    }
}

/// The code point ranges outside `ranges` (which are ASCII and sorted here).
fn complement(ranges: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let mut sorted = ranges.to_vec();
    sorted.sort_unstable();
    let mut out = Vec::with_capacity(sorted.len() + 1);
    let mut next = 0;
    for (low, high) in sorted {
        if low > next {
            out.push((next, low - 1));
        }
        next = next.max(high + 1);
    }
    if next <= 0x10FFFF {
        out.push((next, 0x10FFFF));
    }
    out
}

/// Go's Perl classes, which are ASCII-only (`\s` leaves out `\v`).
fn perl_class(escape: &str) -> Option<Vec<(u32, u32)>> {
    let (positive, negated): (&[(u32, u32)], bool) = match escape {
        r"\d" => (DIGIT, false),
        r"\D" => (DIGIT, true),
        r"\s" => (PERL_SPACE, false),
        r"\S" => (PERL_SPACE, true),
        r"\w" => (WORD, false),
        r"\W" => (WORD, true),
        _ => return None,
    };
    Some(if negated {
        complement(positive)
    } else {
        positive.to_vec()
    })
}

const DIGIT: &[(u32, u32)] = &[(0x30, 0x39)];
const PERL_SPACE: &[(u32, u32)] = &[(0x09, 0x0A), (0x0C, 0x0D), (0x20, 0x20)];
const WORD: &[(u32, u32)] = &[(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)];

/// Go's POSIX classes, `[:name:]` or `[:^name:]`, all ASCII.
fn posix_class(name: &str) -> Option<Vec<(u32, u32)>> {
    let (negated, bare) = match name.strip_prefix("[:^") {
        Some(rest) => (true, rest),
        None => (false, &name[2..]),
    };
    let ranges: &[(u32, u32)] = match bare.strip_suffix(":]")? {
        "alnum" => &[(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)],
        "alpha" => &[(0x41, 0x5A), (0x61, 0x7A)],
        "ascii" => &[(0x00, 0x7F)],
        "blank" => &[(0x09, 0x09), (0x20, 0x20)],
        "cntrl" => &[(0x00, 0x1F), (0x7F, 0x7F)],
        "digit" => DIGIT,
        "graph" => &[(0x21, 0x7E)],
        "lower" => &[(0x61, 0x7A)],
        "print" => &[(0x20, 0x7E)],
        "punct" => &[(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)],
        "space" => &[(0x09, 0x0D), (0x20, 0x20)],
        "upper" => &[(0x41, 0x5A)],
        "word" => WORD,
        "xdigit" => &[(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)],
        _ => return None,
    };
    Some(if negated {
        complement(ranges)
    } else {
        ranges.to_vec()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(patterns: &[&str]) -> PatternMatcher {
        PatternMatcher::new(patterns)
            .unwrap_or_else(|error| panic!("patterns {patterns:?} rejected: {error}"))
    }

    /// What Docker's walker decides for `path`: the parents are matched first, each handing its
    /// MatchInfo to the next, as the walk does.
    fn walked(matcher: &PatternMatcher, path: &str) -> bool {
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
    fn check(patterns: &[&str], path: &str, expected: bool) {
        let matcher = matcher(patterns);
        let what = format!("patterns {patterns:?}, path {path:?}");
        assert_eq!(matcher.matches_or_parent_matches(path), expected, "{what}");
        let no_info = matcher.matches_using_parent_results(path, &MatchInfo::default());
        assert_eq!(no_info.0, expected, "{what} (no MatchInfo)");
        if patterns.len() == 1 {
            assert_eq!(walked(&matcher, path), expected, "{what} (walk)");
        }
    }

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

    #[track_caller]
    fn check_file(contents: &[u8], expected: &[&str]) {
        assert_eq!(
            parse_dockerignore(contents),
            expected,
            "{:?}",
            String::from_utf8_lossy(contents)
        );
    }

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
    fn character_classes() {
        check(&["a[b-d]e"], "ace", true);
        check(&["a[b-d]e"], "aae", false);
        check(&["a[b-d]e"], "ae", false);
        check(&["a[^b-d]e"], "aze", true);
        check(&["a[^b-d]e"], "ace", false);
        check(&["a[^a]b"], "a☺b", true);
        check(&["[a-ζ]*"], "α", true);
        check(&["[\\]a]"], "]", true);
        check(&["[\\-x]"], "-", true);
        check(&["[x\\-]"], "z", false);
        // `!` does not negate a class in Go's syntax.
        check(&["[!a]"], "!", true);
        check(&["[!a]"], "b", false);
    }

    #[test]
    fn classes_follow_go_regexp_not_the_glob() {
        // Docker copies `[...]` into the regular expression, where `[?]` becomes `[[^/]]`: the
        // class `[`, `^`, `/` followed by a literal `]`.
        check(&["[?]"], "[]", true);
        check(&["[?]"], "^]", true);
        check(&["[?]"], "a", false);
        check(&["[*]"], "]", true);
        check(&["[*]"], "[[^]", true);
        check(&["[*]"], "*", false);
        // POSIX classes exist in Go's regexp.
        check(&["[[:digit:]]"], "7", true);
        check(&["[[:digit:]]"], ":", false);
        // `[?-!]` passes Go's syntax check (ranges are not ordered there) and the regular
        // expression has no range.
        check(&["[?-!]"], "[-!]", true);
    }

    #[test]
    fn escapes() {
        check(&["\\*"], "*", true);
        check(&["\\*"], "a", false);
        check(&["\\[a]"], "[a]", true);
        check(&["\\[a]"], "a", false);
        check(&["a\\*b"], "a*b", true);
        check(&["a\\*b"], "axb", false);
        check(&["a\\\\"], "a\\", true);
        // An escaped letter reaches Go's regexp as an escape: `\d` is a digit.
        check(&["a\\d"], "a1", true);
        check(&["a\\d"], "ad", false);
    }

    #[test]
    fn regex_quirks() {
        // `|` is not escaped by Docker: this is `^[^/]*\.js` or `[^/]*\.map$`.
        check(&["*.js|*.map"], "a.json", true);
        check(&["*.js|*.map"], "x/y.map", true);
        check(&["*.js|*.map"], "b.css", false);
        // Nor are `{` and `}`: a count when valid, a literal otherwise.
        check(&["x{2}*"], "xx", true);
        check(&["x{2}*"], "x{2}", false);
        check(&["x{2}"], "x{2}", true);
        check(&["x{,2}*"], "x{,2}", true);
        // `^` is an anchor in the middle of a regular expression.
        check(&["a^*"], "a^b", false);
        check(&["a^b"], "a^b", true);
        // Go's text/scanner skips a byte order mark at the start of the pattern.
        check(&["\u{FEFF}*.go"], "a.go", true);
        check(&["\u{FEFF}a"], "a", false);
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
    #[should_panic(expected = "MatchInfo from a matcher with 2 patterns")]
    fn match_info_from_another_matcher_panics() {
        let (_, info) =
            matcher(&["a", "b"]).matches_using_parent_results("a", &MatchInfo::default());
        let _ = matcher(&["a"]).matches_using_parent_results("a/b", &info);
    }

    #[test]
    fn reading_the_file() {
        check_file(b"", &[]);
        check_file(b"a\nb", &["a", "b"]);
        check_file(b"# comment\n #not a comment\n", &["#not a comment"]);
        check_file(b"a\r\nb\r\n", &["a", "b"]);
        check_file(b"a\r\r\n", &["a"]);
        check_file("\u{FEFF}a\n\u{FEFF}b".as_bytes(), &["a", "\u{FEFF}b"]);
        check_file("\u{FEFF}# comment\nx".as_bytes(), &["x"]);
        check_file(b"a  \n\t b \t\n\n   \n", &["a", "b"]);
        check_file("\u{a0}a\u{3000}".as_bytes(), &["a"]);
        check_file(b"! a\n!  /a/\n", &["!a", "!a"]);
        check_file(b"/a\n/\n//\n/a/b/", &["a", "/", "/", "a/b"]);
        check_file(
            b"./a\na/../b\na/..\n..\na//b/\n../a",
            &["a", "b", ".", "..", "a/b", "../a"],
        );
        check_file(b"!\n! \n", &["!", "!"]);
        check_file(b"a\xffb", &["a\u{FFFD}b"]);
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

    #[test]
    fn cleaning_like_go() {
        for (path, cleaned) in [
            ("", "."),
            (".", "."),
            ("/", "/"),
            ("a/", "a"),
            ("a//b", "a/b"),
            ("./a/./b/", "a/b"),
            ("a/../..", ".."),
            ("../../a", "../../a"),
            ("/../a", "/a"),
            ("a/b/../../..", ".."),
            ("//a//", "/a"),
        ] {
            assert_eq!(clean(path), cleaned, "{path:?}");
        }
        for (path, parent) in [
            ("a", "."),
            ("/a", "/"),
            ("a/b", "a"),
            ("a//b", "a"),
            ("./a", "."),
        ] {
            assert_eq!(dir(path), parent, "{path:?}");
        }
    }
}
