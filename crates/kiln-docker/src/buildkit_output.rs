//! Turning BuildKit's status updates (vertexes, logs, warnings) into the same build events as
//! the classic builder's output, and a failed vertex into a typed error.

use std::collections::{HashMap, VecDeque};

use bollard::moby::buildkit::v1::StatusResponse;
use kiln_core::{BuildEvent, Error, EventSink};

use crate::ansi;
use crate::classic_output::LOG_TAIL_LINES;

/// Seconds and nanoseconds of a protobuf timestamp, as milliseconds (saturating: the daemon's
/// timestamps are not trusted to be in range).
fn millis(seconds: i64, nanos: i32) -> i64 {
    seconds
        .saturating_mul(1000)
        .saturating_add(i64::from(nanos) / 1_000_000)
}

#[derive(Debug, Default)]
struct Step {
    /// When BuildKit first named it: the order steps are announced in.
    seen: u64,
    /// The number it was announced with; `None` until it is.
    index: Option<u32>,
    name: String,
    started_ms: Option<i64>,
    finished: bool,
    /// Bytes of an unfinished line: a log entry may end inside a UTF-8 character.
    partial: Vec<u8>,
    tail: VecDeque<String>,
}

/// Follows one BuildKit build.
///
/// BuildKit starts several vertexes before it says how the first one ended (a cache hit is
/// known only at completion), so announcing each at its start would print `cached` lines
/// long after, under other steps. Each step is announced once, numbered in announcement
/// order: when it starts while no announced step is still open, or else when it first prints
/// or finishes, its finish following its announcement. When the open step finishes, the
/// earliest started step waiting is announced next.
#[derive(Debug)]
pub struct BuildkitOutput {
    events: EventSink,
    steps: HashMap<String, Step>,
    next_seen: u64,
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
            next_seen: 0,
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
            let next_seen = &mut self.next_seen;
            let step = self.steps.entry(vertex.digest.clone()).or_insert_with(|| {
                *next_seen += 1;
                Step {
                    seen: *next_seen,
                    ..Step::default()
                }
            });
            if !vertex.name.is_empty() {
                step.name.clone_from(&vertex.name);
            }
            if let (Some(started), None) = (&vertex.started, step.started_ms) {
                step.started_ms = Some(millis(started.seconds, started.nanos));
                self.last_started = Some(vertex.digest.clone());
                if !self.any_open() {
                    self.announce(&vertex.digest);
                }
            }
            if !vertex.error.is_empty() && self.failed.is_none() {
                self.failed = Some((vertex.digest.clone(), vertex.error.clone()));
            }
        }
        for log in &status.logs {
            let Some(step) = self.steps.get_mut(&log.vertex) else {
                continue;
            };
            step.partial.extend_from_slice(&log.msg);
            let mut lines = Vec::new();
            while let Some(end) = step.partial.iter().position(|&b| b == b'\n') {
                let bytes: Vec<u8> = step.partial.drain(..=end).collect();
                let line = String::from_utf8_lossy(&bytes)
                    .trim_end_matches(['\n', '\r'])
                    .to_owned();
                if step.tail.len() == LOG_TAIL_LINES {
                    step.tail.pop_front();
                }
                step.tail.push_back(ansi::strip(&line).into_owned());
                lines.push(line);
            }
            if !lines.is_empty() {
                self.announce(&log.vertex);
            }
            for line in lines {
                self.events.emit(BuildEvent::Output { line });
            }
        }
        // Completions last (a step's final log lines come in the same update), in the order
        // the steps were first named.
        let mut completed: Vec<(u64, &str, bool, i64)> = status
            .vertexes
            .iter()
            .filter_map(|vertex| {
                let completed = vertex.completed.as_ref()?;
                let step = self.steps.get(&vertex.digest)?;
                (!step.finished).then_some((
                    step.seen,
                    vertex.digest.as_str(),
                    vertex.cached,
                    millis(completed.seconds, completed.nanos),
                ))
            })
            .collect();
        completed.sort_by_key(|(seen, ..)| *seen);
        completed.dedup_by_key(|(seen, ..)| *seen);
        for (_, digest, cached, end) in completed {
            self.finish(digest, cached, end);
        }
        for warning in &status.warnings {
            let text = String::from_utf8_lossy(&warning.short).trim().to_owned();
            if !text.is_empty() {
                self.warnings.push(text.clone());
                self.events.warn(text);
            }
        }
    }

    /// Whether an announced step has not finished yet.
    fn any_open(&self) -> bool {
        self.steps
            .values()
            .any(|step| step.index.is_some() && !step.finished)
    }

    /// Announces the step `digest` unless it was announced already.
    fn announce(&mut self, digest: &str) {
        let Some(step) = self.steps.get_mut(digest) else {
            return;
        };
        if step.index.is_some() {
            return;
        }
        let index = self.next_index;
        self.next_index += 1;
        step.index = Some(index);
        self.events.emit(BuildEvent::StepStarted {
            index,
            total: None,
            name: step.name.clone(),
        });
    }

    /// Ends the step `digest` at `end_ms`, announcing it first if needed, then announces the
    /// earliest started step that waits, when no step is open any more.
    fn finish(&mut self, digest: &str, cached: bool, end_ms: i64) {
        self.announce(digest);
        let Some(step) = self.steps.get_mut(digest) else {
            return;
        };
        step.finished = true;
        let duration = end_ms.saturating_sub(step.started_ms.unwrap_or(end_ms));
        self.events.emit(BuildEvent::StepFinished {
            index: step.index.unwrap_or_default(),
            cached,
            duration_ms: u64::try_from(duration).unwrap_or(0),
        });
        if self.any_open() {
            return;
        }
        let waiting = self
            .steps
            .iter()
            .filter(|(_, step)| step.started_ms.is_some() && step.index.is_none())
            .min_by_key(|(_, step)| step.seen)
            .map(|(digest, _)| digest.clone());
        if let Some(digest) = waiting {
            self.announce(&digest);
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
                    if step.tail.len() == LOG_TAIL_LINES {
                        step.tail.pop_front();
                    }
                    let rest = String::from_utf8_lossy(&rest);
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

    /// Steps as the CLI prints them: `[n] name`, `cached`, output lines.
    fn printed(events: &[BuildEvent]) -> Vec<String> {
        events
            .iter()
            .filter_map(|event| match event {
                BuildEvent::StepStarted { index, name, .. } => Some(format!("[{index}] {name}")),
                BuildEvent::StepFinished { cached: true, .. } => Some("cached".to_owned()),
                BuildEvent::Output { line } => Some(line.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn cached_steps_print_once_in_order_under_their_names() {
        let (sink, seen) = recording();
        let mut output = BuildkitOutput::new(sink);
        let names = [
            "[1/4] FROM base",
            "[2/4] RUN one",
            "[3/4] COPY a /a",
            "[4/4] RUN two",
        ];
        let digests = ["sha256:1", "sha256:2", "sha256:3", "sha256:4"];
        // BuildKit names every step, starts them all, then says how each ended, in any order
        // and more than once.
        output.feed(&StatusResponse {
            vertexes: (0..4)
                .map(|i| vertex(digests[i], names[i], None, None))
                .collect(),
            ..StatusResponse::default()
        });
        output.feed(&StatusResponse {
            vertexes: (0..4)
                .map(|i| vertex(digests[i], names[i], Some(5), None))
                .collect(),
            ..StatusResponse::default()
        });
        let done = |i: usize| {
            let mut done = vertex(digests[i], names[i], Some(5), Some(6));
            done.cached = true;
            done
        };
        output.feed(&StatusResponse {
            vertexes: vec![done(3), done(1), done(0), done(2)],
            ..StatusResponse::default()
        });
        output.feed(&StatusResponse {
            vertexes: vec![done(1), done(3)],
            ..StatusResponse::default()
        });
        assert_eq!(
            printed(&seen.lock().unwrap()),
            [
                "[1] [1/4] FROM base",
                "cached",
                "[2] [2/4] RUN one",
                "cached",
                "[3] [3/4] COPY a /a",
                "cached",
                "[4] [4/4] RUN two",
                "cached",
            ]
        );
    }

    #[test]
    fn a_running_step_is_announced_before_its_output() {
        let (sink, seen) = recording();
        let mut output = BuildkitOutput::new(sink);
        output.feed(&StatusResponse {
            vertexes: vec![
                vertex("sha256:a", "[1/2] FROM base", Some(1), None),
                vertex("sha256:b", "[2/2] RUN slow", Some(1), None),
            ],
            ..StatusResponse::default()
        });
        output.feed(&StatusResponse {
            vertexes: vec![vertex("sha256:a", "", Some(1), Some(2))],
            ..StatusResponse::default()
        });
        output.feed(&StatusResponse {
            logs: vec![VertexLog {
                vertex: "sha256:b".into(),
                msg: b"working\n".to_vec(),
                ..VertexLog::default()
            }],
            vertexes: vec![vertex("sha256:b", "", Some(1), Some(9))],
            ..StatusResponse::default()
        });
        assert_eq!(
            printed(&seen.lock().unwrap()),
            ["[1] [1/2] FROM base", "[2] [2/2] RUN slow", "working"]
        );
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
