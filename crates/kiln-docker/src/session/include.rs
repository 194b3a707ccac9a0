//! The include patterns and follow paths a `DiffCopy` request carries, applied the way
//! fsutil's walker applies them: the daemon asks for the `.dockerignore` alone, or for the
//! paths a Dockerfile's `COPY` lines name, and a symlink on such a path brings its target.

use std::fs;
use std::io;
use std::path::Path;

use kiln_context::dockerignore::go_path::{clean, dir};

use super::glob::go_match;

/// fsutil's include filter, fed paths in walk order.
#[derive(Debug, Clone, Default)]
pub(crate) struct IncludeFilter {
    /// `None`: everything is included.
    patterns: Option<Vec<String>>,
    /// The last directory a pattern matched whole: everything below it is included.
    last_included_dir: Option<String>,
}

impl IncludeFilter {
    /// The filter for `includes` (cleaned like Go's `filepath.Clean`) and the targets of the
    /// request's follow paths (see [`follow_links`]); `None` for either means the request had
    /// none.
    pub(crate) fn new(includes: Option<&[String]>, follow_targets: Option<Vec<String>>) -> Self {
        let mut patterns: Option<Vec<String>> =
            includes.map(|patterns| patterns.iter().map(|p| clean(p).into_owned()).collect());
        if let Some(targets) = follow_targets {
            let mut all = patterns.unwrap_or_default();
            all.extend(targets);
            patterns = dedupe_paths(all);
        }
        IncludeFilter {
            patterns,
            last_included_dir: None,
        }
    }

    /// Whether `path` (relative, `/`-separated; directories before what they hold) is sent.
    /// A directory that is not sent is not walked either: the caller skips what it holds.
    pub(crate) fn admits(&mut self, path: &str, is_dir: bool) -> bool {
        let Some(patterns) = &self.patterns else {
            return true;
        };
        if let Some(included) = &self.last_included_dir
            && is_below(path, included)
        {
            return true;
        }
        let mut matched = false;
        let mut partial = true;
        for pattern in patterns {
            let (hit, only_a_prefix) = match_prefix(pattern, path);
            if hit {
                matched = true;
                if !only_a_prefix {
                    partial = false;
                    break;
                }
            }
        }
        if matched && !partial && is_dir {
            self.last_included_dir = Some(path.to_owned());
        }
        matched
    }
}

/// Whether `path` lies below the directory `ancestor`.
pub(crate) fn is_below(path: &str, ancestor: &str) -> bool {
    path.len() > ancestor.len() + 1
        && path.starts_with(ancestor)
        && path.as_bytes()[ancestor.len()] == b'/'
}

/// fsutil's `matchPrefix`: a pattern deeper than `name` is cut to `name`'s depth, and a match
/// of the cut pattern is partial (a directory on the way to what the pattern names).
fn match_prefix(pattern: &str, name: &str) -> (bool, bool) {
    let depth = name.matches('/').count();
    let (pattern, partial) = if pattern.matches('/').count() > depth {
        let end = pattern
            .match_indices('/')
            .nth(depth)
            .map_or(pattern.len(), |(index, _)| index);
        (&pattern[..end], true)
    } else {
        (pattern, false)
    };
    (go_match(pattern, name).unwrap_or(false), partial)
}

/// fsutil's `dedupePaths`: drops paths below the one before them; `None` (no filter at all)
/// when one of them is the root.
fn dedupe_paths(paths: Vec<String>) -> Option<Vec<String>> {
    let mut kept: Vec<String> = Vec::with_capacity(paths.len());
    for path in paths {
        if path == "." {
            return None;
        }
        let last = kept.last().map_or("", String::as_str);
        if path.starts_with(&format!("{last}/")) {
            continue;
        }
        kept.push(path);
    }
    Some(kept)
}

/// fsutil's `FollowLinks`: each of `paths` (relative to `root`) with every symlink on its way
/// resolved inside `root` (an absolute target counts from `root`, `..` stops there), the
/// paths and the targets together, sorted and deduplicated. `None` when one of them is the
/// root (nothing to filter).
pub(crate) fn follow_links(root: &Path, paths: &[String]) -> io::Result<Option<Vec<String>>> {
    let mut resolver = Resolver {
        root,
        resolved: Vec::new(),
    };
    for path in paths {
        resolver.append(path)?;
    }
    let mut resolved = resolver.resolved;
    resolved.sort();
    resolved.dedup();
    Ok(dedupe_paths(resolved))
}

/// [`follow_links`] for a directory without symlinks (the one holding only the Dockerfile):
/// the paths themselves, cleaned, sorted and deduplicated.
pub(crate) fn follow_plain_paths(paths: &[String]) -> Option<Vec<String>> {
    let mut cleaned: Vec<String> = paths.iter().map(|path| join(".", path)).collect();
    cleaned.sort();
    cleaned.dedup();
    dedupe_paths(cleaned)
}

struct Resolver<'a> {
    root: &'a Path,
    resolved: Vec<String>,
}

impl Resolver<'_> {
    fn append(&mut self, path: &str) -> io::Result<()> {
        let mut rest = join(".", path);
        let mut current = ".".to_owned();
        loop {
            let (first, remainder) = match rest.split_once('/') {
                Some((first, remainder)) => (first.to_owned(), remainder.to_owned()),
                None => (rest.clone(), String::new()),
            };
            current = join(&current, &first);
            let targets = self.read_symlink(&current, true)?;
            rest = remainder;
            if (rest.is_empty() || targets.is_some()) && self.resolved.contains(&current) {
                return Ok(());
            }
            if let Some(targets) = targets {
                self.resolved.push(current);
                for target in targets {
                    self.append(&join(&target, &rest))?;
                }
                return Ok(());
            }
            if rest.is_empty() {
                self.resolved.push(current);
                return Ok(());
            }
        }
    }

    /// The targets of `path` if it is a symlink (or, when its last element has wildcards,
    /// of every matching symlink), as paths from the root; `None` when there is none.
    fn read_symlink(&self, path: &str, wildcards: bool) -> io::Result<Option<Vec<String>>> {
        let real = self.root.join(path);
        let base = base_name(path);
        if wildcards && has_wildcards(base) {
            let parent = dir(path).into_owned();
            let listing = match fs::read_dir(self.root.join(&parent)) {
                Ok(listing) => listing,
                Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(error) => return Err(error),
            };
            let mut names: Vec<String> = listing
                .map(|item| item.map(|item| item.file_name().to_string_lossy().into_owned()))
                .collect::<io::Result<_>>()?;
            names.sort();
            let mut targets: Option<Vec<String>> = None;
            for name in names {
                if go_match(base, &name).unwrap_or(false)
                    && let Some(found) = self.read_symlink(&join(&parent, &name), false)?
                {
                    targets.get_or_insert_with(Vec::new).extend(found);
                }
            }
            return Ok(targets);
        }
        let metadata = match fs::symlink_metadata(&real) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        if !metadata.file_type().is_symlink() {
            return Ok(None);
        }
        let link = fs::read_link(&real)?;
        let link = clean(&link.to_string_lossy()).into_owned();
        if link.starts_with('/') {
            return Ok(Some(vec![link]));
        }
        Ok(Some(vec![join("/", &join(&dir(path), &link))]))
    }
}

/// Go's `filepath.Join` of two slash-separated paths: joined, then cleaned.
fn join(first: &str, second: &str) -> String {
    match (first.is_empty(), second.is_empty()) {
        (true, true) => String::new(),
        (true, false) => clean(second).into_owned(),
        (false, true) => clean(first).into_owned(),
        (false, false) => clean(&format!("{first}/{second}")).into_owned(),
    }
}

/// Go's `filepath.Base` of a clean, relative path.
fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// fsutil's `containsWildcards`: an unescaped `*`, `?` or `[`.
fn has_wildcards(name: &str) -> bool {
    let bytes = name.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'\\' => index += 1,
            b'*' | b'?' | b'[' => return true,
            _ => {}
        }
        index += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn admitted(filter: &mut IncludeFilter, walk: &[(&str, bool)]) -> Vec<String> {
        let mut skipped: Option<String> = None;
        let mut kept = Vec::new();
        for (path, is_dir) in walk {
            if skipped.as_deref().is_some_and(|s| is_below(path, s)) {
                continue;
            }
            if filter.admits(path, *is_dir) {
                kept.push((*path).to_owned());
            } else if *is_dir {
                skipped = Some((*path).to_owned());
            }
        }
        kept
    }

    const WALK: &[(&str, bool)] = &[
        (".dockerignore", false),
        ("a", false),
        ("src", true),
        ("src/lib", true),
        ("src/lib/x.c", false),
        ("src/main.c", false),
        ("test", true),
        ("test/t.c", false),
    ];

    #[test]
    fn no_patterns_admit_everything() {
        let mut filter = IncludeFilter::new(None, None);
        assert_eq!(admitted(&mut filter, WALK).len(), WALK.len());
    }

    #[test]
    fn a_pattern_brings_its_parents_and_everything_below_it() {
        let includes = ["src/lib".to_owned()];
        let mut filter = IncludeFilter::new(Some(&includes), None);
        assert_eq!(
            admitted(&mut filter, WALK),
            ["src", "src/lib", "src/lib/x.c"]
        );
        let includes = [".dockerignore".to_owned()];
        let mut filter = IncludeFilter::new(Some(&includes), None);
        assert_eq!(admitted(&mut filter, WALK), [".dockerignore"]);
        let includes = ["src/*.c".to_owned(), "./test/".to_owned()];
        let mut filter = IncludeFilter::new(Some(&includes), None);
        assert_eq!(
            admitted(&mut filter, WALK),
            ["src", "src/main.c", "test", "test/t.c"]
        );
    }

    #[test]
    fn the_root_as_a_follow_path_filters_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let targets = follow_links(dir.path(), &[".".to_owned(), "a".to_owned()]).unwrap();
        assert_eq!(targets, None);
        let includes = ["a".to_owned()];
        let mut filter = IncludeFilter::new(Some(&includes), targets);
        assert_eq!(admitted(&mut filter, WALK), ["a"]);
    }

    #[test]
    fn follow_paths_bring_symlink_targets_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("real/sub")).unwrap();
        fs::write(root.join("real/sub/file"), "x").unwrap();
        symlink("real", root.join("link")).unwrap();
        symlink("/real/sub/file", root.join("absolute")).unwrap();
        symlink("../../outside", root.join("escape")).unwrap();
        let follow = |paths: &[&str]| {
            let paths: Vec<String> = paths.iter().map(|p| (*p).to_owned()).collect();
            follow_links(root, &paths).unwrap().unwrap()
        };
        assert_eq!(follow(&["link/sub/file"]), ["link", "real/sub/file"]);
        assert_eq!(follow(&["absolute"]), ["absolute", "real/sub/file"]);
        assert_eq!(follow(&["escape"]), ["escape", "outside"]);
        // A wildcard brings the targets of the links it matches, not the links.
        assert_eq!(follow(&["li*"]), ["li*", "real"]);
        assert_eq!(follow(&["missing/x", "real"]), ["missing/x", "real"]);
    }

    #[test]
    fn nested_paths_are_kept_once() {
        assert_eq!(
            dedupe_paths(vec!["a".into(), "a/b".into(), "ab".into()]),
            Some(vec!["a".to_owned(), "ab".to_owned()])
        );
    }
}
