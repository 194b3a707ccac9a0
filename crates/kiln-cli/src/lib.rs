//! kiln-cli: the `kiln` command line — argument parsing, progress display, JSON output and
//! exit codes. `main.rs` calls [`main`]; tests call [`run`] with their own environment and
//! output streams.

pub mod args;
mod bake_display;
mod commands;
pub mod exit;
pub mod json;
mod layers;
pub mod output;
mod units;

use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use kiln::{Env, ProcessEnv};

use crate::args::{Cli, Command};
use crate::output::Io;

/// Runs the CLI with the process's arguments, environment and output streams.
pub fn main() -> ExitCode {
    // The application's choice, made once: the registry client's TLS takes the process's
    // default rustls provider (kiln's libraries never install one).
    kiln::install_default_crypto_provider();
    let env: Arc<dyn Env> = Arc::new(ProcessEnv);
    let io = Io::process();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            io.err(&format!("error: cannot start the async runtime: {error}"));
            return ExitCode::from(exit::UNREACHABLE);
        }
    };
    let code = runtime.block_on(run(std::env::args_os().collect(), env, io));
    // Do not wait for blocking work that lost its purpose (a context walk after a failure).
    runtime.shutdown_background();
    ExitCode::from(code)
}

/// Runs the CLI with `args` (program name first) and returns the exit code.
pub async fn run(args: Vec<OsString>, env: Arc<dyn Env>, io: Io) -> u8 {
    let json_requested = args.iter().any(|arg| arg == "--json");
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(error) => return usage_error(&io, &error, json_requested),
    };
    init_logging(env.as_ref());
    match cli.command {
        Command::Build(args) => commands::build::run(args, cli.quiet, env, &io).await,
        Command::Plan(args) if args.all => commands::bake::plan_all(args, env, &io).await,
        Command::Plan(args) => commands::plan::run(Box::new(args.build), env, &io).await,
        Command::Bake(args) => commands::bake::run(args, cli.quiet, env, &io).await,
        Command::Bases(args) => commands::bases::run(args, cli.quiet, env, &io).await,
        Command::Experiment(args) => commands::experiment::run(args, env, &io).await,
        Command::Run(args) => commands::run::run(args, cli.quiet, env, &io).await,
        Command::Exists(args) => commands::exists::run(args, env, &io).await,
        Command::Push(args) => commands::transfer::push(args, cli.quiet, env, &io).await,
        Command::Pull(args) => commands::transfer::pull(args, cli.quiet, env, &io).await,
        Command::Cache(args) => commands::cache::run(args, env, &io).await,
        Command::Images(args) => commands::images::run(args, env, &io).await,
        Command::Doctor(args) => commands::doctor::run(args, env, &io).await,
    }
}

fn usage_error(io: &Io, error: &clap::Error, json: bool) -> u8 {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        io.out(error.render().to_string().trim_end());
        return exit::SUCCESS;
    }
    if json {
        io.json(&usage_failure(error));
    } else {
        io.err(error.render().to_string().trim_end());
    }
    exit::INVALID_INPUT
}

/// The JSON object of arguments clap refused.
fn usage_failure(error: &clap::Error) -> json::Failure {
    let kind = error.kind().as_str().unwrap_or("invalid arguments");
    let rendered = error.render().to_string();
    json::Failure {
        error: json::FailureDetail {
            kind: "invalid_input",
            message: format!("{kind}: {}", rendered.lines().next().unwrap_or_default()),
            exit_code: exit::INVALID_INPUT,
            step: None,
            log_tail: None,
        },
    }
}

/// Logs (`KILN_LOG`, e.g. `debug` or `kiln_docker=trace`) go to stderr; warnings by default.
fn init_logging(env: &dyn Env) {
    let filter = env.var("KILN_LOG").unwrap_or_else(|| "warn".to_owned());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Several runs in one test process: only the first installs the subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_names_the_settings_and_the_exit_codes() {
        use clap::CommandFactory;
        let help = Cli::command().render_long_help().to_string();
        for needle in [
            "KILN_CONFIG",
            "KILN_CACHE_DIR",
            "KILN_LOG",
            "DOCKER_HOST",
            "KILN_SSH_CONFIG",
            "KILN_REGISTRY_PASSWORD",
            "Exit codes",
            "5 authentication refused",
        ] {
            assert!(help.contains(needle), "{needle} missing from:\n{help}");
        }
    }

    #[test]
    fn refused_arguments_are_invalid_input() {
        let error = Cli::try_parse_from(["kiln", "build", "--no-such-flag"]).unwrap_err();
        insta::assert_json_snapshot!(usage_failure(&error));
    }
}
