//! The fake runtime: the conformance suite, the faults it injects, and the pointer forwarding of
//! the runtime traits.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::container::{ContainerRuntime, LogOptions, LogSource, Removal};
use crate::network::{NetworkRemoval, NetworkRuntime, NetworkSpec};
use crate::testing::runtime_conformance::{RuntimeTarget, lines, next};

fn target() -> RuntimeTarget {
    RuntimeTarget::new(FakeRuntime::new(), "busybox", "fake")
}

mod fake_runtime_conformance {
    use super::*;

    crate::runtime_conformance_tests!(Some(target()));
}

#[tokio::test]
async fn an_unreachable_runtime_fails_every_call_as_unreachable() {
    let fake = FakeRuntime::new();
    let target = RuntimeTarget::new(fake.clone(), "busybox", "down");
    let id = target.run(target.spec("down", "c", &Script::new())).await;
    fake.set_unreachable(true);
    let errors = [
        fake.inspect(&id).await.unwrap_err(),
        fake.list(&LabelFilter::any()).await.unwrap_err(),
        fake.logs(&id, LogOptions::new()).await.err().unwrap(),
        fake.list_networks(&LabelFilter::any()).await.unwrap_err(),
        fake.create_network(NetworkSpec::new("n"))
            .await
            .unwrap_err(),
    ];
    for error in errors {
        assert_eq!(error.kind(), crate::ErrorKind::Unreachable, "{error}");
    }
    fake.set_unreachable(false);
    assert!(fake.inspect(&id).await.unwrap().is_some());
}

#[tokio::test]
async fn the_nth_network_create_is_answered_with_an_overlap() {
    let fake = FakeRuntime::new();
    fake.overlap_on_network_create(2);
    fake.create_network(NetworkSpec::new("first"))
        .await
        .unwrap();
    let error = fake
        .create_network(NetworkSpec::new("second").subnet("10.9.0.0/24"))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::PoolOverlap { subnet, message }
            if subnet == "10.9.0.0/24" && message == crate::testing::POOL_OVERLAP_MESSAGE),
        "{error:?}"
    );
    fake.create_network(NetworkSpec::new("second").subnet("10.9.0.0/24"))
        .await
        .expect("only the second create is refused");
}

#[tokio::test]
async fn a_container_can_vanish_between_list_and_remove() {
    let fake = FakeRuntime::new();
    let target = RuntimeTarget::new(fake.clone(), "busybox", "vanish");
    let id = fake
        .create(target.spec("vanish", "c", &Script::new()))
        .await
        .unwrap();
    fake.vanish_after_list(&id);
    let listed = fake.list(&target.filter()).await.unwrap();
    assert_eq!(listed.len(), 1, "the list still shows it");
    assert_eq!(fake.remove(&id, true).await.unwrap(), Removal::NotFound);
    assert_eq!(fake.container_count(), 0);
}

#[tokio::test]
async fn a_log_stream_can_end_early() {
    let fake = FakeRuntime::new();
    let target = RuntimeTarget::new(fake.clone(), "busybox", "early");
    let script = Script::new().stdout("a").stdout("b").stdout("c");
    let id = target.run(target.spec("early", "c", &script)).await;
    fake.wait(&id).await.unwrap();
    fake.end_logs_early(1);
    let cut = target.logs(&id, LogOptions::new()).await;
    assert_eq!(lines(&cut, LogSource::Stdout), ["a"]);
    let whole = target.logs(&id, LogOptions::new()).await;
    assert_eq!(
        lines(&whole, LogSource::Stdout),
        ["a", "b", "c"],
        "only once"
    );
}

#[tokio::test]
async fn a_followed_log_ends_when_the_container_is_removed() {
    let fake = FakeRuntime::new();
    let target = RuntimeTarget::new(fake.clone(), "busybox", "gone");
    let script = Script::new().stdout("up").run_until_stopped();
    let id = target.run(target.spec("gone", "c", &script)).await;
    target.wait_for_line(&id, "up").await;
    let mut stream = fake
        .logs(&id, LogOptions::new().follow(true))
        .await
        .unwrap();
    assert!(next(&mut stream).await.is_some(), "the line printed so far");
    fake.remove(&id, true).await.unwrap();
    assert!(next(&mut stream).await.is_none());
}

#[tokio::test]
async fn an_unscripted_container_runs_until_stopped_and_exits_0() {
    let fake = FakeRuntime::new();
    let spec = ContainerSpec::new("plain", "app:1").command(["serve"]);
    let id = fake.create(spec).await.unwrap();
    fake.start(&id).await.unwrap();
    let details = fake.inspect(&id).await.unwrap().unwrap();
    assert_eq!(details.state, ContainerState::Running);
    fake.stop(&id, Duration::from_secs(10)).await.unwrap();
    assert_eq!(fake.wait(&id).await.unwrap().code, 0);
}

#[tokio::test]
async fn an_invalid_name_or_subnet_is_invalid_input() {
    let fake = FakeRuntime::new();
    let error = fake
        .create(ContainerSpec::new("bad name", "app:1"))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), crate::ErrorKind::InvalidInput, "{error}");
    let error = fake
        .create_network(NetworkSpec::new("n").subnet("10.0.0.0/40"))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), crate::ErrorKind::InvalidInput, "{error}");
}

#[tokio::test]
async fn shared_and_boxed_runtimes_are_runtimes() {
    let fake = FakeRuntime::new();
    let shared: crate::DynContainerRuntime = Arc::new(fake.clone());
    let boxed: Box<dyn NetworkRuntime> = Box::new(fake.clone());
    let id = shared
        .create(ContainerSpec::new("through-arc", "app:1"))
        .await
        .unwrap();
    let network = boxed
        .create_network(NetworkSpec::new("boxed"))
        .await
        .unwrap();
    boxed.connect(&network, &id, vec![], None).await.unwrap();
    assert_eq!(shared.remove(&id, false).await.unwrap(), Removal::Removed);
    let removal = boxed.remove_network(&network).await.unwrap();
    assert_eq!(removal, NetworkRemoval::Removed);
    assert_eq!(fake.container_count(), 0, "the calls reached the fake");
}
