//! Single flight: one run per key among concurrent callers, a fresh run afterwards, and a
//! cancelled leader replaced.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::oneshot;

use super::{Role, SingleFlight};

/// Yields until `n` callers share the run of `key`: a wait on the condition itself.
async fn until_callers(flight: &SingleFlight<&'static str, u32>, key: &'static str, n: usize) {
    while flight.callers(&key) < n {
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn concurrent_callers_share_one_run() {
    let flight = SingleFlight::new();
    let runs = AtomicUsize::new(0);
    let (release, released) = oneshot::channel::<()>();
    let mut released = Some(released);
    let callers = (0..8).map(|_| {
        let gate = released.take();
        flight.run("k", async {
            runs.fetch_add(1, Ordering::SeqCst);
            if let Some(gate) = gate {
                gate.await.unwrap();
            }
            7
        })
    });
    let all = futures_util::future::join_all(callers);
    let open = async {
        until_callers(&flight, "k", 8).await;
        release.send(()).unwrap();
    };
    let (results, ()) = tokio::join!(all, open);
    assert_eq!(runs.load(Ordering::SeqCst), 1, "one run for eight callers");
    assert!(results.iter().all(|(value, _)| *value == 7));
    let leaders = results
        .iter()
        .filter(|(_, role)| *role == Role::Leader)
        .count();
    assert_eq!(leaders, 1, "{results:?}");
    assert_eq!(
        flight.callers(&"k"),
        0,
        "the flight is gone once everyone has its copy"
    );
}

#[tokio::test]
async fn a_later_caller_runs_again() {
    let flight = SingleFlight::new();
    assert_eq!(flight.run("k", async { 1 }).await, (1, Role::Leader));
    assert_eq!(flight.run("k", async { 2 }).await, (2, Role::Leader));
}

#[tokio::test]
async fn different_keys_do_not_wait_for_each_other() {
    let flight = SingleFlight::new();
    let (a, b) = tokio::join!(flight.run("a", async { 1 }), flight.run("b", async { 2 }));
    assert_eq!((a, b), ((1, Role::Leader), (2, Role::Leader)));
}

#[tokio::test]
async fn a_cancelled_leader_is_replaced_by_a_waiting_caller() {
    let flight = SingleFlight::new();
    // Boxed, so that dropping it cancels it (a stack-pinned future would live on).
    let mut leader = Box::pin(flight.run("k", std::future::pending::<u32>()));
    let mut follower = Box::pin(flight.run("k", async { 9 }));
    // Both join the flight; the leader's work never ends.
    tokio::select! {
        biased;
        _ = &mut leader => unreachable!("pending work ended"),
        _ = &mut follower => panic!("the follower must wait while the leader runs"),
        () = until_callers(&flight, "k", 2) => {}
    }
    drop(leader);
    assert_eq!(follower.await, (9, Role::Leader));
}
