//! Where the CLI writes: results to stdout (one JSON object with `--json`), everything else to
//! stderr — progress lines, warnings, errors.

use std::io::{self, IsTerminal, Write};
use std::sync::{Arc, Mutex};

use kiln::{BuildEvent, Error, EventSink};
use serde::Serialize;

use crate::exit::{CommandKind, code_for, kind_name};
use crate::json::Failure;
use crate::layers::LayerDisplay;
use crate::units::human_bytes;

/// A writer several threads can share (build events arrive from the upload thread).
pub type SharedWriter = Arc<Mutex<Box<dyn Write + Send>>>;

/// The CLI's two output streams.
#[derive(Clone)]
pub struct Io {
    /// Results.
    pub stdout: SharedWriter,
    /// Progress, warnings and errors.
    pub stderr: SharedWriter,
    /// Whether stderr is a terminal (progress bars) or a log (lines).
    pub terminal: bool,
}

impl Io {
    /// The process's own stdout and stderr.
    pub fn process() -> Self {
        let mut io = Io::new(Box::new(io::stdout()), Box::new(io::stderr()));
        io.terminal = io::stderr().is_terminal();
        io
    }

    /// Output to the given writers.
    pub fn new(stdout: Box<dyn Write + Send>, stderr: Box<dyn Write + Send>) -> Self {
        Io {
            stdout: Arc::new(Mutex::new(stdout)),
            stderr: Arc::new(Mutex::new(stderr)),
            terminal: false,
        }
    }

    /// Writes `text` and a newline to stdout.
    pub fn out(&self, text: &str) {
        write_line(&self.stdout, text);
    }

    /// Writes `text` and a newline to stderr.
    pub fn err(&self, text: &str) {
        write_line(&self.stderr, text);
    }

    /// Prints `value` as the one JSON object of the command.
    pub fn json(&self, value: &impl Serialize) {
        match serde_json::to_string(value) {
            Ok(text) => self.out(&text),
            // Only a map with non-string keys fails; kiln's output types have none.
            Err(error) => self.err(&format!("error: cannot print the result as JSON: {error}")),
        }
    }

    /// Reports `error`: as the JSON object with `--json`, on stderr otherwise. Returns the exit code.
    pub fn error(&self, error: &Error, kind: CommandKind, json: bool) -> u8 {
        let code = code_for(error, kind);
        if json {
            self.json(&error_json(error, code));
        } else {
            self.err(&format!("error: {error}"));
            if let Error::BuildFailed { log_tail, .. } = error
                && !log_tail.is_empty()
            {
                self.err("last lines of the build output:");
                for line in log_tail {
                    self.err(&format!("  | {line}"));
                }
            }
        }
        code
    }

    /// A sink that prints build progress on stderr (nothing when `quiet`).
    pub fn progress(&self, quiet: bool) -> EventSink {
        if quiet {
            return EventSink::discard();
        }
        let stderr = Arc::clone(&self.stderr);
        let layers = LayerDisplay::new(self.terminal);
        EventSink::new(move |event| {
            let line = match event {
                BuildEvent::Layer {
                    id,
                    status,
                    current,
                    total,
                } => layers.show(id, status, *current, *total),
                other => progress_line(other),
            };
            if let Some(line) = line {
                write_line(&stderr, &line);
            }
        })
    }
}

fn write_line(writer: &SharedWriter, text: &str) {
    let mut writer = writer
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // A closed pipe (`kiln build | head`) must not turn into a panic.
    let _ = writeln!(writer, "{text}").and_then(|()| writer.flush());
}

/// The JSON object for a failed command.
pub fn error_json(error: &Error, exit_code: u8) -> Failure {
    Failure::new(error, kind_name(error), exit_code)
}

fn progress_line(event: &BuildEvent) -> Option<String> {
    match event {
        BuildEvent::ContextSent { bytes } => {
            Some(format!("sent build context: {}", human_bytes(*bytes)))
        }
        BuildEvent::ContextSynced { sent } if sent.files == sent.context_files => Some(format!(
            "sent {} of build context (all {} files)",
            human_bytes(sent.bytes),
            sent.files
        )),
        BuildEvent::ContextSynced { sent } => Some(format!(
            "sent {} of {} of build context ({} of {} files; the daemon had or did not need the rest)",
            human_bytes(sent.bytes),
            human_bytes(sent.context_bytes),
            sent.files,
            sent.context_files
        )),
        BuildEvent::StepStarted { index, total, name } => Some(match total {
            Some(total) => format!("[{index}/{total}] {name}"),
            None => format!("[{index}] {name}"),
        }),
        BuildEvent::StepFinished { cached: true, .. } => Some("      cached".to_owned()),
        BuildEvent::Output { line } => Some(format!("      {line}")),
        BuildEvent::Warning { message } => Some(format!("warning: {message}")),
        BuildEvent::Note { message } => Some(message.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_failures_carry_step_and_tail_in_json() {
        let error = Error::BuildFailed {
            step: Some("Step 2/2 : RUN false".into()),
            message: "returned a non-zero code: 1".into(),
            log_tail: vec!["oops".into()],
        };
        insta::assert_json_snapshot!(error_json(&error, 4));
    }

    #[test]
    fn the_sync_line_says_what_the_daemon_already_had() {
        let synced = |files, context_files| BuildEvent::ContextSynced {
            sent: kiln_core::event::ContextSent {
                bytes: files * 1024,
                files,
                context_bytes: context_files * 1024,
                context_files,
            },
        };
        assert_eq!(
            progress_line(&synced(1, 3)).unwrap(),
            "sent 1.0 KiB of 3.0 KiB of build context (1 of 3 files; the daemon had or did not need the rest)"
        );
        assert_eq!(
            progress_line(&synced(3, 3)).unwrap(),
            "sent 3.0 KiB of build context (all 3 files)"
        );
    }
}
