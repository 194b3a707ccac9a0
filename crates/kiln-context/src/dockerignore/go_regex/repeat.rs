//! Go's counted repetitions `{n}`, `{n,}` and `{n,m}`: reading them and applying Go's checks.

use super::{Last, Piece, Translator};

impl Translator<'_> {
    /// Applies a parsed `{n}`, `{n,}` or `{n,m}` (Go's checks, in Go's order).
    pub(super) fn counted_repeat(&mut self, repeat: Repeat) -> Result<(), String> {
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
}

/// A counted repetition as Go's `parseRepeat` reads it.
pub(super) struct Repeat {
    /// The minimum, or -1 when a number is too big.
    min: i64,
    /// The maximum, `None` for `{n,}`.
    max: Option<i64>,
    /// The length of the `{...}` text.
    len: usize,
}

/// Reads `{n}`, `{n,}` or `{n,m}` at the start of `text` like Go: decimal numbers without
/// leading zeros; anything else is not a repetition (and the `{` is a literal).
pub(super) fn parse_repeat(text: &str) -> Option<Repeat> {
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
