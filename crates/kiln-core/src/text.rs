//! Positions in configuration text: a byte offset as the line and column people count.

/// The 1-based line and column (in characters) of byte `offset` in `text`; an offset inside a
/// character or past the end counts from the character or end before it.
pub fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_count_from_one_in_characters() {
        let text = "a = 1\nnäme = 2\n";
        assert_eq!(line_and_column(text, 0), (1, 1));
        assert_eq!(line_and_column(text, 6), (2, 1));
        // After "nä" (three bytes): the third character of line 2.
        assert_eq!(line_and_column(text, 9), (2, 3));
        // Inside "ä": counted from its start.
        assert_eq!(line_and_column(text, 8), (2, 2));
        assert_eq!(line_and_column(text, 1000), (3, 1));
    }
}
