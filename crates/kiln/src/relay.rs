//! Events of builds running side by side, relayed so that one build's events never interleave
//! with another's: one build at a time streams live; the others hold theirs until it finishes.

use std::sync::{Arc, Mutex};

use kiln_core::{BuildEvent, EventSink};

/// Hands the live stream from one build to the next, in the order the builds were numbered.
#[derive(Clone)]
pub(crate) struct Relay {
    state: Arc<Mutex<State>>,
    out: EventSink,
}

struct State {
    /// The build whose events go straight out, once one has spoken.
    live: Option<usize>,
    held: Vec<Vec<BuildEvent>>,
    finished: Vec<bool>,
}

impl Relay {
    /// A relay for `builds` builds, writing to `out`.
    pub(crate) fn new(builds: usize, out: EventSink) -> Self {
        Relay {
            state: Arc::new(Mutex::new(State {
                live: None,
                held: vec![Vec::new(); builds],
                finished: vec![false; builds],
            })),
            out,
        }
    }

    /// The sink of build `index`.
    pub(crate) fn sink(&self, index: usize) -> EventSink {
        let relay = self.clone();
        EventSink::new(move |event| relay.emit(index, event))
    }

    fn emit(&self, index: usize, event: &BuildEvent) {
        // Emitting under the lock keeps the order: a build that takes over later flushes after.
        let Ok(mut state) = self.state.lock() else {
            return self.out.emit(event.clone());
        };
        match state.live {
            None => {
                state.live = Some(index);
                self.out.emit(event.clone());
            }
            Some(live) if live == index => self.out.emit(event.clone()),
            Some(_) => state.held[index].push(event.clone()),
        }
    }

    /// Marks build `index` finished: when it was live, the finished builds' held events go out,
    /// and the first unfinished build that has spoken (or the first unfinished one) goes live.
    pub(crate) fn finish(&self, index: usize) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        state.finished[index] = true;
        if state.live.is_some_and(|live| live != index) {
            return;
        }
        state.live = None;
        for done in 0..state.finished.len() {
            if state.finished[done] {
                for event in std::mem::take(&mut state.held[done]) {
                    self.out.emit(event);
                }
            }
        }
        let next = (0..state.finished.len())
            .filter(|&build| !state.finished[build])
            .min_by_key(|&build| state.held[build].is_empty());
        if let Some(next) = next {
            state.live = Some(next);
            for event in std::mem::take(&mut state.held[next]) {
                self.out.emit(event);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(text: &str) -> BuildEvent {
        BuildEvent::Note {
            message: text.to_owned(),
        }
    }

    fn recorder() -> (EventSink, Arc<Mutex<Vec<String>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let sink = EventSink::new(move |event| {
            if let BuildEvent::Note { message } = event {
                log.lock().unwrap().push(message.clone());
            }
        });
        (sink, seen)
    }

    #[test]
    fn each_build_comes_out_as_one_block() {
        let (out, seen) = recorder();
        let relay = Relay::new(3, out);
        let (a, b, c) = (relay.sink(0), relay.sink(1), relay.sink(2));
        b.emit(note("b1"));
        a.emit(note("a1"));
        c.emit(note("c1"));
        b.emit(note("b2"));
        a.emit(note("a2"));
        relay.finish(0);
        c.emit(note("c2"));
        relay.finish(2);
        b.emit(note("b3"));
        relay.finish(1);
        assert_eq!(
            *seen.lock().unwrap(),
            ["b1", "b2", "b3", "a1", "a2", "c1", "c2"],
            "b spoke first and stays live until it finishes; a and c wait their turn"
        );
    }

    #[test]
    fn a_finished_build_hands_over_to_one_that_has_spoken() {
        let (out, seen) = recorder();
        let relay = Relay::new(3, out);
        let (a, c) = (relay.sink(0), relay.sink(2));
        a.emit(note("a1"));
        c.emit(note("c1"));
        relay.finish(0);
        c.emit(note("c2"));
        relay.finish(2);
        relay.finish(1);
        assert_eq!(*seen.lock().unwrap(), ["a1", "c1", "c2"]);
    }

    #[test]
    fn held_events_of_builds_that_finished_early_come_out() {
        let (out, seen) = recorder();
        let relay = Relay::new(2, out);
        let (a, b) = (relay.sink(0), relay.sink(1));
        a.emit(note("a1"));
        b.emit(note("b1"));
        relay.finish(1);
        a.emit(note("a2"));
        relay.finish(0);
        assert_eq!(*seen.lock().unwrap(), ["a1", "a2", "b1"]);
    }
}
