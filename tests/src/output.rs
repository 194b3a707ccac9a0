//! What a kiln process printed: its streams as text, and the one JSON object of `--json`.

use std::process::Output;

use serde_json::Value;

/// Standard output as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Standard output as exactly one JSON object, as every `--json` command prints it.
///
/// # Panics
///
/// When standard output is anything else; the message shows both streams.
pub fn json(output: &Output) -> Value {
    let value: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "stdout is not one JSON value ({error}):\n{}\nstderr:\n{}",
            stdout(output),
            stderr(output)
        )
    });
    assert!(value.is_object(), "stdout is not a JSON object: {value}");
    value
}
