//! Base tiers against the real daemon, through the CLI: a capability whose probe fails makes
//! `kiln bases verify` fail naming the tier and the probe; two images needing different
//! capabilities get different tiers, each built once; a file changed in a tier's context
//! rebuilds the tier and its dependants, and the plan names the file; the shipped example
//! builds and verifies; catalogue mistakes are exit 2 with their line.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kiln_tests::docker_cli::{docker, inspect_field, run};
use kiln_tests::fault_proxy::LabelledImages;
use kiln_tests::images::busybox;
use kiln_tests::output::{json, stderr, stdout};
use kiln_tests::{kiln, live_docker, unique};
use serde_json::Value;

/// A project: a catalogue of two tiers (`runtime` on the test busybox, `dev` on `runtime`),
/// a bake file, images whose Dockerfiles label what they make, its own cache directory, and a
/// guard that removes the images.
struct Project {
    dir: tempfile::TempDir,
    cache: tempfile::TempDir,
    label: String,
    prefix: String,
    _images: LabelledImages,
}

impl Project {
    fn new(debugging_probe: &str) -> Project {
        let label = format!("kiln.test.cleanup={}", unique("bases"));
        let project = Project {
            dir: tempfile::tempdir().unwrap(),
            cache: tempfile::tempdir().unwrap(),
            _images: LabelledImages(label.clone()),
            label,
            prefix: unique("kbs").replace('_', "-"),
        };
        let busybox = busybox();
        project.write(
            "bases/runtime/Dockerfile",
            &format!("FROM {busybox}\nLABEL {}\nCOPY etc/ /etc/\n", project.label),
        );
        project.write("bases/runtime/etc/motd", "one\n");
        project.write(
            "bases/dev/Dockerfile",
            &format!(
                "ARG BASE_IMAGE\nFROM ${{BASE_IMAGE}}\nLABEL {}\n\
                 RUN printf '#!/bin/sh\\necho debugging\\n' > /bin/debug-tool && chmod +x /bin/debug-tool\n",
                project.label
            ),
        );
        project.write(
            "bases/catalogue.toml",
            &format!(
                r#"version = 1
capabilities = ["shell", "networking", "debugging"]

[[tier]]
name = "runtime"
image = "{prefix}-runtime"
context = "runtime"
capabilities = ["shell", "networking"]
max_size_mb = 20
platforms = ["linux/amd64", "linux/arm64"]
probes = {{ shell = "true", networking = "nc --help" }}

[[tier]]
name = "dev"
image = "{prefix}-dev"
context = "dev"
from = "runtime"
capabilities = ["+debugging"]
max_size_mb = 20
probes = {{ debugging = "{debugging_probe}" }}

[modes]
debug = ["debugging"]
"#,
                prefix = project.prefix
            ),
        );
        for image in ["server", "tester", "client"] {
            project.write(
                &format!("{image}/Dockerfile"),
                &format!(
                    "ARG BASE_IMAGE\nFROM ${{BASE_IMAGE}}\nLABEL {}\nLABEL image={image}\n",
                    project.label
                ),
            );
        }
        project.write(
            "plain/Dockerfile",
            &format!(
                "FROM {busybox}\nLABEL {}\nLABEL image=plain\n",
                project.label
            ),
        );
        project.write(
            "kiln.toml",
            &format!(
                r#"version = 1
[bases]
catalogue = "bases/catalogue.toml"

[[image]]
name = "{prefix}-server"
context = "server"
base = {{ needs = ["networking"] }}

[[image]]
name = "{prefix}-tester"
context = "tester"
base = {{ needs = ["debugging"] }}

[[image]]
name = "{prefix}-client"
context = "client"
base = {{ needs = ["networking"] }}

[[image]]
name = "{prefix}-plain"
context = "plain"
"#,
                prefix = project.prefix
            ),
        );
        project
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.dir.path().join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn name(&self, short: &str) -> String {
        format!("{}-{short}", self.prefix)
    }

    fn file(&self) -> PathBuf {
        self.dir.path().join("kiln.toml")
    }

    fn kiln(&self, args: &[&str]) -> Command {
        let mut command = kiln(args);
        command
            .env("KILN_CACHE_DIR", self.cache.path())
            .env_remove("CI");
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        let file = self.file();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-f", file.to_str().unwrap(), "--json"]);
        self.kiln(&all).output().unwrap()
    }
}

fn cell<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["cells"]
        .as_array()
        .and_then(|cells| cells.iter().find(|cell| cell["id"] == id))
        .unwrap_or_else(|| panic!("no cell {id} in {report:#}"))
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

/// The containers left on the daemon that run `image`.
fn containers_of(image: &str) -> Vec<String> {
    let output = run(docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("ancestor={image}"),
        "--format",
        "{{.Names}}",
    ]))
    .unwrap();
    stdout(&output).lines().map(str::to_owned).collect()
}

#[test]
fn a_capability_whose_probe_fails_makes_verify_fail_naming_the_tier_and_the_probe() {
    if live_docker("a_capability_whose_probe_fails_makes_verify_fail_naming_the_tier_and_the_probe")
        .is_none()
    {
        return;
    }
    let project = Project::new("gdb --version");
    let file = project.file();
    let output = project
        .kiln(&["bases", "verify", "-f", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(
            "error: base tier dev does not hold its claim: probe debugging (`gdb --version`): \
             exit code 127"
        ),
        "{}",
        stderr(&output)
    );

    let output = project.run(&["bases", "verify"]);
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    let listing = json(&output);
    let runtime = &listing["tiers"][0]["builds"][0];
    assert_eq!(runtime["status"], "verified", "{listing:#}");
    assert_eq!(
        runtime["verified"],
        serde_json::json!(["networking", "shell"])
    );
    let dev = &listing["tiers"][1]["builds"][0];
    assert_eq!(dev["status"], "failed", "{listing:#}");
    let failed: Vec<&Value> = dev["verification"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|check| check["passed"] == false)
        .collect();
    assert_eq!(failed.len(), 1, "{dev:#}");
    assert_eq!(failed[0]["capability"], "debugging");
    assert_eq!(failed[0]["command"], "gdb --version");
    assert!(
        failed[0]["output"]
            .as_array()
            .unwrap()
            .iter()
            .any(|line| text(line).contains("gdb: not found")),
        "{dev:#}"
    );
    // The probes' containers are gone.
    for build in [runtime, dev] {
        assert_eq!(
            containers_of(text(&build["image_id"])),
            Vec::<String>::new()
        );
    }
    // bake fails the same way: the tier's dependants are not built.
    let baked = project.run(&["bake", "--keep-going"]);
    assert_eq!(baked.status.code(), Some(4), "{}", stderr(&baked));
    let report = json(&baked);
    let dev = cell(&report, &project.name("dev"));
    assert_eq!(dev["outcome"], "failed");
    assert!(
        text(&dev["reason"]).contains("probe debugging (`gdb --version`)"),
        "{dev:#}"
    );
    assert_eq!(cell(&report, &project.name("tester"))["outcome"], "skipped");
    assert_eq!(cell(&report, &project.name("server"))["outcome"], "built");
}

#[test]
fn two_images_needing_different_capabilities_get_different_tiers_built_once() {
    if live_docker("two_images_needing_different_capabilities_get_different_tiers_built_once")
        .is_none()
    {
        return;
    }
    let project = Project::new("test -x /bin/debug-tool && debug-tool");
    let (runtime, dev) = (project.name("runtime"), project.name("dev"));
    let (server, tester, client) = (
        project.name("server"),
        project.name("tester"),
        project.name("client"),
    );
    let plan = project.run(&["plan", "--all"]);
    assert_eq!(plan.status.code(), Some(0), "{}", stderr(&plan));
    let plan = json(&plan);
    assert_eq!(cell(&plan, &server)["base"]["tier"], "runtime");
    assert_eq!(cell(&plan, &tester)["base"]["tier"], "dev");
    assert!(
        cell(&plan, &tester)["base"]["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|reason| text(reason) == "runtime skipped: lacks debugging"),
        "{plan:#}"
    );
    assert_eq!(cell(&plan, &dev)["tier"], "dev");

    let output = project.run(&["bake"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = json(&output);
    let ids: Vec<&str> = report["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|cell| text(&cell["id"]))
        .collect();
    assert_eq!(
        ids.iter().filter(|id| **id == runtime).count(),
        1,
        "one cell per tier: {ids:?}"
    );
    assert_eq!(&ids[..2], [runtime.as_str(), dev.as_str()], "tiers first");
    for id in [&runtime, &dev, &server, &tester, &client] {
        assert_eq!(cell(&report, id)["outcome"], "built", "{id}: {report:#}");
    }
    assert_eq!(cell(&report, &server)["base"]["tier"], "runtime");
    assert_eq!(cell(&report, &client)["base"]["tier"], "runtime");
    assert_eq!(cell(&report, &tester)["base"]["tier"], "dev");
    assert!(
        cell(&report, &dev)["verification"]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|check| check["passed"] == true)
    );
    // The images are built on their tiers: the tester has the dev tier's tool, the server not.
    let tester_tag = text(&cell(&report, &tester)["tags"][0]).to_owned();
    let server_tag = text(&cell(&report, &server)["tags"][0]).to_owned();
    let has_tool = |tag: &str| {
        run(docker(&[
            "run",
            "--rm",
            "--entrypoint",
            "/bin/sh",
            tag,
            "-c",
            "test -x /bin/debug-tool",
        ]))
        .is_ok()
    };
    assert!(has_tool(&tester_tag));
    assert!(!has_tool(&server_tag));
    // It received the tier pinned: a tag named after the tier's image id.
    let dev_id = text(&cell(&report, &dev)["image_id"]).to_owned();
    let pinned = inspect_field(
        &format!("kiln-pin/{dev}:{}", dev_id.trim_start_matches("sha256:")),
        "{{.Id}}",
    );
    assert_eq!(pinned.as_deref(), Some(dev_id.as_str()));

    // Again: everything reused, nothing probed again.
    let again = json(&project.run(&["bake"]));
    for id in [&runtime, &dev, &server, &tester, &client] {
        assert_eq!(cell(&again, id)["outcome"], "reused", "{id}: {again:#}");
    }
    let listed = project.run(&["bases", "list"]);
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    let listed = json(&listed);
    assert_eq!(listed["tiers"][1]["builds"][0]["platform"], "linux/amd64");
    assert_eq!(
        listed["tiers"][1]["builds"][0]["status"], "verified",
        "{listed:#}"
    );
    assert_eq!(
        listed["tiers"][1]["builds"][0]["verified"],
        serde_json::json!(["debugging", "networking", "shell"])
    );
}

#[test]
fn a_file_changed_in_a_tier_rebuilds_it_and_its_dependants_and_the_plan_names_it() {
    if live_docker("a_file_changed_in_a_tier_rebuilds_it_and_its_dependants_and_the_plan_names_it")
        .is_none()
    {
        return;
    }
    let project = Project::new("debug-tool");
    let (runtime, dev) = (project.name("runtime"), project.name("dev"));
    let (server, tester, plain) = (
        project.name("server"),
        project.name("tester"),
        project.name("plain"),
    );
    let first = project.run(&["bake"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));

    project.write("bases/runtime/etc/motd", "two\n");
    let plan = project.run(&["plan", "--all"]);
    assert_eq!(plan.status.code(), Some(0), "{}", stderr(&plan));
    let plan = json(&plan);
    assert_eq!(cell(&plan, &runtime)["action"], "build");
    assert!(
        text(&cell(&plan, &runtime)["reason"]).contains("file etc/motd changed"),
        "{plan:#}"
    );
    assert_eq!(
        cell(&plan, &dev)["reason"],
        "tier runtime changed: file etc/motd changed"
    );
    assert_eq!(
        cell(&plan, &server)["reason"],
        "tier runtime changed: file etc/motd changed"
    );
    assert_eq!(
        cell(&plan, &tester)["reason"],
        "tier dev changed: tier runtime changed: file etc/motd changed"
    );
    assert_eq!(cell(&plan, &plain)["action"], "reuse", "{plan:#}");
    // The text plan names the tier each cell got.
    let file = project.file();
    let text_plan = project
        .kiln(&["plan", "--all", "-f", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        stdout(&text_plan).contains("        base dev: runtime skipped: lacks debugging;"),
        "{}",
        stdout(&text_plan)
    );

    let rebuilt = json(&project.run(&["bake"]));
    for id in [&runtime, &dev, &server, &tester] {
        assert_eq!(cell(&rebuilt, id)["outcome"], "built", "{id}: {rebuilt:#}");
    }
    assert_eq!(cell(&rebuilt, &plain)["outcome"], "reused");
    assert!(
        text(&cell(&rebuilt, &tester)["reason"]).contains("file etc/motd changed"),
        "{rebuilt:#}"
    );
    let motd = run(docker(&[
        "run",
        "--rm",
        text(&cell(&rebuilt, &tester)["tags"][0]),
        "cat",
        "/etc/motd",
    ]))
    .unwrap();
    assert_eq!(
        stdout(&motd),
        "two\n",
        "the dependant has the tier's new file"
    );
}

#[test]
fn catalogue_mistakes_are_invalid_input_with_their_line() {
    if live_docker("catalogue_mistakes_are_invalid_input_with_their_line").is_none() {
        return;
    }
    let project = Project::new("debug-tool");
    let catalogue = project.dir.path().join("bases/catalogue.toml");
    let good = fs::read_to_string(&catalogue).unwrap();
    fs::write(
        &catalogue,
        good.replace("[\"+debugging\"]", "[\"+debugging\", \"+gpu\"]"),
    )
    .unwrap();
    let expected = format!(
        "{}:18:31: capability \"gpu\" in the capabilities of tier dev",
        catalogue.display()
    );
    for args in [
        &["bake"][..],
        &["plan", "--all"][..],
        &["bases", "list"][..],
        &["bases", "verify"][..],
    ] {
        let output = project.run(args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        let message = text(&json(&output)["error"]["message"]).to_owned();
        assert!(message.starts_with(&expected), "{args:?}: {message}");
    }
    // `bases list` needs no daemon.
    fs::write(&catalogue, good).unwrap();
    let file = project.file();
    let listed = project
        .kiln(&["bases", "list", "-f", file.to_str().unwrap(), "--json"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    assert_eq!(
        json(&listed)["tiers"][0]["builds"][0]["status"],
        "unverified"
    );
    let verify = project
        .kiln(&["bases", "verify", "-f", file.to_str().unwrap(), "--json"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert_eq!(verify.status.code(), Some(3), "{}", stderr(&verify));
}

#[test]
fn the_bases_example_builds_and_verifies() {
    if live_docker("the_bases_example_builds_and_verifies").is_none() {
        return;
    }
    let copy = tempfile::tempdir().unwrap();
    let example = kiln_tests::workspace_root().join("examples/bases");
    let prefix = unique("kbx").replace('_', "-");
    copy_tree(&example, copy.path(), &|text| {
        text.replace("bases-example", &prefix)
    });
    fs::copy("/bin/busybox", copy.path().join("runtime/busybox")).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let file = copy.path().join("kiln.toml");
    let output = kiln(&["bake", "-f", file.to_str().unwrap(), "--json"])
        .env("KILN_CACHE_DIR", cache.path())
        .output()
        .unwrap();
    let report = json(&output);
    let _images = ReportImages(
        report["cells"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|cell| cell["image_id"].as_str().map(str::to_owned))
            .collect(),
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{report:#}\n{}",
        stderr(&output)
    );
    let release = cell(&report, &format!("{prefix}-hello[mode=]"));
    let debug = cell(&report, &format!("{prefix}-hello[mode=debug]"));
    assert_eq!(release["base"]["tier"], "runtime");
    assert_eq!(
        debug["base"]["tier"], "dev",
        "the debug build needs debugging"
    );
    let said = run(docker(&["run", "--rm", text(&debug["tags"][0])])).unwrap();
    assert_eq!(stdout(&said), "hello from the debug build\n");
    let verified = kiln(&["bases", "verify", "-f", file.to_str().unwrap(), "--json"])
        .env("KILN_CACHE_DIR", cache.path())
        .output()
        .unwrap();
    assert_eq!(verified.status.code(), Some(0), "{}", stderr(&verified));
    let listing = json(&verified);
    assert_eq!(
        listing["tiers"][1]["builds"][0]["status"], "verified",
        "{listing:#}"
    );
}

/// Copies the files under `from` to `to`, each text file through `edit`.
fn copy_tree(from: &Path, to: &Path, edit: &dyn Fn(&str) -> String) {
    for entry in fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target, edit);
        } else if entry.file_name() != "busybox" {
            let text = fs::read_to_string(entry.path()).unwrap();
            fs::write(target, edit(&text)).unwrap();
        }
    }
}

/// Removes images by id when dropped, children (listed last) first.
struct ReportImages(Vec<String>);

impl Drop for ReportImages {
    fn drop(&mut self) {
        for id in self.0.iter().rev() {
            let _ = run(docker(&["rmi", "-f", id]));
        }
    }
}
