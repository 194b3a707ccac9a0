//! The container cases of the runtime suite (see
//! [`runtime_conformance`](super::runtime_conformance), whose macro runs them).

use std::time::{Duration, Instant};

use crate::container::{
    ContainerState, ExitStatus, LogOptions, LogSource, PortSpec, Protocol, Removal,
};
use crate::error::Error;
use crate::testing::runtime_conformance::{LABEL, RuntimeTarget, lines};
use crate::testing::script::Script;

/// A container's exit code and OOM kill reach `wait` and `inspect`.
pub async fn a_container_exits_with_its_code(target: &RuntimeTarget) {
    let spec = target.spec("exit", "c", &Script::new().stdout("hello").exit(3));
    let id = target.containers.create(spec).await.expect("create");
    let created = target.containers.inspect(&id).await.expect("inspect");
    let created = created.expect("the created container exists");
    assert_eq!(created.state, ContainerState::Created);
    assert_eq!(created.name, target.name("exit", "c"));
    assert_eq!(created.exit_code, None);
    assert_eq!(created.labels.get(LABEL), Some(&target.unique));
    target.containers.start(&id).await.expect("start");
    let status = target.containers.wait(&id).await.expect("wait");
    assert_eq!(
        status,
        ExitStatus {
            code: 3,
            oom_killed: false
        }
    );
    let ended = target.containers.inspect(&id).await.expect("inspect");
    let ended = ended.expect("the ended container exists");
    assert_eq!(ended.state, ContainerState::Exited);
    assert_eq!(ended.exit_code, Some(3));
    assert!(!ended.oom_killed);
    assert!(
        ended.started_at.is_some() && ended.finished_at.is_some(),
        "{ended:?}"
    );
    assert_eq!(
        ended.raw["Id"].as_str(),
        Some(id.as_str()),
        "raw is the engine's answer"
    );
    target.clean_up().await;
}

/// Lines printed on stdout and stderr come back apart, in order.
pub async fn stdout_and_stderr_land_apart(target: &RuntimeTarget) {
    let mut script = Script::new();
    for index in 1..=5 {
        script = script.stdout(format!("out-{index}"));
        if index <= 3 {
            script = script.stderr(format!("err-{index}"));
        }
    }
    let id = target.run(target.spec("apart", "c", &script)).await;
    assert_eq!(target.containers.wait(&id).await.expect("wait").code, 0);
    let chunks = target.logs(&id, LogOptions::new()).await;
    assert_eq!(
        lines(&chunks, LogSource::Stdout),
        ["out-1", "out-2", "out-3", "out-4", "out-5"]
    );
    assert_eq!(
        lines(&chunks, LogSource::Stderr),
        ["err-1", "err-2", "err-3"]
    );
    assert!(lines(&chunks, LogSource::Console).is_empty());
    target.clean_up().await;
}

/// A container with a terminal prints everything on one console stream.
pub async fn a_tty_logs_to_the_console(target: &RuntimeTarget) {
    let script = Script::new().stdout("to-out").stderr("to-err");
    let id = target.run(target.spec("tty", "c", &script).tty(true)).await;
    target.containers.wait(&id).await.expect("wait");
    let chunks = target.logs(&id, LogOptions::new()).await;
    assert!(
        chunks.iter().all(|c| c.stream == LogSource::Console),
        "{chunks:?}"
    );
    assert_eq!(lines(&chunks, LogSource::Console), ["to-out", "to-err"]);
    target.clean_up().await;
}

/// `tail` keeps the last lines; `timestamps` prefixes each line with its RFC 3339 time.
pub async fn logs_keep_the_tail_and_add_timestamps(target: &RuntimeTarget) {
    let script = Script::new()
        .stdout("l1")
        .stdout("l2")
        .stdout("l3")
        .stdout("l4");
    let id = target.run(target.spec("tail", "c", &script)).await;
    target.containers.wait(&id).await.expect("wait");
    let tail = target.logs(&id, LogOptions::new().tail(2)).await;
    assert_eq!(lines(&tail, LogSource::Stdout), ["l3", "l4"]);
    let stamped = target.logs(&id, LogOptions::new().timestamps(true)).await;
    let stamped = lines(&stamped, LogSource::Stdout);
    assert_eq!(stamped.len(), 4, "{stamped:?}");
    for (line, expected) in stamped.iter().zip(["l1", "l2", "l3", "l4"]) {
        let (time, text) = line.split_once(' ').expect("a time, a space, the line");
        assert_eq!(text, expected);
        assert!(
            time.len() >= 20 && time.as_bytes()[4] == b'-' && time.contains('T'),
            "{time:?} is an RFC 3339 time"
        );
    }
    target.clean_up().await;
}

/// A container that exceeds its memory limit is OOM-killed, and says so.
pub async fn exceeding_the_memory_limit_is_an_oom_kill(target: &RuntimeTarget) {
    let spec = target.spec("oom", "c", &Script::new().exhaust_memory());
    let id = target.run(spec.memory_bytes(16 << 20)).await;
    let status = target.containers.wait(&id).await.expect("wait");
    assert!(status.oom_killed && status.code != 0, "{status:?}");
    let details = target.containers.inspect(&id).await.expect("inspect");
    assert!(details.expect("it exists").oom_killed);
    target.clean_up().await;
}

/// `stop` sends SIGTERM first: a container that handles it ends at once with its own code.
pub async fn stop_sends_sigterm_first(target: &RuntimeTarget) {
    let script = Script::new()
        .on_term("stopping", 7)
        .stdout("ready")
        .run_until_stopped();
    let id = target.run(target.spec("term", "c", &script)).await;
    target.wait_for_line(&id, "ready").await;
    let started = Instant::now();
    target
        .containers
        .stop(&id, Duration::from_secs(30))
        .await
        .expect("stop");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let status = target.containers.wait(&id).await.expect("wait");
    assert_eq!(
        status,
        ExitStatus {
            code: 7,
            oom_killed: false
        }
    );
    let chunks = target.logs(&id, LogOptions::new()).await;
    assert_eq!(lines(&chunks, LogSource::Stdout), ["ready", "stopping"]);
    target
        .containers
        .stop(&id, Duration::from_secs(1))
        .await
        .expect("stopping a stopped container is nothing to do");
    target.clean_up().await;
}

/// `stop` kills a container that ignores SIGTERM once the grace period ends.
pub async fn stop_kills_after_the_grace_period(target: &RuntimeTarget) {
    let script = Script::new().stdout("ready").run_until_stopped();
    let id = target.run(target.spec("grace", "c", &script)).await;
    target.wait_for_line(&id, "ready").await;
    let started = Instant::now();
    let grace = Duration::from_secs(1);
    target.containers.stop(&id, grace).await.expect("stop");
    assert!(
        started.elapsed() >= grace * 9 / 10,
        "{:?}",
        started.elapsed()
    );
    let status = target.containers.wait(&id).await.expect("wait");
    assert_eq!(
        status,
        ExitStatus {
            code: 137,
            oom_killed: false
        }
    );
    target.clean_up().await;
}

/// `kill` ends a running container with SIGKILL; killing it again is nothing to do.
pub async fn kill_ends_a_running_container(target: &RuntimeTarget) {
    let script = Script::new().stdout("ready").run_until_stopped();
    let id = target.run(target.spec("kill", "c", &script)).await;
    target.wait_for_line(&id, "ready").await;
    target.containers.kill(&id).await.expect("kill");
    let status = target.containers.wait(&id).await.expect("wait");
    assert_eq!(
        status,
        ExitStatus {
            code: 137,
            oom_killed: false
        }
    );
    target
        .containers
        .kill(&id)
        .await
        .expect("kill an ended container");
    let details = target.containers.inspect(&id).await.expect("inspect");
    assert_eq!(details.expect("it exists").state, ContainerState::Exited);
    target.clean_up().await;
}

/// A command run in a running container gives its exit code.
pub async fn exec_gives_the_exit_code(target: &RuntimeTarget) {
    let script = Script::new().stdout("ready").run_until_stopped();
    let id = target.run(target.spec("exec", "c", &script)).await;
    target.wait_for_line(&id, "ready").await;
    let yes = target.containers.exec(&id, vec!["true".to_owned()]).await;
    assert_eq!(yes.expect("exec true"), 0);
    let no = target.containers.exec(&id, vec!["false".to_owned()]).await;
    assert_eq!(no.expect("exec false"), 1);
    target.containers.kill(&id).await.expect("kill");
    target.containers.wait(&id).await.expect("wait");
    assert!(
        target
            .containers
            .exec(&id, vec!["true".to_owned()])
            .await
            .is_err(),
        "no exec in an ended container"
    );
    target.clean_up().await;
}

/// A followed log delivers lines printed after the call, and ends when the container does.
pub async fn following_logs_sees_later_lines(target: &RuntimeTarget) {
    let script = Script::new()
        .stdout("early")
        .sleep(Duration::from_secs(1))
        .stdout("late-1")
        .stdout("late-2");
    let id = target.run(target.spec("follow", "c", &script)).await;
    let chunks = target.logs(&id, LogOptions::new().follow(true)).await;
    assert_eq!(
        lines(&chunks, LogSource::Stdout),
        ["early", "late-1", "late-2"]
    );
    assert_eq!(target.containers.wait(&id).await.expect("wait").code, 0);
    target.clean_up().await;
}

/// Removing is `Removed`, then `NotFound`; a running container needs `force`.
pub async fn removing_twice_is_removed_then_not_found(target: &RuntimeTarget) {
    let id = target
        .run(target.spec("remove", "ended", &Script::new()))
        .await;
    target.containers.wait(&id).await.expect("wait");
    assert_eq!(
        target.containers.remove(&id, false).await.expect("remove"),
        Removal::Removed
    );
    assert_eq!(
        target.containers.remove(&id, false).await.expect("again"),
        Removal::NotFound
    );
    assert_eq!(target.containers.inspect(&id).await.expect("inspect"), None);
    let running = target
        .run(target.spec("remove", "running", &Script::new().run_until_stopped()))
        .await;
    let error = target
        .containers
        .remove(&running, false)
        .await
        .expect_err("it runs");
    assert!(
        matches!(
            error,
            Error::InUse {
                what: "container",
                ..
            }
        ),
        "{error:?}"
    );
    let forced = target
        .containers
        .remove(&running, true)
        .await
        .expect("force");
    assert_eq!(forced, Removal::Removed);
    target.clean_up().await;
}

/// A name already taken is `ContainerNameConflict`, naming it.
pub async fn a_taken_name_is_a_conflict(target: &RuntimeTarget) {
    let spec = target.spec("conflict", "c", &Script::new());
    target
        .containers
        .create(spec.clone())
        .await
        .expect("create");
    let error = target
        .containers
        .create(spec.clone())
        .await
        .expect_err("taken");
    assert!(
        matches!(&error, Error::ContainerNameConflict { name } if *name == spec.name),
        "{error:?}"
    );
    target.clean_up().await;
}

/// `list` selects by label (`key` or `key=value`), stopped containers included.
pub async fn list_selects_by_label(target: &RuntimeTarget) {
    let ended = target
        .run(target.spec("list", "a", &Script::new()).label("role", "a"))
        .await;
    target.containers.wait(&ended).await.expect("wait");
    let spec = target.spec("list", "b", &Script::new()).label("role", "b");
    let created = target.containers.create(spec).await.expect("create");
    let mut all = target
        .containers
        .list(&target.filter())
        .await
        .expect("list");
    all.sort_by(|a, b| a.name.cmp(&b.name));
    let names: Vec<&str> = all.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, [target.name("list", "a"), target.name("list", "b")]);
    assert_eq!(
        (all[0].id.clone(), all[0].state),
        (ended, ContainerState::Exited)
    );
    assert_eq!(
        (all[1].id.clone(), all[1].state),
        (created, ContainerState::Created)
    );
    assert_eq!(all[0].image, target.image);
    assert_eq!(all[1].labels.get("role").map(String::as_str), Some("b"));
    let only_a = target.filter().equals("role", "a");
    let listed = target.containers.list(&only_a).await.expect("list a");
    assert_eq!(listed.len(), 1);
    let with_role = target.filter().has("role");
    assert_eq!(
        target
            .containers
            .list(&with_role)
            .await
            .expect("list")
            .len(),
        2
    );
    target.clean_up().await;
}

/// An absent container is `None` to inspect, `NotFound` to remove, and an error elsewhere.
pub async fn an_absent_container_is_not_found(target: &RuntimeTarget) {
    let absent = target.absent_id();
    let runtime = &target.containers;
    assert_eq!(runtime.inspect(&absent).await.expect("inspect"), None);
    assert_eq!(
        runtime.remove(&absent, true).await.expect("remove"),
        Removal::NotFound
    );
    let not_found = |error: Error| {
        assert!(
            matches!(error, Error::ContainerNotFound { .. }),
            "{error:?}"
        );
    };
    not_found(runtime.start(&absent).await.expect_err("start"));
    not_found(
        runtime
            .stop(&absent, Duration::from_secs(1))
            .await
            .expect_err("stop"),
    );
    not_found(runtime.kill(&absent).await.expect_err("kill"));
    not_found(runtime.wait(&absent).await.expect_err("wait"));
    not_found(
        runtime
            .logs(&absent, LogOptions::new())
            .await
            .err()
            .expect("logs"),
    );
}

/// A port published without a host port gets an ephemeral one, read back from inspect.
pub async fn ports_are_published_on_ephemeral_host_ports(target: &RuntimeTarget) {
    let spec = target.spec("ports", "c", &Script::new().run_until_stopped());
    let id = target.run(spec.port(PortSpec::tcp(8080))).await;
    let details = target.containers.inspect(&id).await.expect("inspect");
    let details = details.expect("it exists");
    let host = details.host_port(8080, Protocol::Tcp);
    assert!(
        host.is_some_and(|port| port > 0),
        "{:?}",
        details.host_ports
    );
    target.clean_up().await;
}
