//! `Kiln::bake` as a harness calls it, without the CLI: the events say that every parent
//! finished before any of its children started and that no more than `jobs` cells ran at once.

use std::fs;
use std::sync::{Arc, Mutex};

use kiln::Kiln;
use kiln::bake::{BakeEvent, BakeEvents, BakeFile, BakeOptions, CellOutcome};
use kiln_tests::fault_proxy::LabelledImages;
use kiln_tests::images::busybox;
use kiln_tests::{live_docker, unique};

#[tokio::test]
async fn parents_finish_before_children_start_and_at_most_jobs_run() {
    if live_docker("parents_finish_before_children_start_and_at_most_jobs_run").is_none() {
        return;
    }
    let label = format!("kiln.test.cleanup={}", unique("bake-lib"));
    let _images = LabelledImages(label.clone());
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let prefix = unique("kbl");
    fs::create_dir_all(dir.path().join("base")).unwrap();
    fs::create_dir_all(dir.path().join("leaf")).unwrap();
    fs::write(
        dir.path().join("base/Dockerfile"),
        format!("FROM {}\nLABEL {label}\nRUN sleep 1\n", busybox()),
    )
    .unwrap();
    fs::write(
        dir.path().join("leaf/Dockerfile"),
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nARG FLAVOR\nRUN sleep 1 && echo $FLAVOR > /flavor\n",
    )
    .unwrap();
    let path = dir.path().join("kiln.toml");
    fs::write(
        &path,
        format!(
            "version = 1\n[[image]]\nname = \"{prefix}-base\"\ncontext = \"base\"\n\
             [[image]]\nname = \"{prefix}-leaf\"\ncontext = \"leaf\"\n\
             requires = [{{ image = \"{prefix}-base\", as = \"BASE_IMAGE\" }}]\n\
             matrix = {{ flavor = [\"a\", \"b\", \"c\", \"d\", \"e\"] }}\n"
        ),
    )
    .unwrap();
    let file = BakeFile::load(&path).unwrap();

    let seen: Arc<Mutex<Vec<BakeEvent>>> = Arc::default();
    let mut options = BakeOptions::default();
    options.jobs = Some(2);
    options.events = BakeEvents::new({
        let seen = Arc::clone(&seen);
        move |event| seen.lock().unwrap().push(event.clone())
    });
    let kiln = Kiln::builder().cache_dir(cache.path()).build().unwrap();
    let report = kiln.bake(&file, options).await.unwrap();

    assert!(report.summary.succeeded, "{report:#?}");
    assert_eq!(report.cells.len(), 6);
    assert!(
        report
            .cells
            .iter()
            .all(|cell| cell.outcome == CellOutcome::Built)
    );
    let events = seen.lock().unwrap();
    let base = format!("{prefix}-base");
    let base_finished = events
        .iter()
        .position(
            |event| matches!(event, BakeEvent::Finished { cell, .. } if cell.as_str() == base),
        )
        .expect("the base finished");
    let mut running = 0usize;
    let mut most = 0usize;
    for (index, event) in events.iter().enumerate() {
        match event {
            BakeEvent::Started { cell } => {
                if cell.as_str() != base {
                    assert!(
                        index > base_finished,
                        "{cell} started before its parent finished"
                    );
                }
                running += 1;
                most = most.max(running);
            }
            BakeEvent::Finished { .. } => running -= 1,
            _ => {}
        }
    }
    assert_eq!(
        most, 2,
        "at most two cells at once, and two did run together"
    );
    assert_eq!(running, 0, "every started cell finished");
}
