//! Build events: what a running build reports, the same for every builder and engine.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// One thing that happened during a build, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum BuildEvent {
    /// Bytes of the build context sent to the daemon so far.
    ContextSent {
        /// Bytes sent.
        bytes: u64,
    },
    /// The daemon finished pulling the context through the build session (BuildKit): what it
    /// asked for, out of what the context holds. Files it kept from an earlier build of the
    /// same context cost nothing.
    ContextSynced {
        /// The file contents sent, and the context's.
        sent: ContextSent,
    },
    /// A build step started.
    StepStarted {
        /// 1-based index of the step.
        index: u32,
        /// Number of steps, when the builder knows it.
        total: Option<u32>,
        /// The step as the builder names it (`RUN make`).
        name: String,
    },
    /// A build step finished.
    StepFinished {
        /// 1-based index of the step.
        index: u32,
        /// Whether the builder reused a cached result.
        cached: bool,
        /// How long the step took, in milliseconds.
        duration_ms: u64,
    },
    /// A line the build printed.
    Output {
        /// The line, without its line break.
        line: String,
    },
    /// Progress of one layer of a push or pull.
    Layer {
        /// The layer (short digest as the daemon names it).
        id: String,
        /// Its state: `Preparing`, `Waiting`, `Pushing`, `Pushed`, `Layer already exists`,
        /// `Downloading`, `Pull complete`, ...
        status: String,
        /// Bytes done, while transferring.
        current: Option<u64>,
        /// Bytes in all, when known.
        total: Option<u64>,
    },
    /// What kiln is doing or waiting for (not the build's own output).
    Note {
        /// The note.
        message: String,
    },
    /// Something the user should know, but that does not stop the build.
    Warning {
        /// The warning.
        message: String,
    },
}

/// How much of a context's file contents a build sent to the daemon, when the daemon pulls the
/// context file by file (BuildKit's `FileSync`) and asks only for files it does not hold yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextSent {
    /// Bytes of file contents sent (the payload of the data the daemon asked for; a file asked
    /// for twice, as `.dockerignore` is, counts twice).
    pub bytes: u64,
    /// Files whose contents were sent, each once.
    pub files: u64,
    /// Bytes of file contents the daemon could have asked for: the context's, after
    /// `.dockerignore`, and the Dockerfile's.
    pub context_bytes: u64,
    /// Regular files the daemon could have asked for: the context's and the Dockerfile.
    pub context_files: u64,
}

type Callback = dyn Fn(&BuildEvent) + Send + Sync;

/// Where build events go. Cheap to clone; the default discards everything.
#[derive(Clone, Default)]
pub struct EventSink(Option<Arc<Callback>>);

impl EventSink {
    /// A sink that calls `callback` for every event. The callback must not block for long.
    pub fn new(callback: impl Fn(&BuildEvent) + Send + Sync + 'static) -> Self {
        EventSink(Some(Arc::new(callback)))
    }

    /// A sink that drops every event.
    pub fn discard() -> Self {
        EventSink(None)
    }

    /// Delivers one event.
    pub fn emit(&self, event: BuildEvent) {
        if let Some(callback) = &self.0 {
            callback(&event);
        }
    }

    /// Delivers a warning.
    pub fn warn(&self, message: impl Into<String>) {
        self.emit(BuildEvent::Warning {
            message: message.into(),
        });
    }
}

impl fmt::Debug for EventSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "EventSink(callback)"
        } else {
            "EventSink(discard)"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn events_reach_the_callback_in_order() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = {
            let seen = Arc::clone(&seen);
            EventSink::new(move |event| seen.lock().unwrap().push(event.clone()))
        };
        sink.emit(BuildEvent::Output { line: "a".into() });
        sink.warn("b");
        assert_eq!(
            *seen.lock().unwrap(),
            vec![
                BuildEvent::Output { line: "a".into() },
                BuildEvent::Warning {
                    message: "b".into()
                }
            ]
        );
    }

    #[test]
    fn events_serialise_with_a_tag() {
        let json = serde_json::to_string(&BuildEvent::StepStarted {
            index: 1,
            total: Some(3),
            name: "RUN true".into(),
        })
        .unwrap();
        assert_eq!(
            json,
            r#"{"event":"step_started","index":1,"total":3,"name":"RUN true"}"#
        );
    }
}
