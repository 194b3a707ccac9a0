//! The decision in words: the reason a user reads and the changes the JSON lists.

use kiln_core::{Change, ImageRef};

use super::decide::{Cause, Verdict};

/// A verdict explained.
#[derive(Debug)]
pub(crate) struct Explanation {
    /// Why, in a sentence.
    pub(crate) reason: String,
    /// What differs from the last recorded build of the tag.
    pub(crate) changes: Vec<Change>,
}

/// Whether explaining `verdict` needs the changes since the last build of the tag (reading
/// that build's manifest is work a reuse never needs).
pub(crate) fn needs_history(verdict: &Verdict) -> bool {
    matches!(verdict, Verdict::Build(Cause::Forced | Cause::NoRecord))
}

/// Explains `verdict` for the tag `primary`. `history` is the changes since the last build
/// recorded under the tag (asked for by [`needs_history`]); `now_s` is the clock's time.
pub(crate) fn explain(
    verdict: &Verdict,
    primary: &str,
    history: Vec<Change>,
    now_s: u64,
) -> Explanation {
    let (reason, changes) = match verdict {
        Verdict::Build(Cause::NoCacheDirectory) => (
            "no cache directory: nothing is recorded".to_owned(),
            Vec::new(),
        ),
        Verdict::Build(Cause::Forced) => (
            "forced: --force (or force_build) bypasses every cache".to_owned(),
            history,
        ),
        Verdict::Build(Cause::NoRecord) => {
            let reason = match history.as_slice() {
                [] => format!("no record of these inputs for {primary}"),
                [Change::NoPreviousBuild] => format!("no previous build of {primary} is recorded"),
                changes => summarize(changes, primary),
            };
            (reason, history)
        }
        Verdict::Build(Cause::ImageMissing { image_id }) => (
            format!("inputs unchanged, image {} missing", image_id.short()),
            vec![Change::ImageMissing {
                image_id: image_id.to_string(),
            }],
        ),
        Verdict::Reuse(reuse) => {
            let presence = if reuse.checked {
                "present"
            } else {
                "not checked: the daemon is unreachable"
            };
            let mut reason = format!(
                "inputs unchanged since the build {}; image {} {presence}",
                ago(now_s, reuse.record.built_at),
                reuse.record.image_id.short()
            );
            if !reuse.retag.is_empty() {
                let names: Vec<String> = reuse.retag.iter().map(ImageRef::familiar).collect();
                reason.push_str(&format!(", re-tagging {}", names.join(", ")));
            }
            (reason, Vec::new())
        }
    };
    Explanation { reason, changes }
}

/// "3 changes since the last build of app:latest: file a changed, ...".
fn summarize(changes: &[Change], tag: &str) -> String {
    let shown: Vec<String> = changes.iter().take(3).map(ToString::to_string).collect();
    let more = if changes.len() > 3 {
        format!(" and {} more", changes.len() - 3)
    } else {
        String::new()
    };
    let noun = if changes.len() == 1 {
        "change"
    } else {
        "changes"
    };
    format!(
        "{} {noun} since the last build of {tag}: {}{more}",
        changes.len(),
        shown.join(", ")
    )
}

/// "3 min ago" for `then`, seen at `now` (both in seconds since the epoch).
pub(crate) fn ago(now: u64, then: u64) -> String {
    let seconds = now.saturating_sub(then);
    match seconds {
        0..=119 => format!("{seconds} s ago"),
        120..=7199 => format!("{} min ago", seconds / 60),
        7200..=172_799 => format!("{} h ago", seconds / 3600),
        _ => format!("{} days ago", seconds / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::fingerprint::How;

    #[test]
    fn summaries_name_the_first_changes() {
        let changes: Vec<Change> = (0..5)
            .map(|n| Change::File {
                path: format!("f{n}"),
                how: How::Changed,
            })
            .collect();
        assert_eq!(
            summarize(&changes, "app:latest"),
            "5 changes since the last build of app:latest: file f0 changed, file f1 changed, \
             file f2 changed and 2 more"
        );
        assert_eq!(
            summarize(&changes[..1], "app:latest"),
            "1 change since the last build of app:latest: file f0 changed"
        );
    }

    #[test]
    fn ages_read_naturally() {
        let now = 1_000_000;
        assert_eq!(ago(now, now - 5), "5 s ago");
        assert_eq!(ago(now, now - 600), "10 min ago");
        assert_eq!(ago(now, now - 3 * 86_400), "3 days ago");
        assert_eq!(ago(now, now + 10), "0 s ago", "a record from the future");
    }
}
