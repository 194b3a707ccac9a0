//! What `kiln bake` shows while it runs, never interleaved: on a terminal a board with one
//! line per running cell and finished cells scrolling above it; otherwise a start line per
//! cell and each finished cell's output as one contiguous block, in completion order.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use kiln::BuildEvent;
use kiln::bake::{BakeEvent, BakeEvents, CellOutcome, log_line};

use crate::output::{Io, SharedWriter};

/// How many lines of a failed cell's output a terminal shows (the log has them all).
const FAILED_TAIL: usize = 20;

/// The display of one bake.
pub(crate) struct BakeDisplay {
    state: Option<Arc<Mutex<State>>>,
}

struct State {
    stderr: SharedWriter,
    board: Option<MultiProgress>,
    cells: HashMap<String, Running>,
}

#[derive(Default)]
struct Running {
    lines: Vec<String>,
    bar: Option<ProgressBar>,
}

impl BakeDisplay {
    /// A display on `io`'s stderr; nothing at all when `quiet`.
    pub(crate) fn new(io: &Io, quiet: bool) -> Self {
        if quiet {
            return BakeDisplay { state: None };
        }
        let board = io.terminal.then(MultiProgress::new);
        BakeDisplay {
            state: Some(Arc::new(Mutex::new(State {
                stderr: Arc::clone(&io.stderr),
                board,
                cells: HashMap::new(),
            }))),
        }
    }

    /// The events that feed it.
    pub(crate) fn events(&self) -> BakeEvents {
        let Some(state) = &self.state else {
            return BakeEvents::discard();
        };
        let state = Arc::clone(state);
        BakeEvents::new(move |event| {
            let mut state = state
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            state.show(event);
        })
    }

    /// Clears the board.
    pub(crate) fn finish(&self) {
        if let Some(state) = &self.state {
            let state = state
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(board) = &state.board {
                let _ = board.clear();
            }
        }
    }
}

impl State {
    fn show(&mut self, event: &BakeEvent) {
        match event {
            BakeEvent::Started { cell } => {
                let bar = self.board.as_ref().map(|board| {
                    let bar = board.add(ProgressBar::new_spinner());
                    bar.set_style(
                        ProgressStyle::with_template("{spinner} {prefix} [{elapsed}] {wide_msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    bar.set_prefix(cell.to_string());
                    bar.enable_steady_tick(Duration::from_millis(120));
                    bar
                });
                if bar.is_none() {
                    self.write(&[format!("=> {cell} started")]);
                }
                self.cells.insert(
                    cell.to_string(),
                    Running {
                        lines: Vec::new(),
                        bar,
                    },
                );
            }
            BakeEvent::Build { cell, event } => {
                let running = self.cells.entry(cell.to_string()).or_default();
                if let (Some(bar), BuildEvent::StepStarted { index, total, name }) =
                    (&running.bar, event)
                {
                    let step = match total {
                        Some(total) => format!("step {index}/{total}: {name}"),
                        None => format!("step {index}: {name}"),
                    };
                    bar.set_message(step);
                }
                if let Some(line) = log_line(event) {
                    running.lines.push(line);
                }
            }
            BakeEvent::Finished {
                cell,
                outcome,
                reason,
            } => {
                let running = self.cells.remove(cell.as_str()).unwrap_or_default();
                let mark = if outcome.succeeded() { "ok" } else { "!!" };
                let head = format!("{mark} {cell}: {outcome} — {reason}");
                match (&self.board, running.bar) {
                    (Some(board), bar) => {
                        if let Some(bar) = bar {
                            bar.finish_and_clear();
                            board.remove(&bar);
                        }
                        let _ = board.println(&head);
                        if *outcome == CellOutcome::Failed {
                            let skip = running.lines.len().saturating_sub(FAILED_TAIL);
                            for line in &running.lines[skip..] {
                                let _ = board.println(format!("   | {line}"));
                            }
                        }
                    }
                    (None, _) => {
                        let mut block = Vec::with_capacity(running.lines.len() + 2);
                        block.push(format!("--- {cell} ---"));
                        block.extend(running.lines.into_iter().map(|line| format!("   | {line}")));
                        block.push(head);
                        self.write(&block);
                    }
                }
            }
            BakeEvent::Published { tag, digest } => {
                let line = format!("published {tag} ({digest})");
                match &self.board {
                    Some(board) => {
                        let _ = board.println(line);
                    }
                    None => self.write(&[line]),
                }
            }
            _ => {}
        }
    }

    /// Writes `lines` as one block: nothing else reaches stderr between them.
    fn write(&self, lines: &[String]) {
        let mut text = lines.join("\n");
        text.push('\n');
        let mut stderr = self
            .stderr
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // A closed pipe must not turn into a panic.
        let _ = stderr
            .write_all(text.as_bytes())
            .and_then(|()| stderr.flush());
    }
}
