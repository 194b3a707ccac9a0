//! The live daemon behind ssh, as `DOCKER_HOST=ssh://…` reaches a remote one: OpenSSH's `sshd`
//! on a free loopback port, with a host key and a client key that `ssh-keygen` makes in a
//! temporary directory, letting root in with that key only. The remote side is this machine:
//! its `docker` CLI runs `docker system dial-stdio` to the daemon the tests use.
//!
//! The client side needs nothing of `~/.ssh` (which ssh finds through the password database,
//! not `$HOME`): [`SshDaemon::client_config`] is an ssh configuration file, for
//! `KILN_SSH_CONFIG`, naming the key and a known_hosts file that already holds the host's key.
//! Dropping the fixture kills `sshd` and every process it started for a connection.

#![expect(
    clippy::disallowed_methods,
    reason = "the fixture runs sshd, ssh-keygen and kill"
)]

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use kiln_core::{Env, ProcessEnv};

/// Where Debian's `openssh-server` installs the daemon.
pub const SSHD_BINARY: &str = "/usr/sbin/sshd";

/// The directory sshd insists on for privilege separation (its service unit makes it).
const PRIVSEP_DIR: &str = "/run/sshd";

/// Where the remote `docker` CLI is looked for: the `PATH` sshd gives a session.
const SESSION_PATH: &[&str] = &["/usr/local/bin", "/usr/bin", "/bin"];

/// The daemon socket the remote `docker` CLI dials when the host names none.
const DOCKER_CLI_DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// How long [`SshDaemon::start`] waits for sshd's greeting.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How many fresh ports [`SshDaemon::start`] tries when another process takes the one it picked.
const PORT_ATTEMPTS: usize = 5;

/// A running `sshd -D` on `127.0.0.1:<port>`, stopped (with its connections) when dropped.
#[derive(Debug)]
pub struct SshDaemon {
    child: Mutex<Child>,
    port: u16,
    /// The daemon socket the host names (`None`: the remote CLI's default).
    socket: Option<String>,
    log: PathBuf,
    // Last, so the directory outlives the process (Drop stops the process first anyway).
    dir: tempfile::TempDir,
}

impl SshDaemon {
    /// Starts sshd for the daemon behind `socket` on the remote side (this machine), with keys
    /// made for it, and waits for its greeting (up to 10 s).
    ///
    /// # Errors
    ///
    /// A description of what failed (with sshd's log when it did not start).
    pub fn start(socket: &Path) -> Result<SshDaemon, String> {
        let dir = tempfile::Builder::new()
            .prefix("kiln-sshd-")
            .tempdir()
            .map_err(|error| format!("cannot create the sshd directory: {error}"))?;
        ensure_privsep_dir()?;
        for key in ["host_ed25519", "id_ed25519"] {
            keygen(&dir.path().join(key))?;
        }
        fs::copy(
            dir.path().join("id_ed25519.pub"),
            dir.path().join("authorized_keys"),
        )
        .map_err(|error| format!("cannot write authorized_keys: {error}"))?;
        let socket = socket.to_str().map(str::to_owned);
        let socket = socket.filter(|socket| socket != DOCKER_CLI_DEFAULT_SOCKET);

        let mut last_error = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port()?;
            let config = dir.path().join("sshd_config");
            write(&config, &sshd_config(dir.path(), port))?;
            write(
                &dir.path().join("known_hosts"),
                &known_hosts(dir.path(), port)?,
            )?;
            write(&dir.path().join("ssh_config"), &client_config(dir.path()))?;
            let log = dir.path().join(format!("sshd-{port}.log"));
            let mut child = spawn_sshd(&config, &log)?;
            match wait_ready(&mut child, port) {
                Ok(()) => {
                    return Ok(SshDaemon {
                        child: Mutex::new(child),
                        port,
                        socket,
                        log,
                        dir,
                    });
                }
                Err(error) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let text = fs::read_to_string(&log).unwrap_or_default();
                    last_error = format!("{error}; sshd log:\n{text}");
                    if !text.contains("Address already in use") {
                        return Err(last_error);
                    }
                }
            }
        }
        Err(last_error)
    }

    /// `ssh://root@127.0.0.1:PORT[/socket]`, for `DOCKER_HOST`.
    pub fn host(&self) -> String {
        self.host_as("root")
    }

    /// [`SshDaemon::host`] logging in as `user` (whom sshd refuses unless it is root).
    pub fn host_as(&self, user: &str) -> String {
        format!(
            "ssh://{user}@127.0.0.1:{}{}",
            self.port,
            self.socket.as_deref().unwrap_or_default()
        )
    }

    /// The port sshd listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The client's ssh configuration, for `KILN_SSH_CONFIG`: the key, the known_hosts file
    /// holding the host's key, strict host key checking.
    pub fn client_config(&self) -> PathBuf {
        self.dir.path().join("ssh_config")
    }

    /// A client configuration with the same key and an empty known_hosts file: the host's key
    /// is not on record.
    ///
    /// # Errors
    ///
    /// When the files cannot be written.
    pub fn client_config_without_host_key(&self) -> Result<PathBuf, String> {
        let stranger = self.dir.path().join("stranger");
        fs::create_dir_all(&stranger).map_err(|error| error.to_string())?;
        write(&stranger.join("known_hosts"), "")?;
        let config = client_config(self.dir.path()).replace(
            &self.dir.path().join("known_hosts").display().to_string(),
            &stranger.join("known_hosts").display().to_string(),
        );
        let path = stranger.join("ssh_config");
        write(&path, &config)?;
        Ok(path)
    }

    /// How many processes sshd runs for connections now (one per open ssh connection and
    /// more): zero once every client has gone.
    pub fn connection_processes(&self) -> usize {
        let pid = lock(&self.child).id();
        descendants(pid).len()
    }

    /// Ends every connection (their processes are killed), as a restart of the server or a
    /// network failure would; sshd keeps listening.
    pub fn end_connections(&self) {
        let pid = lock(&self.child).id();
        kill_all(&descendants(pid));
    }

    /// The processes sshd runs for connections, one `pid: command line` per line.
    pub fn connection_report(&self) -> String {
        let pid = lock(&self.child).id();
        descendants(pid)
            .into_iter()
            .map(|pid| {
                let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                format!("{pid}: {}", cmdline.trim_end())
            })
            .chain(self.client_processes())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The ssh clients on this machine that go to this sshd, as `client pid: command line`.
    fn client_processes(&self) -> Vec<String> {
        let port = format!(" {} ", self.port);
        fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
            .filter_map(|pid| {
                let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
                let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                (cmdline.starts_with("ssh ") && cmdline.contains(&port))
                    .then(|| format!("client {pid}: {}", cmdline.trim_end()))
            })
            .collect()
    }

    /// Waits up to `timeout` for every connection to end; whether they all did.
    pub fn wait_until_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.connection_processes() == 0 {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What sshd logged.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for SshDaemon {
    fn drop(&mut self) {
        let child = self
            .child
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // The connections first: sshd leaves them running when it stops.
        kill_all(&descendants(child.id()));
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The daemon the tests use behind a fixture sshd, or `None` (with a printed reason) when the
/// test should skip: no daemon, a daemon not on a unix socket, not root (sshd lets a user in
/// with a key only when it runs as root), or OpenSSH's server, client or the `docker` CLI
/// missing.
///
/// # Panics
///
/// When the test cannot run and `KILN_REQUIRE_DOCKER=1` is set, and whenever sshd cannot be
/// started although everything it needs is there (a failure, not a reason to skip).
pub fn ssh_daemon_or_skip(test: &str) -> Option<SshDaemon> {
    let socket = requirements_or_skip(test)?;
    Some(
        SshDaemon::start(&socket)
            .unwrap_or_else(|error| panic!("{test}: cannot start sshd: {error}")),
    )
}

/// [`ssh_daemon_or_skip`], shared by the tests of one process that run at the same time: the
/// daemon stops when the last of them drops it (and the next one starts another).
///
/// # Panics
///
/// As [`ssh_daemon_or_skip`].
pub fn shared_ssh_daemon_or_skip(test: &str) -> Option<Arc<SshDaemon>> {
    static SHARED: Mutex<Weak<SshDaemon>> = Mutex::new(Weak::new());
    let socket = requirements_or_skip(test)?;
    let mut shared = lock(&SHARED);
    if let Some(daemon) = shared.upgrade() {
        return Some(daemon);
    }
    let daemon = Arc::new(
        SshDaemon::start(&socket)
            .unwrap_or_else(|error| panic!("{test}: cannot start sshd: {error}")),
    );
    *shared = Arc::downgrade(&daemon);
    Some(daemon)
}

/// Whether the ssh client is installed (what an unreachable `ssh://` host needs to be tried);
/// `false` with a printed reason otherwise.
///
/// # Panics
///
/// When it is missing and `KILN_REQUIRE_DOCKER=1` is set.
pub fn ssh_client_or_skip(test: &str) -> bool {
    match missing_client() {
        None => true,
        Some(reason) => {
            skip_or_fail(test, &reason);
            false
        }
    }
}

/// The daemon's socket on this machine, when every requirement holds.
fn requirements_or_skip(test: &str) -> Option<PathBuf> {
    crate::live_docker(test)?;
    let socket = crate::tcp_daemon::daemon_socket();
    let problem = match &socket {
        Err(reason) => Some(reason.clone()),
        Ok(_) => missing_client().or_else(missing_server).or_else(|| {
            (!is_root()).then(|| {
                "the tests do not run as root (sshd lets a user in with a key only as root)"
                    .to_owned()
            })
        }),
    };
    if let Some(reason) = problem {
        skip_or_fail(test, &reason);
        return None;
    }
    socket.ok()
}

fn skip_or_fail(test: &str, reason: &str) {
    if ProcessEnv.flag("KILN_REQUIRE_DOCKER") {
        panic!("{test}: KILN_REQUIRE_DOCKER=1 but {reason} (.ci/setup installs openssh-server)");
    }
    crate::skip(test, reason);
}

fn missing_client() -> Option<String> {
    ["ssh", "ssh-keygen"].into_iter().find_map(|tool| {
        let found = Command::new(tool)
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        (!found).then(|| format!("{tool} is missing (Debian package openssh-client)"))
    })
}

fn missing_server() -> Option<String> {
    if !Path::new(SSHD_BINARY).is_file() {
        return Some(format!(
            "{SSHD_BINARY} is missing (Debian package openssh-server)"
        ));
    }
    let has_docker = SESSION_PATH
        .iter()
        .any(|dir| Path::new(dir).join("docker").is_file());
    (!has_docker).then(|| {
        format!(
            "no docker CLI in {} for the remote side's `docker system dial-stdio`",
            SESSION_PATH.join(":")
        )
    })
}

/// Whether this process runs as root (its real user id, from `/proc/self/status`).
fn is_root() -> bool {
    fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().next())
            == Some("0")
    })
}

/// Makes sshd's privilege separation directory when it is missing (a tmpfs, emptied at boot).
fn ensure_privsep_dir() -> Result<(), String> {
    let dir = Path::new(PRIVSEP_DIR);
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(|error| format!("cannot create {PRIVSEP_DIR}: {error}"))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
        .map_err(|error| format!("cannot set the mode of {PRIVSEP_DIR}: {error}"))
}

/// An ed25519 key without a passphrase at `path` (and `path.pub`).
fn keygen(path: &Path) -> Result<(), String> {
    let output = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "kiln-tests", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("cannot run ssh-keygen: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ssh-keygen {}: {}",
            path.display(),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

fn sshd_config(dir: &Path, port: u16) -> String {
    let dir = dir.display();
    format!(
        "Port {port}\n\
         ListenAddress 127.0.0.1\n\
         HostKey {dir}/host_ed25519\n\
         AuthorizedKeysFile {dir}/authorized_keys\n\
         PermitRootLogin prohibit-password\n\
         AllowUsers root\n\
         PubkeyAuthentication yes\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         UsePAM no\n\
         StrictModes no\n\
         UseDNS no\n\
         PrintMotd no\n\
         PrintLastLog no\n\
         PidFile none\n\
         LogLevel VERBOSE\n"
    )
}

/// The known_hosts line of the fixture's host key at `127.0.0.1:port`.
fn known_hosts(dir: &Path, port: u16) -> Result<String, String> {
    let public = fs::read_to_string(dir.join("host_ed25519.pub"))
        .map_err(|error| format!("cannot read the host key: {error}"))?;
    let key: Vec<&str> = public.split_whitespace().take(2).collect();
    Ok(format!("[127.0.0.1]:{port} {}\n", key.join(" ")))
}

fn client_config(dir: &Path) -> String {
    let dir = dir.display();
    format!(
        "Host *\n\
         \x20 IdentityFile {dir}/id_ed25519\n\
         \x20 IdentitiesOnly yes\n\
         \x20 UserKnownHostsFile {dir}/known_hosts\n\
         \x20 GlobalKnownHostsFile /dev/null\n\
         \x20 StrictHostKeyChecking yes\n\
         \x20 LogLevel ERROR\n"
    )
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    fs::write(path, text).map_err(|error| format!("cannot write {}: {error}", path.display()))
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|error| format!("cannot bind a loopback port: {error}"))?;
    listener
        .local_addr()
        .map(|address| address.port())
        .map_err(|error| format!("cannot read the bound port: {error}"))
}

fn spawn_sshd(config: &Path, log: &Path) -> Result<Child, String> {
    let log_file =
        File::create(log).map_err(|error| format!("cannot create {}: {error}", log.display()))?;
    // -D: stay in the foreground (a child of the test), -e: log to stderr (the log file).
    Command::new(SSHD_BINARY)
        .arg("-D")
        .arg("-e")
        .arg("-f")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .map_err(|error| format!("cannot start {SSHD_BINARY}: {error}"))
}

/// Waits until sshd greets a connection (`SSH-2.0-…`), exits, or time runs out.
fn wait_ready(child: &mut Child, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    let mut last = String::from("no answer yet");
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("sshd exited early ({status})"));
        }
        match greeting(port) {
            Ok(line) if line.starts_with("SSH-") => return Ok(()),
            Ok(line) => last = format!("greeted with {line:?}"),
            Err(error) => last = error,
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "sshd did not greet on port {port} within {START_TIMEOUT:?} ({last})"
    ))
}

fn greeting(port: u16) -> Result<String, String> {
    let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|error| error.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|error| error.to_string())?;
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .map_err(|error| error.to_string())?;
    Ok(line.trim_end().to_owned())
}

/// Sends SIGKILL to each of `pids` (one that has gone already is no error).
fn kill_all(pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg("-KILL")
        .args(pids.iter().map(u32::to_string))
        .stderr(Stdio::null())
        .status();
}

/// Every process below `pid` (children, their children...), read from `/proc`.
fn descendants(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|child| Some((child, parent_of(child)?)))
        .collect();
    let mut found = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for (child, _) in parents.iter().filter(|(_, of)| *of == parent) {
            found.push(*child);
            frontier.push(*child);
        }
    }
    found
}

/// The parent of `pid` (field 4 of `/proc/<pid>/stat`, after the parenthesised name).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

/// Locks `mutex`, going on after a panic elsewhere.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
