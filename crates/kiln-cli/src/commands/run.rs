//! `kiln run`: the tests of a bake file, run as an experiment.

use std::sync::Arc;

use kiln::Env;
use kiln::bake::BakeFile;
use kiln::experiment::interrupt::{Interrupt, InterruptHandle, Level};
use kiln::experiment::run::{RunOptions, RunReport};
use kiln::experiment::subnet::{DEFAULT_BLOCK_PREFIX, SubnetPool};

use crate::args::RunArgs;
use crate::bake_display::BakeDisplay;
use crate::commands::{close, open};
use crate::exit::{BUILD_FAILED, CommandKind, NEGATIVE, SUCCESS};
use crate::output::Io;

/// The exit code of a run ended by a signal (128 + SIGINT, as shells report it).
const INTERRUPTED: u8 = 130;

pub(crate) async fn run(args: Box<RunArgs>, quiet: bool, env: Arc<dyn Env>, io: &Io) -> u8 {
    let json = args.json;
    let pool = match SubnetPool::new(&args.subnet_pool, DEFAULT_BLOCK_PREFIX) {
        Ok(pool) => pool,
        Err(error) => return io.error(&error, CommandKind::Mutating, json),
    };
    let file = match BakeFile::load(&args.file) {
        Ok(file) => file,
        Err(error) => return io.error(&error, CommandKind::Mutating, json),
    };
    let kiln = match open(env, io).await {
        Ok(kiln) => kiln,
        Err(error) => return io.error(&error, CommandKind::Mutating, json),
    };
    if args.jobs == 0 {
        let error = kiln::Error::invalid_input("-j", "0", "at least 1");
        return io.error(&error, CommandKind::Mutating, json);
    }
    let mut options = RunOptions::default();
    options.jobs = Some(args.jobs);
    options.isolated = args.isolated;
    options.tests = args.tests.clone();
    options.name = Some(args.name.clone());
    options.experiment.keep = args.keep;
    options.experiment.pool = pool;
    let display = BakeDisplay::new(io, quiet || json);
    options.bake.events = display.events();
    let (handle, interrupt) = Interrupt::new();
    options.interrupt = interrupt;
    let signals = tokio::spawn(escalate_on_signals(handle, io.clone()));
    let result = kiln.run_tests(&file, options).await;
    signals.abort();
    display.finish();
    close(&kiln, io).await;
    let report = match result {
        Ok(report) => report,
        Err(error) => return io.error(&error, CommandKind::Mutating, json),
    };
    if json {
        io.json(&report);
    } else {
        print(io, &report);
    }
    exit_code(&report)
}

/// Each SIGINT or SIGTERM raises the interrupt: the first ends the tests with grace, the
/// second removes everything at once.
async fn escalate_on_signals(handle: InterruptHandle, io: Io) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupts), Ok(mut terminations)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    loop {
        tokio::select! {
            _ = interrupts.recv() => {}
            _ = terminations.recv() => {}
        }
        match handle.escalate() {
            Level::Graceful => io.err(
                "interrupted: stopping the services, then removing everything (again to remove at once)",
            ),
            _ => io.err("interrupted again: removing everything at once"),
        }
    }
}

/// 0 every test passed; 4 a cell failed to build; 1 a test failed; 130 interrupted.
fn exit_code(report: &RunReport) -> u8 {
    if report.interrupted {
        INTERRUPTED
    } else if !report.bake.summary.succeeded {
        BUILD_FAILED
    } else if report.passed() {
        SUCCESS
    } else {
        NEGATIVE
    }
}

fn print(io: &Io, report: &RunReport) {
    for collected in &report.collected {
        io.err(&format!(
            "collected experiment {}: {} containers, {} networks",
            collected.experiment, collected.containers, collected.networks
        ));
    }
    for cell in report
        .bake
        .cells
        .iter()
        .filter(|cell| !cell.outcome.succeeded())
    {
        io.out(&format!(
            "build {} {}: {}",
            cell.id, cell.outcome, cell.reason
        ));
    }
    for test in &report.tests {
        io.out(&format!(
            "{:<10} {} ({:.1}s): {}",
            test.result,
            test.name,
            test.duration_ms as f64 / 1000.0,
            test.reason
        ));
    }
    io.out(&format!(
        "experiment {} in {}",
        report.experiment,
        report.folder.display()
    ));
}
