//! Character classes: Go's `[...]` with its Perl and POSIX classes, rebuilt as code point ranges
//! in `regex` syntax.

use std::fmt::Write as _;

use super::Translator;

impl Translator<'_> {
    /// A character class, from its `[` (Go's `parseClass` with Perl flags).
    pub(super) fn class(&mut self) -> Result<(), String> {
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
}

pub(super) const UNICODE_CLASS: &str =
    r"Unicode classes such as \pL are not supported (escape the letter after the backslash's p)";

/// A class that matches nothing (for an escaped code point that is not a scalar value).
pub(super) const NOTHING: &str = r"[^\x{0}-\x{10FFFF}]";
/// A class that matches any character.
const ANYTHING: &str = r"[\x{0}-\x{10FFFF}]";

/// Writes a class of code point ranges in `regex` syntax, leaving out surrogates (which no
/// `&str` holds).
pub(super) fn push_class(out: &mut String, negated: bool, ranges: &[(u32, u32)]) {
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
pub(super) fn perl_class(escape: &str) -> Option<Vec<(u32, u32)>> {
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
    use crate::dockerignore::test_support::check;

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
}
