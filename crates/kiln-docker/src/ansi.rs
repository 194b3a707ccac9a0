//! Terminal escape sequences (colours, cursor moves) removed from the daemon's text, so that
//! what kiln stores and prints as JSON (a failed build's `log_tail`) is plain text.

use std::borrow::Cow;

const ESC: char = '\u{1b}';
const BEL: char = '\u{7}';

/// `text` without ANSI escape sequences: CSI (`ESC [ … final`), OSC (`ESC ] … BEL` or
/// `ESC ] … ESC \`) and the other escapes (`ESC ( B`, `ESC 7`). Borrowed when there is none.
pub(crate) fn strip(text: &str) -> Cow<'_, str> {
    if !text.contains(ESC) {
        return Cow::Borrowed(text);
    }
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != ESC {
            plain.push(c);
            continue;
        }
        match chars.next() {
            // Parameters and intermediates, up to the final byte (`@` to `~`).
            Some('[') => {
                for next in chars.by_ref() {
                    if ('@'..='~').contains(&next) {
                        break;
                    }
                }
            }
            // An operating system command, ended by BEL or by ESC `\`.
            Some(']') => {
                while let Some(next) = chars.next() {
                    if next == BEL {
                        break;
                    }
                    if next == ESC && chars.peek() == Some(&'\\') {
                        chars.next();
                        break;
                    }
                }
            }
            // Other escapes: intermediates (space to `/`, as in `ESC ( B`), then one final.
            Some(next) if (' '..='/').contains(&next) => {
                for next in chars.by_ref() {
                    if !(' '..='/').contains(&next) {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    Cow::Owned(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_and_titles_go_and_text_stays() {
        assert_eq!(strip("\u{1b}[31;1merror\u{1b}[0m: no"), "error: no");
        assert_eq!(strip("\u{1b}]0;title\u{7}after"), "after");
        assert_eq!(strip("\u{1b}]8;;http://x\u{1b}\\link"), "link");
        assert_eq!(strip("\u{1b}[2K\u{1b}(Bdone"), "done");
        assert_eq!(strip("cut \u{1b}[3"), "cut ");
        assert!(matches!(
            strip("plain ünïcode"),
            Cow::Borrowed("plain ünïcode")
        ));
    }
}
