//! Reading a `.dockerignore` file into its list of patterns, like the Docker CLI's
//! `ignorefile.ReadAll`.

use super::go_path::clean;

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
/// [`PatternMatcher::new`](super::PatternMatcher::new) rejects, as Docker does.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_file(contents: &[u8], expected: &[&str]) {
        assert_eq!(
            parse_dockerignore(contents),
            expected,
            "{:?}",
            String::from_utf8_lossy(contents)
        );
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
}
