//! Reading a Dockerfile's instructions: parser directives, comments, line continuations and
//! heredocs.
//!
//! This is not a full Dockerfile parser; it splits the file into logical instructions with the
//! lines they are written on, which is what kiln needs to find `ARG` declarations, `FROM` lines
//! and builder-specific features (see [`crate::features`]). It follows the rules of BuildKit's
//! Dockerfile parser (`frontend/dockerfile/parser`), which the classic builder shares:
//!
//! - parser directives (`# syntax=`, `# escape=`, `# check=`) are `# key=value` lines at the top
//!   of the file; the first line that is not one — a blank line, another comment, an unknown key,
//!   an instruction — ends them, and later `# syntax=` lines are plain comments. A repeated
//!   directive is an error for BuildKit; here the first one wins;
//! - a line ending with the escape character (`\`, or `` ` `` after `# escape=`` ` ``), possibly
//!   followed by blanks, continues on the next line, unless the escape character is itself
//!   escaped (`\\`). Comment lines and blank lines inside a continuation are skipped;
//! - heredocs: once the logical line of a `RUN`, `COPY` or `ADD` (also as the trigger of an
//!   `ONBUILD`) in shell form is complete, every word of it that is a heredoc opening starts a
//!   body on the following lines, one after the other, each up to a line that is exactly its
//!   delimiter. See [`Heredoc`] for the exact rule.

mod check;

use std::collections::BTreeMap;
use std::ops::Range;

pub use check::{INSTRUCTIONS, Problem};

/// One logical instruction: continuation lines joined, comments inside it dropped, heredoc
/// bodies attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// 1-based line number where the instruction starts.
    pub line: usize,
    /// The instruction keyword, uppercased (`RUN`, `FROM`, ...).
    pub keyword: String,
    /// Everything after the keyword, continuation lines trimmed and joined with a space. Heredoc
    /// bodies are not part of it (they are in [`Instruction::heredocs`]).
    pub arguments: String,
    /// The heredocs the instruction opens, in order, with their bodies.
    pub heredocs: Vec<Heredoc>,
    /// The physical lines the instruction line is written on (comment and blank lines inside a
    /// continuation left out, heredoc bodies left out), each with its text as BuildKit joins it.
    /// This is what lets a flag or a variable be traced back to its own line.
    pub source: Vec<SourceLine>,
}

/// One physical line's share of an instruction line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLine {
    /// 1-based line number.
    pub line: usize,
    /// The line without its line ending and without a trailing continuation escape (and the
    /// blanks after it); on the instruction's first line, leading whitespace is removed too.
    /// BuildKit's logical line is these texts concatenated with nothing in between.
    pub text: String,
}

/// A heredoc (`<<EOF` … `EOF`) opened by a `RUN`, `COPY` or `ADD` instruction.
///
/// BuildKit's rule, followed here: after continuation lines are joined, the instruction line is
/// split into words the way its shell lexer does (blanks separate words; `'…'`, `"…"` and
/// backslash escapes keep blanks inside a word; the escape directive does not change this). A
/// word is a heredoc opening when it matches `^[0-9]*<<-?[^<]+$` — so it must *start* with `<<`
/// (a file-descriptor number like `3<<EOF` is allowed): `cat a<<b`, `"<<EOF"` and `<<<word` open
/// nothing, and `RUN python3 <<EOF` does. The delimiter is the rest of the word with quotes
/// removed (`<<"EOF"`, `<<'EOF'` and `<<E"O"F` all end at `EOF`). `ENV`, `LABEL` and every other
/// instruction never open heredocs, nor does the JSON (exec) form `RUN ["sh", "<<EOF"]`.
///
/// The body is every following line up to the first line that equals the delimiter exactly
/// (after removing the line ending; for `<<-`, after removing leading tabs) — a line that merely
/// contains the delimiter, or has blanks around it, does not end it. Several heredocs on one
/// instruction take their bodies one after the other. BuildKit rejects a heredoc that is never
/// terminated; here its body runs to the end of the file and [`Heredoc::terminated`] is false.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter, quotes removed (`EOF` for `<<-"EOF"`).
    pub delimiter: String,
    /// 1-based line where the opening (`<<EOF`) is written.
    pub line: usize,
    /// The body, line endings included, without the terminator line. For `<<-`, leading tabs
    /// are removed from every line, as BuildKit does before using it.
    pub body: String,
    /// 1-based line of the body's first line (the line after the instruction line, or after the
    /// previous heredoc's terminator).
    pub body_line: usize,
    /// `<<-`: leading tabs are stripped from the body and the terminator.
    pub strip_tabs: bool,
    /// The delimiter was quoted (`<<'EOF'`, `<<"EOF"`): the body is not expanded.
    pub quoted: bool,
    /// A terminator line was found (BuildKit fails on an unterminated heredoc).
    pub terminated: bool,
}

/// A builder flag of an instruction (`--mount=type=cache,target=/x`), as BuildKit reads them:
/// the words right after the keyword that start with `--`, up to the first word that does not
/// (or a bare `--`). Quotes and backslashes inside a flag word are removed from its value, and a
/// value is only ever given with `=`: in `RUN --mount type=cache …`, `--mount` has no value and
/// `type=cache …` is the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstructionFlag {
    /// 1-based line where the flag starts (a continuation line if it is written there).
    pub line: usize,
    /// The name without `--` (`mount`). BuildKit matches flag names case-sensitively.
    pub name: String,
    /// The value after `=`, unquoted, if there is one.
    pub value: Option<String>,
    /// The flag as written, e.g. `--mount=type=cache,target=/root/.cache`.
    pub text: String,
}

/// Parser directives found at the top of the file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Directives {
    /// `# syntax=...`, if present.
    pub syntax: Option<String>,
    /// 1-based line of the `# syntax=` directive, if present.
    pub syntax_line: Option<usize>,
    /// The escape character (`\` unless `# escape=` says otherwise).
    pub escape: Option<char>,
}

/// A Dockerfile split into directives and instructions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dockerfile {
    /// Parser directives.
    pub directives: Directives,
    /// Instructions in order.
    pub instructions: Vec<Instruction>,
}

impl Dockerfile {
    /// Splits `text` into directives and logical instructions.
    pub fn parse(text: &str) -> Dockerfile {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let mut directives = Directives::default();
        let mut next = 0;

        // Directives: `# key=value` lines before anything else; the first other line ends them.
        while let Some(line) = lines.get(next) {
            let Some((key, value)) = directive(line) else {
                break;
            };
            match key.as_str() {
                "syntax" if directives.syntax.is_none() => {
                    directives.syntax = Some(value);
                    directives.syntax_line = Some(next + 1);
                }
                "escape" if directives.escape.is_none() => {
                    directives.escape = value.chars().next().filter(|c| matches!(c, '\\' | '`'));
                }
                "syntax" | "escape" | "check" => {}
                _ => break,
            }
            next += 1;
        }
        let escape = directives.escape.unwrap_or('\\');

        let mut instructions = Vec::new();
        while let Some(raw) = lines.get(next) {
            next += 1;
            let first = without_line_ending(raw).trim_start();
            if first.is_empty() || first.starts_with('#') {
                continue;
            }
            let (text, mut continues) = continuation(first, escape);
            let mut source = vec![SourceLine {
                line: next,
                text: text.to_owned(),
            }];
            while continues && let Some(raw) = lines.get(next) {
                next += 1;
                let content = without_line_ending(raw);
                let trimmed = content.trim_start();
                if trimmed.is_empty() || trimmed.starts_with('#') {
                    continue;
                }
                let (text, more) = continuation(content, escape);
                source.push(SourceLine {
                    line: next,
                    text: text.to_owned(),
                });
                continues = more;
            }
            let Some(mut instruction) = instruction(source) else {
                continue;
            };
            for opening in heredoc_openings(&instruction) {
                let heredoc = read_heredoc(opening, &lines, &mut next);
                instruction.heredocs.push(heredoc);
            }
            instructions.push(instruction);
        }
        Dockerfile {
            directives,
            instructions,
        }
    }

    /// Names declared by `ARG` instructions anywhere in the file.
    pub fn declared_args(&self) -> Vec<String> {
        let mut names = Vec::new();
        for instruction in self.instructions.iter().filter(|i| i.keyword == "ARG") {
            for declaration in instruction.arguments.split_whitespace() {
                let name = declaration.split('=').next().unwrap_or_default();
                if !name.is_empty() && !names.iter().any(|known| known == name) {
                    names.push(name.to_owned());
                }
            }
        }
        names
    }
}

impl Dockerfile {
    /// The images named by `FROM` lines that the builder would look up: `ARG`s declared before
    /// the first `FROM` are substituted (their defaults, overridden by `build_args`), flags such
    /// as `--platform` are skipped, and `scratch` and earlier stages (`AS name`) are left out.
    /// Each image appears once, in order.
    pub fn base_images(&self, build_args: &BTreeMap<String, String>) -> Vec<String> {
        self.base_image_lines(build_args)
            .into_iter()
            .map(|(image, _)| image)
            .collect()
    }

    /// [`Dockerfile::base_images`], each with the 1-based line of the first `FROM` naming it.
    pub fn base_image_lines(&self, build_args: &BTreeMap<String, String>) -> Vec<(String, usize)> {
        let mut globals: BTreeMap<String, String> = BTreeMap::new();
        let mut stages: Vec<String> = Vec::new();
        let mut images: Vec<(String, usize)> = Vec::new();
        let mut seen_from = false;
        for instruction in &self.instructions {
            match instruction.keyword.as_str() {
                "ARG" if !seen_from => {
                    for declaration in instruction.arguments.split_whitespace() {
                        let (name, default) = match declaration.split_once('=') {
                            Some((name, default)) => (name, Some(unquote(default))),
                            None => (declaration, None),
                        };
                        let value = match (build_args.get(name), default) {
                            (Some(given), _) => given.clone(),
                            (None, Some(default)) => substitute(&default, &globals),
                            (None, None) => String::new(),
                        };
                        globals.insert(name.to_owned(), value);
                    }
                }
                "FROM" => {
                    seen_from = true;
                    let mut words = instruction
                        .arguments
                        .split_whitespace()
                        .filter(|word| !word.starts_with("--"));
                    let Some(image) = words.next() else { continue };
                    let image = substitute(image, &globals);
                    let lowered = image.to_ascii_lowercase();
                    let is_stage = stages.contains(&lowered);
                    if let (Some(keyword), Some(stage)) = (words.next(), words.next())
                        && keyword.eq_ignore_ascii_case("as")
                    {
                        stages.push(stage.to_ascii_lowercase());
                    }
                    if lowered == "scratch" || is_stage || images.iter().any(|(i, _)| *i == image) {
                        continue;
                    }
                    images.push((image, instruction.line));
                }
                _ => {}
            }
        }
        images
    }
}

fn unquote(value: &str) -> String {
    let quoted = value.len() >= 2
        && ((value.starts_with('"') && value.ends_with('"'))
            || (value.starts_with('\'') && value.ends_with('\'')));
    if quoted {
        value[1..value.len() - 1].to_owned()
    } else {
        value.to_owned()
    }
}

/// Substitutes `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME-word}`, `${NAME:+word}` and
/// `${NAME+word}` from `values`, as the Dockerfile frontend does for `FROM` lines.
fn substitute(text: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(position) = rest.find('$') {
        out.push_str(&rest[..position]);
        let after = &rest[position + 1..];
        if let Some(braced) = after.strip_prefix('{') {
            let Some(end) = braced.find('}') else {
                out.push_str(&rest[position..]);
                return out;
            };
            out.push_str(&expand(&braced[..end], values));
            rest = &braced[end + 1..];
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if end == 0 {
                out.push('$');
            } else {
                out.push_str(values.get(&after[..end]).map_or("", String::as_str));
            }
            rest = &after[end..];
        }
    }
    out.push_str(rest);
    out
}

fn expand(expression: &str, values: &BTreeMap<String, String>) -> String {
    let operator = expression.find([':', '-', '+']);
    let Some(at) = operator else {
        return values.get(expression).cloned().unwrap_or_default();
    };
    let name = &expression[..at];
    let value = values.get(name);
    let (colon, operation, word) = match expression[at..].strip_prefix(':') {
        Some(tail) => (true, tail.chars().next(), tail.get(1..).unwrap_or_default()),
        None => (
            false,
            expression[at..].chars().next(),
            &expression[at + 1..],
        ),
    };
    let set = match value {
        Some(value) => !(colon && value.is_empty()),
        None => false,
    };
    match operation {
        Some('-') if set => value.cloned().unwrap_or_default(),
        Some('-') => substitute(word, values),
        Some('+') if set => substitute(word, values),
        Some('+') => String::new(),
        _ => value.cloned().unwrap_or_default(),
    }
}

impl Instruction {
    /// The instruction's builder flags (`--mount=…`, `--link`, `--platform=…`), each with the line
    /// it is written on. See [`InstructionFlag`] for BuildKit's rule. For `ONBUILD`, these are the
    /// flags of `ONBUILD` itself, not of its trigger.
    pub fn flags(&self) -> Vec<InstructionFlag> {
        let logical = self.logical();
        let (flags, _) = builder_flags(&logical.text, logical.after_keyword());
        flags
            .into_iter()
            .map(|(range, word)| {
                let body = word.strip_prefix("--").unwrap_or(&word);
                let (name, value) = match body.split_once('=') {
                    Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
                    None => (body.to_owned(), None),
                };
                InstructionFlag {
                    line: logical.position(range.start).0,
                    name,
                    value,
                    text: logical.text[range].to_owned(),
                }
            })
            .collect()
    }

    /// The instruction line as BuildKit's parser builds it, with positions.
    pub(crate) fn logical(&self) -> Logical {
        let mut text = String::new();
        let mut starts = Vec::with_capacity(self.source.len());
        for piece in &self.source {
            starts.push((text.len(), piece.line));
            text.push_str(&piece.text);
        }
        Logical { text, starts }
    }
}

/// An instruction line as BuildKit's parser sees it: the [`SourceLine`] texts concatenated, and
/// where each physical line's text starts in it.
pub(crate) struct Logical {
    /// The joined text, keyword included.
    pub(crate) text: String,
    /// `(offset in text, 1-based line)` for each physical line, in order.
    starts: Vec<(usize, usize)>,
}

impl Logical {
    /// The 1-based line and the byte column (within that line's text) of byte `offset`.
    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let index = self
            .starts
            .partition_point(|&(start, _)| start <= offset)
            .saturating_sub(1);
        match self.starts.get(index) {
            Some(&(start, line)) => (line, offset.saturating_sub(start)),
            None => (0, offset),
        }
    }

    /// Where the arguments start: after the keyword and the blanks that follow it.
    pub(crate) fn after_keyword(&self) -> usize {
        keyword_at(&self.text, 0).map_or(self.text.len(), |(_, rest)| rest)
    }
}

/// The keyword that starts at or after `from` (leading blanks skipped) and the offset of what
/// follows it (blanks skipped).
pub(crate) fn keyword_at(text: &str, from: usize) -> Option<(Range<usize>, usize)> {
    let bytes = text.as_bytes();
    let start = skip_blanks(bytes, from);
    if start == bytes.len() {
        return None;
    }
    let mut end = start;
    while end < bytes.len() && !is_blank(bytes[end]) {
        end += 1;
    }
    Some((start..end, skip_blanks(bytes, end)))
}

fn skip_blanks(bytes: &[u8], mut at: usize) -> usize {
    while at < bytes.len() && is_blank(bytes[at]) {
        at += 1;
    }
    at
}

fn is_blank(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// BuildKit's builder-flag extraction (`extractBuilderFlags`) over `text[from..]`: the words
/// starting with `--`, each as its byte range in `text` and its unquoted text, and the offset
/// where the rest (the command) starts. A bare `--` ends the flags and is not one.
pub(crate) fn builder_flags(text: &str, from: usize) -> (Vec<(Range<usize>, String)>, usize) {
    let bytes = text.as_bytes();
    let mut flags = Vec::new();
    let mut at = from.min(bytes.len());
    loop {
        at = skip_blanks(bytes, at);
        if !bytes[at..].starts_with(b"--") {
            return (flags, at);
        }
        let start = at;
        let mut word = Vec::new();
        let mut quote = None;
        while at < bytes.len() {
            let byte = bytes[at];
            if quote.is_none() && is_blank(byte) {
                break;
            }
            at += 1;
            match (quote, byte) {
                (Some(open), _) if byte == open => quote = None,
                (None, b'\'' | b'"') => quote = Some(byte),
                (_, b'\\') => match bytes.get(at) {
                    Some(&escaped) => {
                        word.push(escaped);
                        at += 1;
                    }
                    // A backslash at the very end is dropped (and closes an open quote).
                    None => quote = None,
                },
                _ => word.push(byte),
            }
        }
        if word == b"--" {
            return (flags, at);
        }
        flags.push((start..at, String::from_utf8_lossy(&word).into_owned()));
    }
}

/// A heredoc opening found on an instruction line.
struct Opening {
    delimiter: String,
    /// Byte offset of the opening word in the instruction's logical line.
    offset: usize,
    line: usize,
    strip_tabs: bool,
    quoted: bool,
}

/// The heredocs `instruction` opens, in order (none unless it is a shell-form `RUN`, `COPY` or
/// `ADD`, directly or as an `ONBUILD` trigger).
fn heredoc_openings(instruction: &Instruction) -> Vec<Opening> {
    let logical = instruction.logical();
    let text = logical.text.as_str();
    let (_, mut arguments) = builder_flags(text, logical.after_keyword());
    let mut keyword = instruction.keyword.clone();
    if keyword == "ONBUILD" {
        let Some((trigger, after)) = keyword_at(text, arguments) else {
            return Vec::new();
        };
        keyword = text[trigger].to_ascii_uppercase();
        arguments = builder_flags(text, after).1;
    }
    if !matches!(keyword.as_str(), "RUN" | "COPY" | "ADD")
        || is_json_string_array(&text[arguments..])
    {
        return Vec::new();
    }
    shell_words(text)
        .into_iter()
        .filter_map(|(start, word)| {
            let (delimiter, strip_tabs, quoted) = heredoc_opening(word)?;
            Some(Opening {
                delimiter,
                offset: start,
                line: logical.position(start).0,
                strip_tabs,
                quoted,
            })
        })
        .collect()
}

/// Byte offsets, in the instruction's logical line ([`Instruction::logical`]), of the words that
/// open its heredocs: one per [`Instruction::heredocs`] entry, in the same order.
pub(crate) fn heredoc_offsets(instruction: &Instruction) -> Vec<usize> {
    heredoc_openings(instruction)
        .into_iter()
        .map(|opening| opening.offset)
        .collect()
}

/// Reads the body of `opening` from `lines[*next..]`, leaving `*next` after its terminator.
fn read_heredoc(opening: Opening, lines: &[&str], next: &mut usize) -> Heredoc {
    let body_line = *next + 1;
    let mut body = String::new();
    let mut terminated = false;
    while let Some(raw) = lines.get(*next) {
        *next += 1;
        let raw = if opening.strip_tabs {
            raw.trim_start_matches('\t')
        } else {
            raw
        };
        if without_line_ending(raw) == opening.delimiter {
            terminated = true;
            break;
        }
        body.push_str(raw);
    }
    Heredoc {
        delimiter: opening.delimiter,
        line: opening.line,
        body,
        body_line,
        strip_tabs: opening.strip_tabs,
        quoted: opening.quoted,
        terminated,
    }
}

/// Splits `text` into words like BuildKit's shell lexer does when it looks for heredocs (quotes
/// and backslash escapes kept in the words): each word with its byte offset.
pub(crate) fn shell_words(text: &str) -> Vec<(usize, &str)> {
    let bytes = text.as_bytes();
    let mut words = Vec::new();
    let mut at = 0;
    loop {
        at = skip_blanks(bytes, at);
        if at == bytes.len() {
            return words;
        }
        let start = at;
        while at < bytes.len() && !is_blank(bytes[at]) {
            match bytes[at] {
                b'\\' => at += 2,
                quote @ (b'\'' | b'"') => {
                    at += 1;
                    while at < bytes.len() && bytes[at] != quote {
                        at += if quote == b'"' && bytes[at] == b'\\' {
                            2
                        } else {
                            1
                        };
                    }
                    at += 1;
                }
                _ => at += 1,
            }
        }
        // Always on a blank (ASCII) byte or at the end, so on a character boundary.
        at = at.min(bytes.len());
        words.push((start, &text[start..at]));
    }
}

/// BuildKit's heredoc test on one word (`^(\d*)<<(-?)([^<]*)$` with a non-empty single-word
/// rest): the delimiter with quotes removed, whether tabs are stripped (`<<-`), and whether the
/// delimiter was quoted.
fn heredoc_opening(word: &str) -> Option<(String, bool, bool)> {
    let rest = word
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .strip_prefix("<<")?;
    let (strip_tabs, rest) = match rest.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    if rest.is_empty() || rest.contains('<') {
        return None;
    }
    let (delimiter, quoted) = unquote_word(rest)?;
    (!delimiter.is_empty()).then_some((delimiter, strip_tabs, quoted))
}

/// One shell word with its quotes and escapes removed, and whether it had quotes; `None` if it
/// is more than one word.
fn unquote_word(word: &str) -> Option<(String, bool)> {
    let mut out = String::with_capacity(word.len());
    let mut quoted = false;
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = true;
                out.extend(chars.by_ref().take_while(|&c| c != '\''));
            }
            '"' => {
                quoted = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => out.extend(chars.next()),
                        c => out.push(c),
                    }
                }
            }
            '\\' => out.extend(chars.next()),
            c if c.is_ascii() && is_blank(c as u8) => return None,
            c => out.push(c),
        }
    }
    Some((out, quoted))
}

/// Whether `text` starts with a JSON array of strings, which makes `RUN`/`COPY`/`ADD` take the
/// exec (JSON) form (BuildKit decodes the first JSON value and ignores what follows).
pub(crate) fn is_json_string_array(text: &str) -> bool {
    fn blanks(bytes: &[u8], mut at: usize) -> usize {
        while matches!(bytes.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            at += 1;
        }
        at
    }
    /// The offset after the JSON string starting at `at`, if there is one.
    fn string(bytes: &[u8], mut at: usize) -> Option<usize> {
        if bytes.get(at) != Some(&b'"') {
            return None;
        }
        at += 1;
        loop {
            match *bytes.get(at)? {
                b'"' => return Some(at + 1),
                b'\\' => {
                    at += match *bytes.get(at + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => 2,
                        b'u' if bytes.get(at + 2..at + 6)?.iter().all(u8::is_ascii_hexdigit) => 6,
                        _ => return None,
                    };
                }
                byte if byte < 0x20 => return None,
                _ => at += 1,
            }
        }
    }
    let text = text.trim_start();
    let bytes = text.as_bytes();
    if bytes.first() != Some(&b'[') {
        return false;
    }
    let mut at = blanks(bytes, 1);
    if bytes.get(at) == Some(&b']') {
        return true;
    }
    loop {
        let Some(end) = string(bytes, at) else {
            return false;
        };
        at = blanks(bytes, end);
        match bytes.get(at) {
            Some(b',') => at = blanks(bytes, at + 1),
            Some(b']') => return true,
            _ => return false,
        }
    }
}

/// The line without its line ending (every trailing `\r` and `\n`, as BuildKit trims them).
fn without_line_ending(line: &str) -> &str {
    line.trim_end_matches(['\r', '\n'])
}

/// Splits off a trailing continuation: `line` ends with the escape character, possibly followed
/// by blanks, and that escape character is not itself escaped. Returns the text before it and
/// whether the line continues.
fn continuation(line: &str, escape: char) -> (&str, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    match trimmed.strip_suffix(escape) {
        Some(head) if !head.ends_with(escape) => (head, true),
        _ => (line, false),
    }
}

fn directive(line: &str) -> Option<(String, String)> {
    let rest = without_line_ending(line).trim().strip_prefix('#')?;
    let (key, value) = rest.split_once('=')?;
    let key = key.trim();
    let mut chars = key.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric());
    let value = value.trim();
    if !valid || value.is_empty() {
        return None;
    }
    Some((key.to_ascii_lowercase(), value.to_owned()))
}

fn instruction(source: Vec<SourceLine>) -> Option<Instruction> {
    let text = source
        .iter()
        .map(|piece| piece.text.trim())
        .filter(|text| !text.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if text.is_empty() {
        return None;
    }
    let (keyword, arguments) = text.split_once(char::is_whitespace).unwrap_or((&text, ""));
    Some(Instruction {
        line: source.first()?.line,
        keyword: keyword.to_ascii_uppercase(),
        arguments: arguments.trim().to_owned(),
        heredocs: Vec::new(),
        source,
    })
}

#[cfg(test)]
mod tests;
