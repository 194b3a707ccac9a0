//! `kiln plan --scheme ...` as a user runs it: the scheme and its settings from the
//! configuration file and the flags, the image named as SeBS names it, and a missing setting
//! refused with exit 2. No daemon is needed: the plan is decided from the records, so these
//! tests point `DOCKER_HOST` at a socket that does not exist.

use std::fs;
use std::process::Command;

use kiln_tests::kiln;
use kiln_tests::output::{json, stderr};

/// The seed benchmark's image in SeBS 1.2.1's ECR repository, as SeBS's `registry_name` and
/// kiln-schemes' tests name it.
const SEBS_AWS_X64: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sebs-benchmarks-a1b2c3d4:\
                            function.aws.110.dynamic-html.python-3.8-x64-1.2.1";

/// A configuration file choosing `sebs-aws` for one deployment: what stays the same between
/// builds lives in the file, the benchmark comes from the flags.
fn deployment() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("config.toml"),
        "[scheme]\nname = \"sebs-aws\"\nsebs_version = \"1.2.1\"\naccount = \"123456789012\"\n\
         region = \"us-east-1\"\nresources_id = \"a1b2c3d4\"\n",
    )
    .unwrap();
    dir
}

/// `kiln plan` of the shipped example with `args`, the configuration of `config`, and no daemon.
fn plan(config: &tempfile::TempDir, args: &[&str]) -> Command {
    let mut argv = vec!["plan", "examples/hello"];
    argv.extend_from_slice(args);
    let mut command = kiln(&argv);
    command
        .env("KILN_CONFIG", config.path().join("config.toml"))
        .env("DOCKER_HOST", "unix:///nonexistent/kiln-schemes-test.sock");
    command
}

const SEED: [&str; 8] = [
    "--benchmark",
    "110.dynamic-html",
    "--language",
    "python",
    "--version",
    "3.8",
    "--arch",
    "x64",
];

#[test]
fn plan_with_the_sebs_aws_scheme_names_the_image_as_sebs_does() {
    let config = deployment();
    let mut args = SEED.to_vec();
    args.push("--json");
    let output = plan(&config, &args).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let decided = json(&output);
    assert_eq!(decided["tag"], SEBS_AWS_X64, "{decided}");
    assert_eq!(decided["daemon"]["state"], "unreachable", "{decided}");

    // A flag wins over the file; the architecture in any spelling gives SeBS's.
    let mut args = SEED[..6].to_vec();
    args.extend([
        "--region",
        "eu-west-1",
        "--architecture",
        "aarch64",
        "--json",
    ]);
    let output = plan(&config, &args).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        json(&output)["tag"],
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/sebs-benchmarks-a1b2c3d4:\
         function.aws.110.dynamic-html.python-3.8-arm64-1.2.1"
    );
}

#[test]
fn a_missing_setting_exits_2_naming_the_setting_and_the_scheme() {
    let config = deployment();
    let without_language: Vec<&str> = SEED
        .iter()
        .copied()
        .filter(|arg| !matches!(*arg, "--language" | "python"))
        .collect();
    let output = plan(&config, &without_language).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("\"sebs-aws\"") && message.contains("--language"),
        "{message}"
    );

    let mut with_json = without_language.clone();
    with_json.push("--json");
    let output = plan(&config, &with_json).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let error = &json(&output)["error"];
    assert_eq!(error["kind"], "invalid_input", "{error}");

    // So is a build that lacks what SeBS names every image by: its architecture.
    let output = plan(&config, &SEED[..6]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("sebs-aws") && message.contains("--arch"),
        "{message}"
    );

    // A setting the scheme does not use is refused too, rather than ignored.
    let mut unused = SEED.to_vec();
    unused.extend(["--project", "my-proj"]);
    let output = plan(&config, &unused).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("project"), "{}", stderr(&output));
}
