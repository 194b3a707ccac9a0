//! The Docker CLI as a reference and a helper: building the way `docker build` does, listing
//! what an image holds, removing what tests made. The one place tests start `docker`.

#![expect(
    clippy::disallowed_methods,
    reason = "the Docker CLI is the reference the tests compare with"
)]

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// A `docker` command with the classic builder (the CLI here has no buildx).
pub fn docker(args: &[&str]) -> Command {
    let mut command = Command::new("docker");
    command.args(args).env("DOCKER_BUILDKIT", "0");
    command
}

/// Runs `command`, returning its output, or the error text when it fails.
pub fn run(mut command: Command) -> Result<Output, String> {
    let output = command
        .output()
        .map_err(|error| format!("cannot run {command:?}: {error}"))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(format!(
            "{command:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// `docker build -t TAG [-f DOCKERFILE] CONTEXT` with the classic builder — run a second time
/// when the daemon's classic-builder cache race ("unable to find image": an image deleted by a
/// concurrent test while the daemon compared it with a step) failed it, as kiln itself does.
pub fn build(context: &Path, tag: &str, dockerfile: Option<&Path>) -> Result<(), String> {
    let attempt = || {
        let mut command = docker(&["build", "-q", "-t", tag]);
        if let Some(dockerfile) = dockerfile {
            command.arg("-f").arg(dockerfile);
        }
        command.arg(context);
        run(command).map(|_| ())
    };
    match attempt() {
        Err(error) if error.contains("unable to find image") => attempt(),
        other => other,
    }
}

/// The image id of `reference`, if the daemon has it.
pub fn image_id(reference: &str) -> Option<String> {
    let output = run(docker(&[
        "image", "inspect", "--format", "{{.Id}}", reference,
    ]))
    .ok()?;
    Some(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// One field of `docker image inspect` (a Go template such as `{{.Architecture}}`).
pub fn inspect_field(reference: &str, template: &str) -> Option<String> {
    let output = run(docker(&[
        "image", "inspect", "--format", template, reference,
    ]))
    .ok()?;
    Some(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Removes an image if it exists; errors are ignored (cleanup must not mask a test's failure).
pub fn remove_image(reference: &str) {
    let _ = docker(&["rmi", "-f", reference])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Removes every container (forced) and then every network labelled `label` (`key=value`);
/// returns how many of each there were. Errors are ignored (cleanup must not mask a test's
/// failure).
pub fn remove_labelled(label: &str) -> (usize, usize) {
    let filter = format!("label={label}");
    let ids = |args: &[&str]| -> Vec<String> {
        run(docker(args))
            .map(|output| {
                String::from_utf8_lossy(&output.stdout)
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let containers = ids(&["ps", "-aq", "--filter", &filter]);
    let networks = ids(&["network", "ls", "-q", "--filter", &filter]);
    for (command, list) in [
        (["rm", "-f"].as_slice(), &containers),
        (&["network", "rm"], &networks),
    ] {
        if !list.is_empty() {
            let mut args: Vec<&str> = command.to_vec();
            args.extend(list.iter().map(String::as_str));
            let _ = docker(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
    (containers.len(), networks.len())
}

/// Every path in the image's file system below `under` (e.g. `ctx/`), sorted, directories
/// with a trailing `/`, read by exporting a container created from it.
pub fn list_files(image: &str, under: &str) -> Result<Vec<String>, String> {
    let created = run(docker(&["create", image, "/kiln-never-runs"]))?;
    let container = String::from_utf8_lossy(&created.stdout).trim().to_owned();
    let exported = docker(&["export", &container]).output();
    let _ = docker(&["rm", "-f", &container])
        .stdout(Stdio::null())
        .status();
    let exported = exported.map_err(|error| format!("docker export: {error}"))?;
    if !exported.status.success() {
        return Err(String::from_utf8_lossy(&exported.stderr).into_owned());
    }
    let mut archive = tar::Archive::new(exported.stdout.as_slice());
    let mut paths = Vec::new();
    for entry in archive.entries().map_err(|error| error.to_string())? {
        let mut entry = entry.map_err(|error| error.to_string())?;
        let path = entry.path().map_err(|error| error.to_string())?;
        let mut text = path.to_string_lossy().trim_start_matches("./").to_owned();
        if entry.header().entry_type().is_dir() && !text.ends_with('/') {
            text.push('/');
        }
        if let Some(rest) = text.strip_prefix(under)
            && !rest.is_empty()
        {
            paths.push(rest.to_owned());
        }
        let mut sink = Vec::new();
        entry
            .read_to_end(&mut sink)
            .map_err(|error| error.to_string())?;
    }
    paths.sort();
    Ok(paths)
}

/// The daemon's BuildKit cache records, as `docker system df --verbose` lists them.
fn build_cache_records() -> Result<Vec<serde_json::Value>, String> {
    let listing = run(docker(&[
        "system",
        "df",
        "--verbose",
        "--format",
        "{{json .BuildCache}}",
    ]))?;
    serde_json::from_slice(&listing.stdout).map_err(|error| format!("docker system df: {error}"))
}

/// The ids of the records whose description mentions `marker`, and of every record made on
/// top of them, children last.
fn records_mentioning(records: &[serde_json::Value], marker: &str) -> Vec<String> {
    let field = |record: &serde_json::Value, name: &str| {
        record[name].as_str().unwrap_or_default().to_owned()
    };
    let mut found: Vec<String> = records
        .iter()
        .filter(|record| field(record, "Description").contains(marker))
        .map(|record| field(record, "ID"))
        .collect();
    loop {
        let before = found.len();
        for record in records {
            let (id, parent) = (field(record, "ID"), field(record, "Parent"));
            if found.contains(&parent) && !found.contains(&id) {
                found.push(id);
            }
        }
        if found.len() == before {
            return found;
        }
    }
}

/// Removes the daemon's BuildKit cache records whose description mentions `marker` (a step's
/// unique text), and every record made on top of them: the steps of one test are forgotten
/// without pruning the cache the other tests running beside it use. A record the daemon still
/// holds for a build that just ended is skipped by a prune, so this prunes until none is left
/// (for at most 10 s). Returns how many records went.
pub fn prune_build_cache_mentioning(marker: &str) -> Result<usize, String> {
    let mut pruned = std::collections::BTreeSet::new();
    for _ in 0..50 {
        let left = records_mentioning(&build_cache_records()?, marker);
        if left.is_empty() {
            return Ok(pruned.len());
        }
        // The daemon takes one value per filter: one prune per record, children first.
        for id in left.iter().rev() {
            let filter = format!("id={id}");
            run(docker(&[
                "builder", "prune", "--all", "--force", "--filter", &filter,
            ]))?;
            pruned.insert(id.clone());
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    Err(format!(
        "the build cache records of {marker} are still there after 10 s of pruning"
    ))
}
