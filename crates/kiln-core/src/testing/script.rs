//! `Script`: what a test container does, written once, run alike by busybox `sh` in a real
//! container and by [`FakeRuntime`](super::FakeRuntime).
//!
//! [`Script::command`] is a `sh -c` argv; the script's steps ride along as the shell's `$0` and
//! `$1` (`kiln-script` and their JSON), which the shell ignores and the fake reads back.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The `$0` that marks a script's argv.
const MARKER: &str = "kiln-script";

/// One step of a [`Script`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Step {
    /// Prints a line on stdout.
    Stdout(String),
    /// Prints a line on stderr.
    Stderr(String),
    /// Sleeps.
    Sleep(Duration),
    /// Resolves and pings a name on the container's networks; exits 1 when that fails.
    Resolve(String),
    /// Grows memory without end: an OOM kill under a memory limit.
    ExhaustMemory,
    /// Exits with a code.
    Exit(i64),
    /// Runs until stopped.
    RunUntilStopped,
}

/// What a test container does, step by step; after the last step it exits 0.
///
/// SIGTERM is ignored (as by any PID 1 without a handler: the container is killed when the
/// grace period of a stop ends) unless the script sets a handler with [`Script::on_term`],
/// installed before the first step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Script {
    on_term: Option<(String, i64)>,
    steps: Vec<Step>,
}

impl Script {
    /// A script that exits 0 at once.
    pub fn new() -> Self {
        Script::default()
    }

    /// Adds `step`.
    pub fn step(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }

    /// Prints `line` on stdout.
    pub fn stdout(self, line: impl Into<String>) -> Self {
        self.step(Step::Stdout(line.into()))
    }

    /// Prints `line` on stderr.
    pub fn stderr(self, line: impl Into<String>) -> Self {
        self.step(Step::Stderr(line.into()))
    }

    /// Sleeps for `duration`.
    pub fn sleep(self, duration: Duration) -> Self {
        self.step(Step::Sleep(duration))
    }

    /// Resolves and pings `name`, exiting 1 when that fails.
    pub fn resolve(self, name: impl Into<String>) -> Self {
        self.step(Step::Resolve(name.into()))
    }

    /// Grows memory until killed.
    pub fn exhaust_memory(self) -> Self {
        self.step(Step::ExhaustMemory)
    }

    /// Exits with `code`.
    pub fn exit(self, code: i64) -> Self {
        self.step(Step::Exit(code))
    }

    /// Runs until stopped.
    pub fn run_until_stopped(self) -> Self {
        self.step(Step::RunUntilStopped)
    }

    /// On SIGTERM, prints `line` (unless empty) and exits with `code`.
    pub fn on_term(mut self, line: impl Into<String>, code: i64) -> Self {
        self.on_term = Some((line.into(), code));
        self
    }

    /// The steps.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// What SIGTERM does, if the script handles it: the line printed and the exit code.
    pub fn term_handler(&self) -> Option<&(String, i64)> {
        self.on_term.as_ref()
    }

    /// The script as one busybox `sh` command line.
    pub fn shell(&self) -> String {
        let mut parts = Vec::new();
        if let Some((line, code)) = &self.on_term {
            let print = if line.is_empty() {
                String::new()
            } else {
                format!("echo {}; ", quote(line))
            };
            parts.push(format!(
                "on_term() {{ {print}exit {code}; }}; trap on_term TERM"
            ));
        }
        for step in &self.steps {
            parts.push(match step {
                Step::Stdout(line) => format!("echo {}", quote(line)),
                Step::Stderr(line) => format!("echo {} >&2", quote(line)),
                Step::Sleep(duration) => format!("sleep {}", duration.as_secs_f64()),
                Step::Resolve(name) => {
                    format!("ping -c1 -W2 {} >/dev/null 2>&1 || exit 1", quote(name))
                }
                Step::ExhaustMemory => "x=0123456789abcdef; while true; do x=$x$x; done".to_owned(),
                Step::Exit(code) => format!("exit {code}"),
                Step::RunUntilStopped => "while true; do sleep 0.1; done".to_owned(),
            });
        }
        if parts.is_empty() {
            parts.push("true".to_owned());
        }
        parts.join("; ")
    }

    /// The argv that runs the script: `sh -c <shell> kiln-script <steps as JSON>`.
    pub fn command(&self) -> Vec<String> {
        let steps = serde_json::to_string(self).unwrap_or_default();
        vec![
            "sh".to_owned(),
            "-c".to_owned(),
            self.shell(),
            MARKER.to_owned(),
            steps,
        ]
    }

    /// The script an argv made by [`Script::command`] runs; `None` for any other argv.
    pub fn from_command(argv: &[String]) -> Option<Script> {
        match argv {
            [sh, c, _, marker, steps] if sh == "sh" && c == "-c" && marker == MARKER => {
                serde_json::from_str(steps).ok()
            }
            _ => None,
        }
    }
}

/// `text` in single quotes, for `sh`.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_renders_as_shell_and_reads_back_from_its_argv() {
        let script = Script::new()
            .stdout("it's up")
            .stderr("warn")
            .sleep(Duration::from_millis(500))
            .exit(3);
        assert_eq!(
            script.shell(),
            r"echo 'it'\''s up'; echo 'warn' >&2; sleep 0.5; exit 3"
        );
        let argv = script.command();
        assert_eq!(argv[..2], ["sh", "-c"]);
        assert_eq!(Script::from_command(&argv), Some(script));
        assert_eq!(Script::from_command(&["sleep".into(), "1".into()]), None);
        assert_eq!(Script::new().shell(), "true");
    }

    #[test]
    fn a_trapping_script_defines_its_handler() {
        let shell = Script::new()
            .stdout("ready")
            .run_until_stopped()
            .on_term("bye", 7)
            .shell();
        assert_eq!(
            shell,
            "on_term() { echo 'bye'; exit 7; }; trap on_term TERM; echo 'ready'; \
             while true; do sleep 0.1; done"
        );
    }
}
