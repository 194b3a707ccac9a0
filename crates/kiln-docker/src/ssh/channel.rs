//! One connection to the daemon over the master: the remote `docker system dial-stdio`, whose
//! standard input and output carry the HTTP connection, and the connector that hyper's client
//! asks for each new one.
//!
//! What the remote command writes on its standard error is kept (the first 8 KiB): when it ends
//! before the daemon said anything (no `docker` on the host, no daemon behind the socket), a
//! read fails with an [`SshFailure`] quoting it, instead of a bare end of file.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use openssh::{Child, ChildStderr, ChildStdin, ChildStdout, Session, Stdio};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::task::JoinHandle;

use super::failure::SshFailure;
use super::master::Master;

/// How much of the remote command's standard error is kept for messages.
const STDERR_KEPT: u64 = 8 * 1024;

/// A connection to the daemon through `docker system dial-stdio` on the remote host.
pub(crate) struct SshChannel {
    /// The local ssh client of this channel; dropping it kills that process.
    _child: Child<Arc<Session>>,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    /// The remote command's standard error, read to its end on a task of its own (so that a
    /// full pipe never blocks the command), and what kiln says when the command ends early.
    stderr: Option<JoinHandle<String>>,
    /// The failure to report if the command ends before a byte of answer, built when the
    /// channel opened (the destination and command are known then).
    ended_early: Box<dyn Fn(&str) -> SshFailure + Send + Sync>,
    answered: bool,
}

impl SshChannel {
    /// Opens a channel through `master`'s connection.
    pub(crate) async fn open(master: &Master) -> Result<SshChannel, SshFailure> {
        let session = master.session().await?;
        let destination = master.destination().clone();
        let args = destination.dial_stdio_args();
        let command = format!("docker {}", args.join(" "));
        let mut child = Session::to_command(session, "docker")
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .await
            .map_err(|error| SshFailure::channel_not_opened(&destination, &error))?;
        let (Some(stdin), Some(stdout), Some(stderr)) = (
            child.stdin().take(),
            child.stdout().take(),
            child.stderr().take(),
        ) else {
            let error = openssh::Error::ChildIo(io::Error::other("a pipe of ssh is missing"));
            return Err(SshFailure::channel_not_opened(&destination, &error));
        };
        tracing::trace!(%destination, %command, "ssh channel opened");
        Ok(SshChannel {
            _child: child,
            stdin: Some(stdin),
            stdout,
            stderr: Some(tokio::spawn(read_stderr(stderr))),
            ended_early: Box::new(move |stderr| {
                SshFailure::channel_ended(&destination, &command, stderr)
            }),
            answered: false,
        })
    }
}

/// The first [`STDERR_KEPT`] bytes of `stderr`; the rest is read and dropped.
async fn read_stderr(stderr: ChildStderr) -> String {
    let mut kept = Vec::new();
    let mut stderr = stderr;
    let _ = (&mut stderr).take(STDERR_KEPT).read_to_end(&mut kept).await;
    let _ = tokio::io::copy(&mut stderr, &mut tokio::io::sink()).await;
    String::from_utf8_lossy(&kept).into_owned()
}

impl AsyncRead for SshChannel {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.answered || buf.remaining() == 0 {
            return Pin::new(&mut this.stdout).poll_read(cx, buf);
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.stdout).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            this.answered = true;
            return Poll::Ready(Ok(()));
        }
        // The end, before any answer: say why, once the command's messages are all read.
        let Some(stderr) = this.stderr.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let said = ready!(Pin::new(stderr).poll(cx)).unwrap_or_default();
        this.stderr = None;
        Poll::Ready(Err(io::Error::other((this.ended_early)(&said))))
    }
}

impl AsyncWrite for SshChannel {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().stdin.as_mut() {
            Some(stdin) => Pin::new(stdin).poll_write(cx, buf),
            None => Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().stdin.as_mut() {
            Some(stdin) => Pin::new(stdin).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    /// Closes the remote command's standard input (a pipe is closed by dropping it).
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(stdin) = this.stdin.as_mut() {
            ready!(Pin::new(stdin).poll_shutdown(cx))?;
        }
        this.stdin = None;
        Poll::Ready(Ok(()))
    }
}

impl Connection for SshChannel {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

/// hyper's connector: each new connection is a new channel through the master.
#[derive(Clone)]
pub(crate) struct SshConnector {
    master: Arc<Master>,
}

impl SshConnector {
    pub(crate) fn new(master: Arc<Master>) -> SshConnector {
        SshConnector { master }
    }
}

impl tower_service::Service<hyper::Uri> for SshConnector {
    type Response = TokioIo<SshChannel>;
    type Error = SshFailure;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, SshFailure>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), SshFailure>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: hyper::Uri) -> Self::Future {
        let master = Arc::clone(&self.master);
        Box::pin(async move { SshChannel::open(&master).await.map(TokioIo::new) })
    }
}
