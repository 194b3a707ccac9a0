//! Go RE2 syntax to `regex` syntax. Only what Docker's compiler can produce is reachable (raw
//! `[`, `]`, `^`, `|`, `{` and `}` from the pattern, `\` followed by any character, and the fixed
//! pieces it inserts), but that already includes Go-only meanings: in Go `[` inside a class is a
//! literal (the `regex` crate nests classes), `\d`, `\s`, `\w`, `\b` are ASCII-only, `[[:alpha:]]`
//! is a POSIX class, `{` is a literal unless it starts a valid count, and `\Q...\E` quotes.

mod classes;
mod escape;
mod repeat;

use std::fmt::Write as _;

use repeat::parse_repeat;

/// The result of translating a Go regular expression.
pub(super) struct Translated {
    /// The expression in `regex` syntax.
    pub(super) regex: String,
    /// Literal text every match starts with.
    pub(super) prefix: String,
    /// Literal text every match ends with.
    pub(super) suffix: String,
    /// The only text the expression matches, when it is anchored plain text.
    pub(super) literal: Option<String>,
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
pub(super) fn translate_go_regex(source: &str) -> Result<Translated, String> {
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

/// Writes `ch` as a literal in `regex` syntax.
fn push_char(out: &mut String, ch: char) {
    if ch.is_ascii_alphanumeric() || ch == '/' || ch == '_' {
        out.push(ch);
    } else {
        // Writing to a String cannot fail.
        let _ = write!(out, "\\x{{{:X}}}", ch as u32);
    }
}

#[cfg(test)]
mod tests {
    use crate::dockerignore::test_support::check;

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
}
