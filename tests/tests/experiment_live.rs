//! Experiments against the real daemon, beyond `kiln run`'s basics: pool subnets that never
//! clash (experiments in one process and in two more at once, a foreign squatter), a full pool
//! naming its holders and freed by `gc` of the dead one, `gc` leaving a live experiment alone,
//! a terminal's console log, an OOM kill, and two experiments with the same service names.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipnet::Ipv4Net;
use kiln::bake::SubnetChoice;
use kiln::experiment::runtime::Runtime;
use kiln::experiment::session::{Experiment, ExperimentOptions};
use kiln::experiment::subnet::SubnetPool;
use kiln_core::ProcessEnv;
use kiln_docker::DockerEngine;
use kiln_tests::docker_cli::{docker, run};
use kiln_tests::images::busybox;
use kiln_tests::output::{json, stderr};
use kiln_tests::{kiln, live_docker, unique};
use serde_json::Value;

fn runtime() -> Runtime {
    Runtime::of(Arc::new(DockerEngine::from_env(&ProcessEnv).unwrap()))
}

/// Containers and networks labelled with experiment `id`.
fn leftovers(id: &str) -> Vec<String> {
    let filter = format!("label=dev.kiln.experiment={id}");
    let mut found = Vec::new();
    for kind in [
        &["ps", "-a", "-q", "--filter"][..],
        &["network", "ls", "-q", "--filter"][..],
    ] {
        let mut args = kind.to_vec();
        args.push(&filter);
        let output = run(docker(&args)).unwrap();
        found.extend(
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .map(str::to_owned),
        );
    }
    found
}

/// Removes, when dropped, whatever the experiments whose ids contain `part` left, and the
/// networks named in `networks`.
struct Sweep {
    parts: Vec<String>,
    networks: Vec<String>,
}

impl Drop for Sweep {
    fn drop(&mut self) {
        let listed = run(docker(&[
            "ps",
            "-a",
            "--format",
            "{{.ID}} {{.Label \"dev.kiln.experiment\"}}",
        ]))
        .unwrap();
        for line in String::from_utf8_lossy(&listed.stdout).lines() {
            if let Some((id, experiment)) = line.split_once(' ')
                && self
                    .parts
                    .iter()
                    .any(|part| experiment.contains(part.as_str()))
            {
                let _ = run(docker(&["rm", "-f", id]));
            }
        }
        let listed = run(docker(&["network", "ls", "--format", "{{.Name}}"])).unwrap();
        for name in String::from_utf8_lossy(&listed.stdout).lines() {
            if self.parts.iter().any(|part| name.contains(part.as_str()))
                || self.networks.contains(&name.to_owned())
            {
                let _ = run(docker(&["network", "rm", name]));
            }
        }
    }
}

/// Every IPv4 subnet of every network on the daemon, by network name.
fn all_subnets() -> Vec<(String, Ipv4Net)> {
    let names = run(docker(&["network", "ls", "--format", "{{.Name}}"])).unwrap();
    let mut found = Vec::new();
    for name in String::from_utf8_lossy(&names.stdout).lines() {
        let out = run(docker(&[
            "network",
            "inspect",
            "-f",
            "{{range .IPAM.Config}}{{.Subnet}} {{end}}",
            name,
        ]))
        .unwrap();
        for subnet in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            if let Ok(net) = subnet.parse::<Ipv4Net>() {
                found.push((name.to_owned(), net));
            }
        }
    }
    found
}

fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

fn shell(script: &str) -> String {
    serde_json::to_string(&["sh", "-c", script]).unwrap()
}

/// A bake file with one test `name` of one verdict service running `script` (a server first,
/// when `server` is given), on a pool subnet.
fn one_test(name: &str, script: &str, extra: &str) -> String {
    format!(
        "version = 1\n[[test]]\nname = \"{name}\"\ntimeout = \"120s\"\nnetwork = {{ subnet = \"pool\" }}\n  [[test.service]]\n  name = \"main\"\n  image = \"{}\"\n  command = {}\n  verdict = true\n{extra}",
        busybox(),
        shell(script)
    )
}

fn kiln_run(dir: &Path, cache: &Path, name: &str, pool: &str, extra: &[&str]) -> Command {
    let file = dir.join("kiln.toml");
    let mut args = vec![
        "run",
        "-f",
        file.to_str().unwrap(),
        "--name",
        name,
        "--subnet-pool",
        pool,
        "--json",
    ];
    args.extend_from_slice(extra);
    let mut command = kiln(&args);
    command.env("KILN_CACHE_DIR", cache);
    command
}

#[tokio::test]
async fn pool_subnets_never_clash_across_experiments_and_processes() {
    if live_docker("pool_subnets_never_clash_across_experiments_and_processes").is_none() {
        return;
    }
    let part = unique("kp").replace('_', "-");
    let squatter = format!("{part}-squatter");
    let _sweep = Sweep {
        parts: vec![part.clone()],
        networks: vec![squatter.clone()],
    };
    let pool_cidr = "10.214.0.0/20";
    let pool = SubnetPool::new(pool_cidr, 24).unwrap();
    run(docker(&[
        "network",
        "create",
        "--subnet",
        "10.214.3.0/24",
        &squatter,
    ]))
    .unwrap();
    let before: Vec<(String, Ipv4Net)> = all_subnets();
    let cache = tempfile::tempdir().unwrap();

    // Two processes, each keeping its network, at the same time as 8 experiments here.
    let files: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut children = Vec::new();
    for (n, dir) in files.iter().enumerate() {
        fs::write(dir.path().join("kiln.toml"), one_test("t", "exit 0", "")).unwrap();
        let name = format!("{part}-p{n}");
        children.push(
            kiln_run(dir.path(), cache.path(), &name, pool_cidr, &["--keep"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
    }
    let mut tasks = Vec::new();
    for n in 0..8 {
        let (cache, part) = (cache.path().to_owned(), part.clone());
        let mut options = ExperimentOptions::default();
        options.pool = pool;
        tasks.push(tokio::spawn(async move {
            let experiment =
                Experiment::begin(runtime(), &cache, &format!("{part}-e{n}"), options).unwrap();
            let network = experiment
                .create_network("t", &SubnetChoice::Pool)
                .await
                .unwrap();
            (experiment, network)
        }));
    }
    let mut experiments = Vec::new();
    for task in tasks {
        experiments.push(task.await.unwrap());
    }
    let mut kept = Vec::new();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        kept.push(json(&output)["experiment"].as_str().unwrap().to_owned());
    }
    // 10 subnets from the pool, pairwise disjoint, clear of every network that existed before.
    let ours: Vec<Ipv4Net> = all_subnets()
        .into_iter()
        .filter(|(name, _)| name.contains(&part) && name != &squatter)
        .map(|(_, net)| net)
        .collect();
    assert_eq!(ours.len(), 10, "{ours:?}");
    for (i, a) in ours.iter().enumerate() {
        assert!(pool.range().contains(a), "{a} outside the pool");
        for b in &ours[i + 1..] {
            assert!(!overlaps(a, b), "{a} and {b} clash");
        }
        for (name, existing) in &before {
            assert!(
                !overlaps(a, existing),
                "{a} clashes with {name} ({existing})"
            );
        }
    }
    for (experiment, _) in experiments {
        experiment.finish("passed").await.unwrap();
    }
    for id in kept {
        let output = kiln(&["experiment", "rm", &id])
            .env("KILN_CACHE_DIR", cache.path())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        assert_eq!(leftovers(&id), Vec::<String>::new());
    }
}

#[tokio::test]
async fn a_full_pool_names_its_holders_and_gc_of_the_dead_one_frees_it() {
    if live_docker("a_full_pool_names_its_holders_and_gc_of_the_dead_one_frees_it").is_none() {
        return;
    }
    let part = unique("kx").replace('_', "-");
    let _sweep = Sweep {
        parts: vec![part.clone()],
        networks: Vec::new(),
    };
    let pool_cidr = "10.215.0.0/23";
    let pool = SubnetPool::new(pool_cidr, 24).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let mut options = ExperimentOptions::default();
    options.pool = pool;
    // A process that takes a block, then dies by kill -9.
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("kiln.toml"), one_test("t", "sleep 300", "")).unwrap();
    let dead_name = format!("{part}-dead");
    let mut child = kiln_run(dir.path(), cache.path(), &dead_name, pool_cidr, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !all_subnets()
        .iter()
        .any(|(name, _)| name.contains(&dead_name))
    {
        assert!(
            Instant::now() < deadline,
            "the doomed run never made its network"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(500));
    child.kill().unwrap();
    child.wait().unwrap();
    // A live experiment here takes the other block.
    let live = Experiment::begin(
        runtime(),
        cache.path(),
        &format!("{part}-live"),
        options.clone(),
    )
    .unwrap();
    live.create_network("t", &SubnetChoice::Pool).await.unwrap();
    let third = Experiment::begin(
        runtime(),
        cache.path(),
        &format!("{part}-third"),
        options.clone(),
    )
    .unwrap();
    let error = third
        .create_network("t", &SubnetChoice::Pool)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains(pool_cidr), "{error}");
    assert!(
        error.contains(&dead_name) && error.contains("owner dead"),
        "{error}"
    );
    assert!(
        error.contains(&format!("{part}-live")) && error.contains("owner alive"),
        "{error}"
    );
    let gc = kiln(&["experiment", "gc", "--json"])
        .env("KILN_CACHE_DIR", cache.path())
        .output()
        .unwrap();
    assert_eq!(gc.status.code(), Some(0), "{}", stderr(&gc));
    let network = third
        .create_network("t", &SubnetChoice::Pool)
        .await
        .unwrap();
    assert!(
        pool.range()
            .contains(&network.subnet.unwrap().parse::<Ipv4Net>().unwrap())
    );
    third.finish("passed").await.unwrap();
    live.finish("passed").await.unwrap();
}

#[tokio::test]
async fn gc_leaves_a_live_experiment_alone() {
    if live_docker("gc_leaves_a_live_experiment_alone").is_none() {
        return;
    }
    let part = unique("kg").replace('_', "-");
    let _sweep = Sweep {
        parts: vec![part.clone()],
        networks: Vec::new(),
    };
    let cache = tempfile::tempdir().unwrap();
    let experiment = Experiment::begin(
        runtime(),
        cache.path(),
        &format!("{part}-live"),
        ExperimentOptions::default(),
    )
    .unwrap();
    let network = experiment
        .create_network("t", &SubnetChoice::Daemon)
        .await
        .unwrap();
    let spec = kiln_core::ContainerSpec::new("", busybox())
        .command(["sleep", "300"])
        .network(kiln_core::NetworkAttachment::new(&network.name).alias("main"));
    experiment.start("t", "main", spec).await.unwrap();
    let id = experiment.id().to_owned();
    assert_eq!(leftovers(&id).len(), 2);
    let gc = kiln(&["experiment", "gc", "--json"])
        .env("KILN_CACHE_DIR", cache.path())
        .output()
        .unwrap();
    assert_eq!(gc.status.code(), Some(0), "{}", stderr(&gc));
    assert_eq!(
        json(&gc)["experiments"],
        Value::Array(Vec::new()),
        "nothing collected"
    );
    assert_eq!(
        leftovers(&id).len(),
        2,
        "the live experiment kept its resources"
    );
    experiment.finish("passed").await.unwrap();
    assert_eq!(leftovers(&id), Vec::<String>::new());
}

#[test]
fn a_terminal_logs_to_one_console_and_an_oom_kill_is_recorded() {
    if live_docker("a_terminal_logs_to_one_console_and_an_oom_kill_is_recorded").is_none() {
        return;
    }
    let part = unique("ko").replace('_', "-");
    let _sweep = Sweep {
        parts: vec![part.clone()],
        networks: Vec::new(),
    };
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{}\n[[test]]\nname = \"oom\"\ntimeout = \"60s\"\n  [[test.service]]\n  name = \"hog\"\n  image = \"{}\"\n  command = {}\n  memory = \"16MiB\"\n  verdict = true\n",
        one_test(
            "tty",
            "echo on the console; echo also >&2",
            "  tty = true\n"
        ),
        busybox(),
        shell("x=0123456789abcdef; while true; do x=$x$x; done"),
    );
    fs::write(dir.path().join("kiln.toml"), text).unwrap();
    let output = kiln_run(dir.path(), cache.path(), &part, "10.216.0.0/16", &[])
        .output()
        .unwrap();
    let report = json(&output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "the OOM test fails: {report:#}"
    );
    let folder = Path::new(report["folder"].as_str().unwrap());
    let tty = folder.join("tests/tty/containers/main");
    let console = fs::read_to_string(tty.join("console.log")).unwrap();
    assert!(
        console.contains("on the console") && console.contains("also"),
        "{console}"
    );
    assert!(!tty.join("stdout.log").exists());
    let tests = report["tests"].as_array().unwrap();
    let oom = tests.iter().find(|t| t["name"] == "oom").unwrap();
    assert!(oom["reason"].as_str().unwrap().contains("OOM"), "{oom:#}");
    let exit: Value = serde_json::from_slice(
        &fs::read(folder.join("tests/oom/containers/hog/exit.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(exit["oom_killed"], true);
    assert_eq!(
        leftovers(report["experiment"].as_str().unwrap()),
        Vec::<String>::new()
    );
}

#[test]
fn two_experiments_with_the_same_service_names_do_not_clash() {
    if live_docker("two_experiments_with_the_same_service_names_do_not_clash").is_none() {
        return;
    }
    let part = unique("ks").replace('_', "-");
    let _sweep = Sweep {
        parts: vec![part.clone()],
        networks: Vec::new(),
    };
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("kiln.toml"),
        one_test("same", "sleep 1; exit 0", ""),
    )
    .unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| {
            kiln_run(
                dir.path(),
                cache.path(),
                &part,
                "10.217.0.0/16",
                &["--keep"],
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    let mut ids = Vec::new();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        ids.push(json(&output)["experiment"].as_str().unwrap().to_owned());
    }
    assert_ne!(ids[0], ids[1]);
    let names: BTreeSet<String> = ids.iter().flat_map(|id| leftovers(id)).collect();
    assert_eq!(names.len(), 4, "two containers and two networks");
    let rm = kiln(&["experiment", "rm", &ids[0]])
        .env("KILN_CACHE_DIR", cache.path())
        .output()
        .unwrap();
    assert_eq!(rm.status.code(), Some(0), "{}", stderr(&rm));
    assert_eq!(leftovers(&ids[0]), Vec::<String>::new());
    assert_eq!(
        leftovers(&ids[1]).len(),
        2,
        "the other experiment is untouched"
    );
    let rm = kiln(&["experiment", "rm", &ids[1]])
        .env("KILN_CACHE_DIR", cache.path())
        .output()
        .unwrap();
    assert_eq!(rm.status.code(), Some(0), "{}", stderr(&rm));
    assert_eq!(leftovers(&ids[1]), Vec::<String>::new());
}
