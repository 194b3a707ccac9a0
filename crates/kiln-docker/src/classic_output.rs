//! Turning the classic builder's output stream into build events and, on failure, a typed error.

use std::collections::VecDeque;
use std::time::Instant;

use kiln_core::{BuildEvent, Error, EventSink};

use crate::ansi;

/// Lines of output kept for the log tail of a failed build.
pub const LOG_TAIL_LINES: usize = 20;

#[derive(Debug)]
struct OpenStep {
    index: u32,
    text: String,
    cached: bool,
    started: Instant,
}

/// Reads the classic builder's `stream` messages, line by line.
///
/// The daemon sends text in arbitrary chunks; lines are reassembled before they are parsed.
/// `Step n/m : INSTRUCTION` lines open steps, ` ---> Using cache` marks them cached, the
/// daemon's bookkeeping lines (` ---> <id>`, `Removing intermediate container`, `Successfully
/// built`) are recognised and not echoed, and everything else is the build's own output.
#[derive(Debug)]
pub struct ClassicOutput {
    events: EventSink,
    partial: String,
    step: Option<OpenStep>,
    tail: VecDeque<String>,
    warnings: Vec<String>,
    built_id: Option<String>,
}

impl ClassicOutput {
    /// A parser that reports to `events`.
    pub fn new(events: EventSink) -> Self {
        ClassicOutput {
            events,
            partial: String::new(),
            step: None,
            tail: VecDeque::with_capacity(LOG_TAIL_LINES),
            warnings: Vec::new(),
            built_id: None,
        }
    }

    /// Feeds one `stream` chunk.
    pub fn feed(&mut self, chunk: &str) {
        self.partial.push_str(chunk);
        while let Some(end) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=end).collect();
            self.line(line.trim_end_matches(['\n', '\r']));
        }
    }

    /// The short image id from `Successfully built <id>`, if seen.
    pub fn built_id(&self) -> Option<&str> {
        self.built_id.as_deref()
    }

    /// Warnings the daemon printed.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Ends the stream successfully: flushes a partial line and closes the open step.
    pub fn finish(&mut self) {
        self.flush_partial();
        self.close_step();
    }

    /// Ends the stream with the daemon's error `message`: the error names the open step and
    /// carries the last lines of output.
    pub fn fail(&mut self, message: &str) -> Error {
        self.flush_partial();
        let step = self.step.take().map(|step| step.text);
        Error::BuildFailed {
            step,
            message: ansi::strip(message.trim()).into_owned(),
            log_tail: self.tail.iter().cloned().collect(),
        }
    }

    fn flush_partial(&mut self) {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(line.trim_end_matches('\r'));
        }
    }

    fn close_step(&mut self) {
        if let Some(step) = self.step.take() {
            self.events.emit(BuildEvent::StepFinished {
                index: step.index,
                cached: step.cached,
                duration_ms: u64::try_from(step.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            });
        }
    }

    fn line(&mut self, line: &str) {
        if let Some((index, total, name)) = parse_step(line) {
            self.close_step();
            self.events.emit(BuildEvent::StepStarted {
                index,
                total: Some(total),
                name: name.to_owned(),
            });
            self.step = Some(OpenStep {
                index,
                text: line.to_owned(),
                cached: false,
                started: Instant::now(),
            });
            return;
        }
        let trimmed = line.trim();
        if trimmed == "---> Using cache" {
            if let Some(step) = &mut self.step {
                step.cached = true;
            }
            return;
        }
        if let Some(id) = trimmed.strip_prefix("Successfully built ") {
            self.built_id = Some(id.to_owned());
            return;
        }
        if let Some(warning) = trimmed.strip_prefix("[Warning] ") {
            self.warnings.push(warning.to_owned());
            self.events.warn(warning);
            return;
        }
        if is_bookkeeping(trimmed) {
            return;
        }
        if self.tail.len() == LOG_TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(ansi::strip(line).into_owned());
        self.events.emit(BuildEvent::Output {
            line: line.to_owned(),
        });
    }
}

/// `Step 2/5 : RUN make` → `(2, 5, "RUN make")`.
fn parse_step(line: &str) -> Option<(u32, u32, &str)> {
    let rest = line.strip_prefix("Step ")?;
    let (counts, name) = rest.split_once(" : ")?;
    let (index, total) = counts.split_once('/')?;
    Some((index.parse().ok()?, total.parse().ok()?, name))
}

fn is_bookkeeping(trimmed: &str) -> bool {
    trimmed.is_empty()
        || trimmed == "--->"
        || trimmed.starts_with("---> ")
        || trimmed.starts_with("Removing intermediate container ")
        || trimmed.starts_with("Successfully tagged ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn run(
        chunks: &[&str],
        failure: Option<&str>,
    ) -> (Vec<BuildEvent>, Option<Error>, Option<String>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = {
            let seen = Arc::clone(&seen);
            EventSink::new(move |event| {
                let mut event = event.clone();
                if let BuildEvent::StepFinished { duration_ms, .. } = &mut event {
                    *duration_ms = 0;
                }
                seen.lock().unwrap().push(event);
            })
        };
        let mut output = ClassicOutput::new(sink);
        for chunk in chunks {
            output.feed(chunk);
        }
        let error = match failure {
            Some(message) => Some(output.fail(message)),
            None => {
                output.finish();
                None
            }
        };
        let built = output.built_id().map(str::to_owned);
        let events = seen.lock().unwrap().clone();
        (events, error, built)
    }

    #[test]
    fn successful_build_output() {
        let chunks = [
            "Step 1/3 : FROM local/busybox:1\n",
            " ---> 0123456789ab\n",
            "Step 2/3 : RUN echo hel",
            "lo\n ---> Running in abcdef012345\n",
            "hello\n",
            "Removing intermediate container abcdef012345\n ---> 111111111111\n",
            "Step 3/3 : COPY . /ctx\n",
            " ---> Using cache\n ---> 222222222222\n",
            "[Warning] One or more build-args [BUILD_MODE] were not consumed\n",
            "Successfully built 222222222222\n",
            "Successfully tagged hello:latest\n",
        ];
        let (events, error, built) = run(&chunks, None);
        assert!(error.is_none());
        assert_eq!(built.as_deref(), Some("222222222222"));
        insta::assert_debug_snapshot!(events);
    }

    #[test]
    fn failed_step_is_named_with_its_log_tail() {
        let mut chunks = vec![
            "Step 1/2 : FROM local/busybox:1\n",
            " ---> 0123\n",
            "Step 2/2 : RUN seq 30; false\n",
            " ---> Running in 99\n",
        ];
        let numbers: Vec<String> = (1..=30).map(|n| format!("{n}\n")).collect();
        chunks.extend(numbers.iter().map(String::as_str));
        let (_, error, _) = run(
            &chunks,
            Some("The command '/bin/sh -c seq 30; false' returned a non-zero code: 1"),
        );
        let Some(Error::BuildFailed {
            step,
            message,
            log_tail,
        }) = error
        else {
            panic!("expected a build failure");
        };
        assert_eq!(step.as_deref(), Some("Step 2/2 : RUN seq 30; false"));
        assert!(message.contains("non-zero code: 1"));
        assert_eq!(log_tail.len(), LOG_TAIL_LINES);
        assert_eq!(log_tail.first().map(String::as_str), Some("11"));
        assert_eq!(log_tail.last().map(String::as_str), Some("30"));
    }

    #[test]
    fn the_log_tail_is_plain_text() {
        let (_, error, _) = run(
            &[
                "Step 1/1 : RUN make
",
                "\u{1b}[1;31merror:\u{1b}[0m missing \u{1b}[32mfoo.h\u{1b}[0m\n",
            ],
            Some("\u{1b}[31mThe command returned a non-zero code: 2\u{1b}[0m"),
        );
        let Some(Error::BuildFailed {
            message, log_tail, ..
        }) = error
        else {
            panic!("expected a build failure");
        };
        assert_eq!(log_tail, ["error: missing foo.h"]);
        assert_eq!(message, "The command returned a non-zero code: 2");
    }

    #[test]
    fn a_final_line_without_newline_is_kept() {
        let (events, _, _) = run(&["Step 1/1 : RUN x\n", "no newline"], Some("boom"));
        assert!(
            events.contains(&BuildEvent::Output {
                line: "no newline".into()
            }),
            "{events:?}"
        );
    }
}
