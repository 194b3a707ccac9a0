//! The syntax check of Go's `filepath.Match`, which Docker runs on every pattern. The Go
//! releases that build Docker CLI 28 check the whole pattern whatever the name, so matching
//! against "." is a pure syntax check.

/// Checks `pattern` the way `filepath.Match(pattern, ".")` does, returning why it is invalid.
///
/// Note that Go does not check the order of a range's ends here (`[z-a]` passes); the regular
/// expression stage rejects it when it reaches Go's `regexp` as a range.
pub(super) fn check_glob_syntax(pattern: &str) -> Result<(), &'static str> {
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
