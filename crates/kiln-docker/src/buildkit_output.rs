//! Turning BuildKit's status updates (vertexes, logs, warnings) into the same build events as
//! the classic builder's output, and a failed vertex into a typed error.

use std::collections::{HashMap, VecDeque};

use bollard::moby::buildkit::v1::StatusResponse;
use kiln_core::{BuildEvent, Error, EventSink};

use crate::ansi;
use crate::classic_output::LOG_TAIL_LINES;

/// Seconds and nanoseconds of a protobuf timestamp, as milliseconds.
fn millis(seconds: i64, nanos: i32) -> i64 {
    seconds * 1000 + i64::from(nanos) / 1_000_000
}

#[derive(Debug, Default)]
struct Step {
    index: u32,
    name: String,
    started_ms: Option<i64>,
    finished: bool,
    partial: String,
    tail: VecDeque<String>,
}

/// Follows one BuildKit build.
#[derive(Debug)]
pub struct BuildkitOutput {
    events: EventSink,
    steps: HashMap<String, Step>,
    next_index: u32,
    last_started: Option<String>,
    failed: Option<(String, String)>,
    warnings: Vec<String>,
}

impl BuildkitOutput {
    /// A follower that reports to `events`.
    pub fn new(events: EventSink) -> Self {
        BuildkitOutput {
            events,
            steps: HashMap::new(),
            next_index: 1,
            last_started: None,
            failed: None,
            warnings: Vec::new(),
        }
    }

    /// Warnings BuildKit reported.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Feeds one status update.
    pub fn feed(&mut self, status: &StatusResponse) {
        for vertex in &status.vertexes {
            let next_index = &mut self.next_index;
            let step = self.steps.entry(vertex.digest.clone()).or_insert_with(|| {
                let index = *next_index;
                *next_index += 1;
                Step {
                    index,
                    ..Step::default()
                }
            });
            if !vertex.name.is_empty() {
                step.name.clone_from(&vertex.name);
            }
            if let (Some(started), None) = (&vertex.started, step.started_ms) {
                step.started_ms = Some(millis(started.seconds, started.nanos));
                self.last_started = Some(vertex.digest.clone());
                self.events.emit(BuildEvent::StepStarted {
                    index: step.index,
                    total: None,
                    name: step.name.clone(),
                });
            }
            if !vertex.error.is_empty() && self.failed.is_none() {
                self.failed = Some((vertex.digest.clone(), vertex.error.clone()));
            }
        }
        for log in &status.logs {
            let Some(step) = self.steps.get_mut(&log.vertex) else {
                continue;
            };
            step.partial.push_str(&String::from_utf8_lossy(&log.msg));
            while let Some(end) = step.partial.find('\n') {
                let line: String = step.partial.drain(..=end).collect();
                let line = line.trim_end_matches(['\n', '\r']).to_owned();
                if step.tail.len() == LOG_TAIL_LINES {
                    step.tail.pop_front();
                }
                step.tail.push_back(ansi::strip(&line).into_owned());
                self.events.emit(BuildEvent::Output { line });
            }
        }
        // Completions last: a step's final log lines come in the same update.
        for vertex in &status.vertexes {
            let Some(step) = self.steps.get_mut(&vertex.digest) else {
                continue;
            };
            if let Some(completed) = &vertex.completed
                && !step.finished
            {
                step.finished = true;
                let end = millis(completed.seconds, completed.nanos);
                let duration = end - step.started_ms.unwrap_or(end);
                self.events.emit(BuildEvent::StepFinished {
                    index: step.index,
                    cached: vertex.cached,
                    duration_ms: u64::try_from(duration).unwrap_or(0),
                });
            }
        }
        for warning in &status.warnings {
            let text = String::from_utf8_lossy(&warning.short).trim().to_owned();
            if !text.is_empty() {
                self.warnings.push(text.clone());
                self.events.warn(text);
            }
        }
    }

    /// The error for a build that ended with the daemon's `message`: the failed vertex (or the
    /// last one started) with its name, error and log tail.
    pub fn fail(&mut self, message: &str) -> Error {
        let (digest, vertex_error) = match self.failed.clone() {
            Some((digest, error)) => (Some(digest), Some(error)),
            None => (self.last_started.clone(), None),
        };
        let step = digest
            .as_ref()
            .and_then(|digest| self.steps.get_mut(digest));
        let (name, tail) = match step {
            Some(step) => {
                if !step.partial.is_empty() {
                    let rest = std::mem::take(&mut step.partial);
                    step.tail
                        .push_back(ansi::strip(rest.trim_end()).into_owned());
                }
                (Some(step.name.clone()), step.tail.iter().cloned().collect())
            }
            None => (None, Vec::new()),
        };
        Error::BuildFailed {
            step: name,
            message: ansi::strip(&vertex_error.unwrap_or_else(|| message.trim().to_owned()))
                .into_owned(),
            log_tail: tail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::moby::buildkit::v1::{Vertex, VertexLog};
    use std::sync::{Arc, Mutex};

    fn vertex(digest: &str, name: &str, started: Option<i64>, completed: Option<i64>) -> Vertex {
        let mut vertex = Vertex {
            digest: digest.into(),
            name: name.into(),
            ..Vertex::default()
        };
        // The timestamp type is not re-exported by bollard: fill defaults in place.
        if let Some(seconds) = started {
            vertex.started.get_or_insert_with(Default::default).seconds = seconds;
        }
        if let Some(seconds) = completed {
            vertex
                .completed
                .get_or_insert_with(Default::default)
                .seconds = seconds;
        }
        vertex
    }

    fn recording() -> (EventSink, Arc<Mutex<Vec<BuildEvent>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = {
            let seen = Arc::clone(&seen);
            EventSink::new(move |event| seen.lock().unwrap().push(event.clone()))
        };
        (sink, seen)
    }

    #[test]
    fn vertexes_become_steps_and_logs_become_lines() {
        let (sink, seen) = recording();
        let mut output = BuildkitOutput::new(sink);
        output.feed(&StatusResponse {
            vertexes: vec![
                vertex("sha256:a", "[1/2] FROM local/busybox:1", Some(10), Some(10)),
                vertex(
                    "sha256:b",
                    "[2/2] RUN --mount=type=cache,target=/c echo hi",
                    Some(11),
                    None,
                ),
            ],
            ..StatusResponse::default()
        });
        output.feed(&StatusResponse {
            vertexes: vec![vertex("sha256:b", "", Some(11), Some(13))],
            logs: vec![VertexLog {
                vertex: "sha256:b".into(),
                msg: b"hi\nthere\n".to_vec(),
                ..VertexLog::default()
            }],
            ..StatusResponse::default()
        });
        insta::assert_debug_snapshot!(seen.lock().unwrap().clone());
    }

    #[test]
    fn a_failed_vertex_is_named_with_its_tail() {
        let (sink, _) = recording();
        let mut output = BuildkitOutput::new(sink);
        let mut failing = vertex(
            "sha256:b",
            "[2/2] RUN echo before && exit 3",
            Some(1),
            Some(2),
        );
        failing.error = "process \"/bin/sh -c echo before && exit 3\" did not complete successfully: exit code: 3".into();
        output.feed(&StatusResponse {
            vertexes: vec![failing],
            logs: vec![VertexLog {
                vertex: "sha256:b".into(),
                msg: b"before\n".to_vec(),
                ..VertexLog::default()
            }],
            ..StatusResponse::default()
        });
        let Error::BuildFailed {
            step,
            message,
            log_tail,
        } = output.fail("executor failed")
        else {
            panic!("a build failure");
        };
        assert_eq!(step.as_deref(), Some("[2/2] RUN echo before && exit 3"));
        assert!(message.contains("exit code: 3"), "{message}");
        assert_eq!(log_tail, ["before"]);
    }

    #[test]
    fn the_log_tail_is_plain_text() {
        let (sink, _) = recording();
        let mut output = BuildkitOutput::new(sink);
        output.feed(&StatusResponse {
            vertexes: vec![vertex("sha256:c", "[2/2] RUN make", Some(1), None)],
            logs: vec![VertexLog {
                vertex: "sha256:c".into(),
                msg: b"\x1b[1;31merror:\x1b[0m missing foo.h\n\x1b[33mhalf".to_vec(),
                ..VertexLog::default()
            }],
            ..StatusResponse::default()
        });
        let Error::BuildFailed { log_tail, .. } = output.fail("exit code: 2") else {
            panic!("a build failure");
        };
        assert_eq!(log_tail, ["error: missing foo.h", "half"]);
    }
}
