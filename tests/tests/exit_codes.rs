//! The exit-code contract: every error class × every command of the table in
//! `docs/ARCHITECTURE.md`, run as a process. The table is parsed here, so the documentation and
//! kiln cannot drift apart: a row or a column this file has no scenario for fails the test.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kiln_tests::docker_cli::{docker, run};
use kiln_tests::images::busybox;
use kiln_tests::output::{stderr, stdout};
use kiln_tests::registry::RegistryServer;
use kiln_tests::{ImageCleanup, kiln, live_docker, skip, unique, workspace_root};

/// The marker line just above the table.
const MARKER: &str = "<!-- exit-code table: parsed by tests/tests/exit_codes.rs -->";

/// One row of the table: an error class and its code per command (`None`: cannot arise).
#[derive(Debug)]
struct Row {
    class: String,
    codes: Vec<Option<u8>>,
}

/// The table as the documentation states it: the command names and the rows.
fn contract() -> (Vec<String>, Vec<Row>) {
    let path = workspace_root().join("docs/ARCHITECTURE.md");
    let text = fs::read_to_string(&path).unwrap();
    let mut lines = text
        .lines()
        .skip_while(|line| line.trim() != MARKER)
        .skip(1)
        .take_while(|line| line.starts_with('|'));
    let cells = |line: &str| -> Vec<String> {
        line.trim()
            .trim_matches('|')
            .split('|')
            .map(|cell| cell.trim().to_owned())
            .collect()
    };
    let header = cells(lines.next().expect("the exit-code table after its marker"));
    assert_eq!(header[0], "Error class", "{header:?}");
    let commands = header[1..].to_vec();
    let separator = lines.next().expect("the table's separator line");
    assert!(separator.starts_with("|---"), "{separator}");
    let rows: Vec<Row> = lines
        .map(|line| {
            let cells = cells(line);
            assert_eq!(cells.len(), header.len(), "a full row: {line}");
            let codes = cells[1..]
                .iter()
                .map(|cell| match cell.as_str() {
                    "—" => None,
                    code => Some(
                        code.parse()
                            .unwrap_or_else(|_| panic!("{code:?} in {line}")),
                    ),
                })
                .collect();
            Row {
                class: cells[0].clone(),
                codes,
            }
        })
        .collect();
    assert!(rows.len() >= 10, "the whole table was read: {rows:?}");
    (commands, rows)
}

/// What a row needs: a daemon or not, its environment, and the arguments of each command.
struct Scenario {
    needs_daemon: bool,
    env: Vec<(&'static str, String)>,
    /// Variables removed from kiln's environment.
    unset: Vec<&'static str>,
    context: PathBuf,
    tag: String,
    /// The reference `push` and `pull` use.
    remote: String,
}

/// The fixtures every scenario may use.
struct Fixtures {
    dir: tempfile::TempDir,
    /// A loopback port where nothing listens.
    closed_port: u16,
    /// A server that answers every request with half of what it promised, then hangs up.
    cutting_host: String,
}

impl Fixtures {
    fn new() -> Fixtures {
        let dir = tempfile::tempdir().unwrap();
        write(
            &dir.path().join("good/Dockerfile"),
            "FROM scratch\nCOPY . /\n",
        );
        write(&dir.path().join("mistake/Dockerfile"), "RUN true\n");
        write(&dir.path().join("bad.toml"), "force_build = = 1\n");
        write(
            &dir.path().join("not-a-dir"),
            "a file, not a cache directory\n",
        );
        write(
            &dir.path().join("helper/config.json"),
            "{\"credHelpers\":{\"127.0.0.1\":\"kiln-no-such-helper\"}}\n",
        );
        fs::create_dir_all(dir.path().join("docker-config")).unwrap();
        let closed_port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Fixtures {
            dir,
            closed_port,
            cutting_host: cutting_server(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// No daemon: `DOCKER_HOST` names a socket that does not exist.
    fn no_daemon(&self) -> String {
        format!("unix://{}", self.path("missing.sock").display())
    }

    fn scenario(&self, class: &str) -> Scenario {
        let name = unique("kiln-exit");
        let mut scenario = Scenario {
            needs_daemon: false,
            env: vec![("DOCKER_HOST", self.no_daemon())],
            unset: vec![],
            context: self.path("good"),
            tag: format!("{name}:1"),
            remote: format!("127.0.0.1:{}/{name}:1", self.closed_port),
        };
        match class {
            "success" | "an absent image" | "a failing build step" | "refused credentials" => {
                scenario.needs_daemon = true;
                scenario.env.clear();
            }
            "a bad reference" => {
                scenario.tag = "Bad/:ref!".to_owned();
                scenario.remote = "Bad/:ref!".to_owned();
            }
            "a missing build context" => scenario.context = self.path("no-such-context"),
            "a Dockerfile mistake" => scenario.context = self.path("mistake"),
            "a bad configuration file" => scenario
                .env
                .push(("KILN_CONFIG", self.path("bad.toml").display().to_string())),
            "a `DOCKER_HOST` without an address" => {
                scenario.env = vec![("DOCKER_HOST", "tcp://".to_owned())];
            }
            "a missing Docker context" => {
                scenario.env = vec![
                    ("DOCKER_CONTEXT", "kiln-no-such-context".to_owned()),
                    (
                        "DOCKER_CONFIG",
                        self.path("docker-config").display().to_string(),
                    ),
                ];
                scenario.unset.push("DOCKER_HOST");
            }
            "a missing credential helper" => {
                scenario.remote = format!("127.0.0.1/{name}:1");
                scenario
                    .env
                    .push(("DOCKER_CONFIG", self.path("helper").display().to_string()));
            }
            "an unusable cache directory" => scenario.env.push((
                "KILN_CACHE_DIR",
                self.path("not-a-dir").display().to_string(),
            )),
            "an unreachable daemon" => {}
            "a daemon connection lost" => {
                scenario.env = vec![("DOCKER_HOST", self.cutting_host.clone())];
            }
            other => panic!(
                "docs/ARCHITECTURE.md's exit-code table names {other:?}, which \
                 tests/tests/exit_codes.rs has no scenario for"
            ),
        }
        scenario
    }
}

/// Writes `text` to `path`, making its directory.
fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

/// Starts a server on a loopback port that reads a request, answers with half of a promised
/// body and closes the connection, for as long as the test process lives; returns its host.
fn cutting_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = format!("tcp://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut socket in listener.incoming().flatten() {
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request);
            let _ = socket.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                  Content-Length: 200\r\n\r\n{\"ApiVersion\":",
            );
        }
    });
    host
}

/// The arguments of `command` in `scenario`.
fn arguments(command: &str, scenario: &Scenario) -> Vec<String> {
    let context = scenario.context.display().to_string();
    let args: Vec<&str> = match command {
        "build" => vec!["build", &context, "--tag", &scenario.tag],
        "plan" => vec!["plan", &context, "--tag", &scenario.tag],
        "exists" => vec!["exists", &scenario.tag],
        "push" => vec!["push", &scenario.remote],
        "pull" => vec!["pull", &scenario.remote],
        "doctor" => vec!["doctor"],
        "cache stats" => vec!["cache", "stats"],
        "cache clear" => vec!["cache", "clear"],
        // A name of the scenario's own: on the daemon, nothing of another test is touched.
        "images ls" => vec!["images", "ls", &scenario.tag],
        "images prune" => vec!["images", "prune", &scenario.tag, "--keep", "1"],
        other => panic!(
            "docs/ARCHITECTURE.md's exit-code table has a column {other:?}, which \
             tests/tests/exit_codes.rs cannot run"
        ),
    };
    args.into_iter().map(str::to_owned).collect()
}

/// Runs every cell of `row` in `scenario` and returns a line per cell that differs.
fn check_row(commands: &[String], row: &Row, scenario: &Scenario) -> Vec<String> {
    let mut mismatches = Vec::new();
    for (command, expected) in commands.iter().zip(&row.codes) {
        let Some(expected) = expected else { continue };
        let args = arguments(command, scenario);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut process = kiln(&args);
        for name in &scenario.unset {
            process.env_remove(name);
        }
        for (name, value) in &scenario.env {
            process.env(name, value);
        }
        let output = process.output().unwrap();
        if output.status.code() != Some(i32::from(*expected)) {
            mismatches.push(format!(
                "{} × {command}: expected {expected}, got {:?}\n  args: {args:?}\n  stdout: {}\n  \
                 stderr: {}",
                row.class,
                output.status.code(),
                stdout(&output).trim(),
                stderr(&output).trim()
            ));
        }
    }
    mismatches
}

#[test]
fn the_contract_without_a_daemon() {
    let (commands, rows) = contract();
    let fixtures = Fixtures::new();
    let mut mismatches = Vec::new();
    let mut checked = 0;
    for row in &rows {
        let scenario = fixtures.scenario(&row.class);
        if scenario.needs_daemon {
            continue;
        }
        checked += 1;
        mismatches.extend(check_row(&commands, row, &scenario));
    }
    assert!(checked >= 8, "most classes need no daemon: {checked}");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn the_contract_with_the_daemon() {
    if live_docker("the_contract_with_the_daemon").is_none() {
        return;
    }
    let registry = match RegistryServer::start(&[]) {
        Ok(registry) => registry,
        Err(reason) => {
            skip(
                "the_contract_with_the_daemon",
                &format!("no test registry ({reason})"),
            );
            return;
        }
    };
    let guarded = match RegistryServer::start(&[("kiln", "right-password")]) {
        Ok(registry) => registry,
        Err(reason) => {
            skip(
                "the_contract_with_the_daemon",
                &format!("no test registry with users ({reason})"),
            );
            return;
        }
    };
    let (commands, rows) = contract();
    let fixtures = Fixtures::new();
    let wrong = STANDARD.encode("kiln:wrong-password");
    write(
        &fixtures.path("wrong-auth/config.json"),
        &format!(
            "{{\"auths\":{{\"{}\":{{\"auth\":\"{wrong}\"}}}}}}",
            guarded.host()
        ),
    );
    let base = busybox();
    write(
        &fixtures.path("busybox/Dockerfile"),
        &format!("FROM {base}\nRUN echo built > /built\n"),
    );
    write(
        &fixtures.path("failing/Dockerfile"),
        &format!("FROM {base}\nRUN exit 3\n"),
    );
    let mut cleanup = ImageCleanup::new();
    let mut mismatches = Vec::new();
    for row in &rows {
        let mut scenario = fixtures.scenario(&row.class);
        if !scenario.needs_daemon {
            continue;
        }
        let name = unique("kiln-exit");
        scenario.remote = format!("{}/{name}:1", registry.host());
        match row.class.as_str() {
            "success" => {
                scenario.context = fixtures.path("busybox");
                scenario.tag = scenario.remote.clone();
            }
            "a failing build step" => scenario.context = fixtures.path("failing"),
            "refused credentials" => {
                scenario.remote = format!("{}/{name}:1", guarded.host());
                scenario.env.push((
                    "DOCKER_CONFIG",
                    fixtures.path("wrong-auth").display().to_string(),
                ));
                // Something to push: the base image under the guarded registry's name.
                run(docker(&["tag", base, &scenario.remote])).unwrap();
            }
            _ => {}
        }
        cleanup.add(&scenario.tag);
        cleanup.add(&scenario.remote);
        mismatches.extend(check_row(&commands, row, &scenario));
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
