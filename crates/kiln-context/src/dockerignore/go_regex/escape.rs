//! Backslash escapes outside a class (`\A`, `\z`, `\b`, `\Q...\E`, Perl classes) and Go's
//! `parseEscape` for the characters escapes stand for.

use super::classes::{NOTHING, UNICODE_CLASS, perl_class, push_class};
use super::{Last, Piece, Translator};

impl Translator<'_> {
    /// A backslash outside a class.
    pub(super) fn escape(&mut self) -> Result<(), String> {
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
    pub(super) fn escaped_char(&mut self) -> Result<Option<char>, String> {
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
}

#[cfg(test)]
mod tests {
    use crate::dockerignore::test_support::check;

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
}
