//! Go's `path.Clean` and `filepath.Dir` for slash-separated paths, which Docker applies to
//! patterns and to the paths it matches.

use std::borrow::Cow;

/// Go's `path.Clean`: the shortest equivalent path, by lexical processing only.
///
/// Borrows when the path is already clean, which is the common case in the hot path.
pub fn clean(path: &str) -> Cow<'_, str> {
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
pub fn dir(path: &str) -> Cow<'_, str> {
    match path.rfind('/') {
        None => Cow::Borrowed("."),
        Some(0) => Cow::Borrowed("/"),
        // Cleaning drops the trailing slash, so `Clean(path[..=i]) == Clean(path[..i])` here.
        Some(index) => clean(&path[..index]),
    }
}

/// The first `count` (at least 1) slash-separated elements of `path`, as Go's
/// `strings.Join(strings.Split(path, "/")[:count], "/")` (so `""` then `"/"` for `"/"`).
pub(super) fn leading_elements(path: &str, count: usize) -> &str {
    match path.match_indices('/').nth(count.saturating_sub(1)) {
        Some((index, _)) => &path[..index],
        None => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
