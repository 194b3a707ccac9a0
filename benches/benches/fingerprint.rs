//! Fingerprint throughput: a cold scan of the 800 MB corpus (empty stat index, files in the
//! page cache) and a warm check of 100,000 small files (stat index present, nothing changed).
//!
//! `cargo bench -p kiln-benches --bench fingerprint` (the corpora are made on first use).

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kiln_benches::{LARGE, MANY_SMALL, default_dir, ensure_corpus};
use kiln_context::PreparedContext;
use kiln_context::inputs::context_inputs;
use kiln_context::inputs::stat_index::{self, StatIndex, Timestamp};

fn cold(c: &mut Criterion) {
    let dir = default_dir(LARGE);
    let total = ensure_corpus(&dir, LARGE).expect("corpus");
    let mut group = c.benchmark_group("fingerprint");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    group.throughput(Throughput::Bytes(total));
    group.bench_function("cold_800MB_16k_files", |b| {
        b.iter(|| {
            let context = PreparedContext::prepare(&dir, None).unwrap();
            let inputs =
                context_inputs(&context, &StatIndex::default(), Timestamp::default()).unwrap();
            assert!(inputs.stats.hashed_bytes >= total, "every byte is hashed");
            inputs.stats
        });
    });
    group.finish();
}

fn warm(c: &mut Criterion) {
    let dir = default_dir(MANY_SMALL);
    ensure_corpus(&dir, MANY_SMALL).expect("corpus");
    let cache = tempfile::tempdir().unwrap();
    let index_file = cache.path().join("index.idx");
    // Record the tree once, with a scan start after every file was written: file times come
    // from the kernel's coarse clock, so wait until it has ticked past the corpus.
    let written = stat_index::file_system_now(cache.path()).unwrap();
    let started = loop {
        let now = stat_index::file_system_now(cache.path()).unwrap();
        if now > written {
            break now;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let context = PreparedContext::prepare(&dir, None).unwrap();
    let first = context_inputs(&context, &StatIndex::default(), started).unwrap();
    first.new_index.unwrap().save(&index_file).unwrap();

    let mut group = c.benchmark_group("fingerprint");
    group.sample_size(20);
    group.bench_function("warm_100k_small_files", |b| {
        b.iter(|| {
            let context = PreparedContext::prepare(&dir, None).unwrap();
            let index = StatIndex::load(&index_file).unwrap();
            let inputs = context_inputs(&context, &index, started).unwrap();
            assert_eq!(inputs.stats.hashed_files, 0, "a warm check reads no file");
            inputs.stats
        });
    });
    group.finish();
}

criterion_group!(benches, cold, warm);
criterion_main!(benches);
