//! Property tests of the daemon stream decoders (the classic builder's output, BuildKit's
//! status updates, the push and pull progress stream): arbitrary input never makes them panic,
//! and however the daemon splits a stream into chunks, they report the same events as for the
//! stream in one piece.
//!
//! Each property runs a bounded number of cases (`CASES`); `PROPTEST_CASES=100000` runs more.

use std::sync::{Arc, Mutex};

use bollard::moby::buildkit::v1::{StatusResponse, Vertex, VertexLog, VertexWarning};
use kiln_core::env::{Env, ProcessEnv};
use kiln_core::{BuildEvent, Error, EventSink};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::FileFailurePersistence;
use serde_json::json;

use crate::buildkit_output::BuildkitOutput;
use crate::classic_output::{ClassicOutput, LOG_TAIL_LINES};
use crate::progress::ProgressDecoder;

/// Cases per property when `PROPTEST_CASES` is not set.
const CASES: u32 = 1024;

/// The configuration of every property here: `CASES` cases unless `PROPTEST_CASES` says more,
/// and failures kept in `proptest-regressions/` (run again first next time).
fn config() -> ProptestConfig {
    let default = ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/decoder_properties.txt",
        ))),
        ..ProptestConfig::default()
    };
    if ProcessEnv.var("PROPTEST_CASES").is_some() {
        default
    } else {
        ProptestConfig {
            cases: CASES,
            ..default
        }
    }
}

/// A sink that records the events, with the classic builder's wall-clock step durations set
/// to 0 so that two runs compare equal.
fn recording() -> (EventSink, Arc<Mutex<Vec<BuildEvent>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let seen = Arc::clone(&seen);
        EventSink::new(move |event| {
            let mut event = event.clone();
            if let BuildEvent::StepFinished { duration_ms, .. } = &mut event {
                *duration_ms = 0;
            }
            seen.lock().expect("the event log").push(event);
        })
    };
    (sink, seen)
}

fn events(seen: &Arc<Mutex<Vec<BuildEvent>>>) -> Vec<BuildEvent> {
    seen.lock().expect("the event log").clone()
}

/// `bytes` cut at the given points (taken modulo its length, each piece non-empty).
fn pieces<'a>(bytes: &'a [u8], cuts: &[Index]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|cut| cut.index(bytes.len() + 1)).collect();
    points.push(0);
    points.push(bytes.len());
    points.sort_unstable();
    points.dedup();
    points
        .windows(2)
        .map(|pair| &bytes[pair[0]..pair[1]])
        .collect()
}

/// `text` cut at the given points, each moved back to a character boundary.
fn text_pieces<'a>(text: &'a str, cuts: &[Index]) -> Vec<&'a str> {
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|cut| {
            let mut at = cut.index(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            at
        })
        .collect();
    points.push(0);
    points.push(text.len());
    points.sort_unstable();
    points.dedup();
    points
        .windows(2)
        .map(|pair| &text[pair[0]..pair[1]])
        .collect()
}

fn cuts() -> impl Strategy<Value = Vec<Index>> {
    prop::collection::vec(any::<Index>(), 0..12)
}

/// Text of the kinds the daemon's messages carry.
fn message_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 :./-]{0,20}",
        Just("Pushing".to_owned()),
        Just("Layer already exists".to_owned()),
        "Digest: sha256:[0-9a-f]{8}",
        "[^\\x00]{0,10}",
    ]
}

/// One line of a push or pull progress stream: the daemon's JSON messages, and some that are
/// not JSON at all.
fn progress_line() -> impl Strategy<Value = String> {
    let layer_id = prop_oneof!["[0-9a-f]{12}", "[a-z0-9]{0,14}"];
    let number = proptest::option::of(0u64..1 << 40);
    prop_oneof![
        message_text().prop_map(|status| json!({ "status": status }).to_string()),
        (message_text(), layer_id, number.clone(), number.clone()).prop_map(
            |(status, id, current, total)| json!({
                "status": status,
                "id": id,
                "progressDetail": { "current": current, "total": total },
            })
            .to_string()
        ),
        ("[0-9a-f]{64}", number).prop_map(|(hex, size)| json!({
            "progressDetail": {},
            "aux": { "Tag": "latest", "Digest": format!("sha256:{hex}"), "Size": size },
        })
        .to_string()),
        message_text().prop_map(|message| json!({
            "errorDetail": { "message": message },
            "error": message,
        })
        .to_string()),
        Just(String::new()),
        Just("{\"status\":".to_owned()),
        "[^\\n]{0,12}",
    ]
}

/// A progress stream: lines ended by `\r\n` or `\n`, the last one maybe not ended.
fn progress_stream() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => (
            prop::collection::vec((progress_line(), prop_oneof![Just("\r\n"), Just("\n")]), 0..12),
            any::<bool>(),
        )
            .prop_map(|(lines, ended)| {
                let mut stream = String::new();
                for (line, end) in &lines {
                    stream.push_str(line);
                    stream.push_str(end);
                }
                if !ended {
                    stream.truncate(stream.trim_end().len());
                }
                stream.into_bytes()
            }),
        1 => prop::collection::vec(any::<u8>(), 0..300),
    ]
}

/// What a progress decoder made of a stream fed in `chunks`.
type ProgressOutcome = (Vec<BuildEvent>, Option<String>, Option<u64>, Option<String>);

fn decode_progress(chunks: &[&[u8]]) -> ProgressOutcome {
    let (sink, seen) = recording();
    let mut decoder = ProgressDecoder::new(sink);
    for chunk in chunks {
        decoder.feed(chunk);
    }
    decoder.finish();
    (events(&seen), decoder.digest, decoder.size, decoder.error)
}

/// One line of the classic builder's output.
fn classic_line() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u32..5, 0u32..5, "[A-Z]{1,5} [a-z ]{0,8}")
            .prop_map(|(index, total, name)| format!("Step {index}/{total} : {name}")),
        Just(" ---> Using cache".to_owned()),
        " ---> [0-9a-f]{12}",
        "Successfully built [0-9a-f]{12}",
        "Successfully tagged [a-z:]{1,8}",
        "Removing intermediate container [0-9a-f]{12}",
        "\\[Warning\\] [a-z ]{0,10}",
        Just("Step x/y : odd".to_owned()),
        "[^\\n]{0,16}",
    ]
}

fn classic_stream() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::collection::vec(
            (classic_line(), prop_oneof![Just("\n"), Just("\r\n"), Just("")]),
            0..14,
        )
        .prop_map(|lines| lines.into_iter().map(|(line, end)| line + end).collect()),
        1 => any::<String>(),
    ]
}

/// What the classic output follower made of a stream fed in `chunks`, ended with `failure`
/// (the daemon's error) or successfully.
fn decode_classic(chunks: &[&str], failure: Option<&str>) -> Result<String, TestCaseError> {
    let (sink, seen) = recording();
    let mut output = ClassicOutput::new(sink);
    for chunk in chunks {
        output.feed(chunk);
    }
    let error = failure.map(|message| output.fail(message));
    if error.is_none() {
        output.finish();
    }
    if let Some(Error::BuildFailed { log_tail, .. }) = &error {
        prop_assert!(
            log_tail.len() <= LOG_TAIL_LINES,
            "{} tail lines",
            log_tail.len()
        );
    }
    Ok(format!(
        "{:?}\n{:?}\n{:?}\n{:?}",
        events(&seen),
        error,
        output.built_id(),
        output.warnings()
    ))
}

/// A protobuf timestamp: usually a plausible one, sometimes any value at all.
fn timestamp() -> impl Strategy<Value = (i64, i32)> {
    prop_oneof![
        4 => (1_700_000_000i64..1_700_000_100, 0i32..1_000_000_000),
        1 => (any::<i64>(), any::<i32>()),
    ]
}

/// One BuildKit status update, with vertexes and logs among a few digests (the last of which
/// no vertex ever has).
#[derive(Debug, Clone)]
struct Update {
    vertexes: Vec<VertexSpec>,
    logs: Vec<(usize, Vec<u8>)>,
    warnings: Vec<Vec<u8>>,
}

#[derive(Debug, Clone)]
struct VertexSpec {
    digest: usize,
    name: String,
    cached: bool,
    started: Option<(i64, i32)>,
    completed: Option<(i64, i32)>,
    error: String,
}

const DIGESTS: [&str; 4] = ["sha256:a", "sha256:b", "sha256:c", "sha256:never"];

fn log_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "([a-z é→]{0,6}(\n|\r\n)?){0,4}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..20),
    ]
}

fn update() -> impl Strategy<Value = Update> {
    let vertex = (
        0..DIGESTS.len() - 1,
        prop_oneof![Just(String::new()), "\\[[0-9]/[0-9]\\] [A-Z]{3} [a-z]{0,6}"],
        any::<bool>(),
        proptest::option::of(timestamp()),
        proptest::option::of(timestamp()),
        prop_oneof![4 => Just(String::new()), 1 => "[a-z ]{1,10}"],
    )
        .prop_map(
            |(digest, name, cached, started, completed, error)| VertexSpec {
                digest,
                name,
                cached,
                started,
                completed,
                error,
            },
        );
    (
        prop::collection::vec(vertex, 0..4),
        prop::collection::vec((0..DIGESTS.len(), log_bytes()), 0..4),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..8), 0..2),
    )
        .prop_map(|(vertexes, logs, warnings)| Update {
            vertexes,
            logs,
            warnings,
        })
}

impl Update {
    /// The update as BuildKit sends it, each log message cut into consecutive pieces at
    /// `cuts` (as the daemon may deliver one process's output in several log entries).
    fn status(&self, cuts: &[Index]) -> StatusResponse {
        let vertexes = self
            .vertexes
            .iter()
            .map(|spec| {
                let mut vertex = Vertex {
                    digest: DIGESTS[spec.digest].to_owned(),
                    name: spec.name.clone(),
                    cached: spec.cached,
                    error: spec.error.clone(),
                    ..Vertex::default()
                };
                // The timestamp type is not re-exported by bollard: fill defaults in place.
                if let Some((seconds, nanos)) = spec.started {
                    let started = vertex.started.get_or_insert_with(Default::default);
                    (started.seconds, started.nanos) = (seconds, nanos);
                }
                if let Some((seconds, nanos)) = spec.completed {
                    let completed = vertex.completed.get_or_insert_with(Default::default);
                    (completed.seconds, completed.nanos) = (seconds, nanos);
                }
                vertex
            })
            .collect();
        let logs = self
            .logs
            .iter()
            .flat_map(|(digest, msg)| {
                pieces(msg, cuts).into_iter().map(|piece| VertexLog {
                    vertex: DIGESTS[*digest].to_owned(),
                    msg: piece.to_vec(),
                    ..VertexLog::default()
                })
            })
            .collect();
        let warnings = self
            .warnings
            .iter()
            .map(|short| VertexWarning {
                short: short.clone(),
                ..VertexWarning::default()
            })
            .collect();
        StatusResponse {
            vertexes,
            logs,
            warnings,
            ..StatusResponse::default()
        }
    }
}

/// What the BuildKit follower made of `updates` (logs cut at `cuts`), then failed.
/// How the updates are delivered.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Delivery {
    /// Each update in one status response.
    Whole,
    /// Each update in several: its vertexes without their completion, each log piece on its
    /// own, then its vertexes again with their completion and its warnings.
    Spread,
}

/// `status` delivered as several status responses (see [`Delivery::Spread`]).
fn spread(status: StatusResponse) -> Vec<StatusResponse> {
    let started = StatusResponse {
        vertexes: status
            .vertexes
            .iter()
            .map(|vertex| Vertex {
                completed: None,
                ..vertex.clone()
            })
            .collect(),
        ..StatusResponse::default()
    };
    let logs = status.logs.iter().map(|log| StatusResponse {
        logs: vec![log.clone()],
        ..StatusResponse::default()
    });
    let completed = StatusResponse {
        logs: Vec::new(),
        ..status.clone()
    };
    std::iter::once(started)
        .chain(logs)
        .chain(std::iter::once(completed))
        .collect()
}

/// What the BuildKit follower made of `updates` (logs cut at `cuts`, delivered as
/// `delivery` says), then failed.
fn decode_buildkit(
    updates: &[Update],
    cuts: &[Index],
    delivery: Delivery,
) -> Result<String, TestCaseError> {
    let (sink, seen) = recording();
    let mut output = BuildkitOutput::new(sink);
    for update in updates {
        let status = update.status(cuts);
        match delivery {
            Delivery::Whole => output.feed(&status),
            Delivery::Spread => spread(status).iter().for_each(|part| output.feed(part)),
        }
    }
    let error = output.fail("the build failed");
    if let Error::BuildFailed { log_tail, .. } = &error {
        prop_assert!(
            log_tail.len() <= LOG_TAIL_LINES,
            "{} tail lines",
            log_tail.len()
        );
    }
    Ok(format!(
        "{:?}\n{error:?}\n{:?}",
        events(&seen),
        output.warnings()
    ))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_progress_stream_decodes_the_same_however_it_is_cut(
        stream in progress_stream(),
        cuts in cuts(),
    ) {
        let whole = decode_progress(&[&stream]);
        prop_assert_eq!(decode_progress(&pieces(&stream, &cuts)), whole);
    }

    #[test]
    fn classic_output_decodes_the_same_however_it_is_cut(
        stream in classic_stream(),
        cuts in cuts(),
        failure in proptest::option::of("[a-z ]{0,12}"),
    ) {
        let whole = decode_classic(&[&stream], failure.as_deref())?;
        prop_assert_eq!(decode_classic(&text_pieces(&stream, &cuts), failure.as_deref())?, whole);
    }

    #[test]
    fn buildkit_logs_decode_the_same_however_they_are_cut(
        updates in prop::collection::vec(update(), 0..6),
        cuts in cuts(),
    ) {
        let whole = decode_buildkit(&updates, &[], Delivery::Whole)?;
        prop_assert_eq!(decode_buildkit(&updates, &cuts, Delivery::Whole)?, whole);
    }

    #[test]
    fn buildkit_updates_decode_the_same_when_spread_over_several(
        updates in prop::collection::vec(update(), 0..6),
        cuts in cuts(),
    ) {
        let whole = decode_buildkit(&updates, &[], Delivery::Whole)?;
        prop_assert_eq!(decode_buildkit(&updates, &cuts, Delivery::Spread)?, whole);
    }
}

// The smallest failing inputs the properties above found, kept as plain tests.

/// A vertex started at `started` seconds, with `digest` as its name.
fn started_vertex(digest: &str, started: i64) -> Vertex {
    let mut vertex = Vertex {
        digest: digest.to_owned(),
        name: digest.to_owned(),
        ..Vertex::default()
    };
    vertex.started.get_or_insert_with(Default::default).seconds = started;
    vertex
}

fn log(digest: &str, msg: &[u8]) -> VertexLog {
    VertexLog {
        vertex: digest.to_owned(),
        msg: msg.to_vec(),
        ..VertexLog::default()
    }
}

#[test]
fn a_character_cut_between_two_buildkit_log_entries_is_kept_whole() {
    let (sink, seen) = recording();
    let mut output = BuildkitOutput::new(sink);
    output.feed(&StatusResponse {
        vertexes: vec![started_vertex("sha256:a", 1_700_000_000)],
        // U+0080 is 0xC2 0x80: the entry ends between its two bytes.
        logs: vec![
            log("sha256:a", b"\0\0\0\xC2"),
            log("sha256:a", b"\x80\nmore"),
        ],
        ..StatusResponse::default()
    });
    let Error::BuildFailed { log_tail, .. } = output.fail("failed") else {
        panic!("a build failure");
    };
    assert_eq!(
        events(&seen)[1],
        BuildEvent::Output {
            line: "\0\0\0\u{80}".to_owned()
        }
    );
    assert_eq!(log_tail, ["\0\0\0\u{80}", "more"]);
}

#[test]
fn out_of_range_buildkit_timestamps_give_a_duration_not_a_panic() {
    // Not `recording()`, which sets durations to 0.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let seen = Arc::clone(&seen);
        EventSink::new(move |event| seen.lock().expect("the event log").push(event.clone()))
    };
    let mut output = BuildkitOutput::new(sink);
    let mut vertex = started_vertex("sha256:a", i64::MIN);
    vertex
        .completed
        .get_or_insert_with(Default::default)
        .seconds = i64::MAX;
    output.feed(&StatusResponse {
        vertexes: vec![vertex],
        ..StatusResponse::default()
    });
    assert_eq!(
        events(&seen).last(),
        Some(&BuildEvent::StepFinished {
            index: 1,
            cached: false,
            duration_ms: u64::try_from(i64::MAX).expect("fits"),
        })
    );
}

#[test]
fn a_failed_buildkit_step_keeps_at_most_the_tail_length() {
    let mut output = BuildkitOutput::new(EventSink::discard());
    let lines = "line\n".repeat(LOG_TAIL_LINES);
    output.feed(&StatusResponse {
        vertexes: vec![started_vertex("sha256:a", 1)],
        logs: vec![log("sha256:a", format!("{lines}unfinished").as_bytes())],
        ..StatusResponse::default()
    });
    let Error::BuildFailed { log_tail, .. } = output.fail("failed") else {
        panic!("a build failure");
    };
    assert_eq!(log_tail.len(), LOG_TAIL_LINES);
    assert_eq!(log_tail.last().map(String::as_str), Some("unfinished"));
}
