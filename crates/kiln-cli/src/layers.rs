//! Layer progress of pushes and pulls: a bar per layer on a terminal, and otherwise one line
//! each time a layer's state changes (never one per progress tick).

use std::collections::HashMap;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::units::human_bytes;

/// States after which a layer has nothing more to report.
const DONE: [&str; 5] = [
    "Pushed",
    "Layer already exists",
    "Pull complete",
    "Already exists",
    "Mounted from",
];

/// Renders layer events.
pub(crate) enum LayerDisplay {
    /// Bars on a terminal.
    Bars {
        multi: MultiProgress,
        bars: Mutex<HashMap<String, ProgressBar>>,
    },
    /// Lines for logs and pipes: the last state printed per layer.
    Lines(Mutex<HashMap<String, String>>),
}

impl LayerDisplay {
    /// Bars when `terminal`, lines otherwise.
    pub(crate) fn new(terminal: bool) -> Self {
        if terminal {
            LayerDisplay::Bars {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                bars: Mutex::new(HashMap::new()),
            }
        } else {
            LayerDisplay::Lines(Mutex::new(HashMap::new()))
        }
    }

    /// Shows one layer event; returns a line to print, if any (line mode).
    pub(crate) fn show(
        &self,
        id: &str,
        status: &str,
        current: Option<u64>,
        total: Option<u64>,
    ) -> Option<String> {
        let done = DONE.iter().any(|state| status.starts_with(state));
        match self {
            LayerDisplay::Bars { multi, bars } => {
                let mut bars = bars.lock().unwrap_or_else(|p| p.into_inner());
                let bar = bars.entry(id.to_owned()).or_insert_with(|| {
                    let bar = multi.add(ProgressBar::new(0));
                    bar.set_style(
                        ProgressStyle::with_template("{msg:40} {bar:30} {bytes}/{total_bytes}")
                            .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    bar
                });
                if let Some(total) = total {
                    bar.set_length(total);
                }
                if let Some(current) = current {
                    bar.set_position(current);
                }
                bar.set_message(format!("{id} {status}"));
                if done {
                    bar.finish();
                }
                None
            }
            LayerDisplay::Lines(last) => {
                let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
                if last.get(id).is_some_and(|previous| previous == status) {
                    return None;
                }
                last.insert(id.to_owned(), status.to_owned());
                let size = total.map(|total| format!(" ({})", human_bytes(total)));
                Some(format!("{id}: {status}{}", size.unwrap_or_default()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_printed_once_per_state() {
        let display = LayerDisplay::new(false);
        assert_eq!(
            display.show("abc", "Preparing", None, None).as_deref(),
            Some("abc: Preparing")
        );
        assert_eq!(
            display
                .show("abc", "Pushing", Some(1), Some(2048))
                .as_deref(),
            Some("abc: Pushing (2.0 KiB)")
        );
        assert_eq!(display.show("abc", "Pushing", Some(2), Some(2048)), None);
        assert_eq!(
            display.show("abc", "Pushed", None, None).as_deref(),
            Some("abc: Pushed")
        );
        assert_eq!(
            display
                .show("def", "Layer already exists", None, None)
                .as_deref(),
            Some("def: Layer already exists")
        );
    }
}
