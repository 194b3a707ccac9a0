//! Streaming a build context to the daemon: a tar writer on a blocking thread feeding a bounded
//! channel, so the context is never held in memory (a few chunks at most are in flight).

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use kiln_core::{BuildEvent, ContextSource, EventSink};
use tokio::sync::mpsc;

/// Size of the chunks handed to the HTTP body: smaller chunks measurably slow the daemon down
/// (see docs/PERFORMANCE.md, the overhead bench).
const CHUNK: usize = 2 * 1024 * 1024;
/// Chunks buffered between the tar writer and the HTTP body.
const CHANNEL_CHUNKS: usize = 3;
/// Bytes between two `ContextSent` progress events.
const PROGRESS_EVERY: u64 = 32 * 1024 * 1024;

/// What the upload reported once it ended: the error that stopped it, if any.
#[derive(Debug, Clone, Default)]
pub(crate) struct UploadStatus(Arc<Mutex<Option<io::Error>>>);

impl UploadStatus {
    /// Takes the error that stopped the upload, if there was one.
    pub(crate) fn take_error(&self) -> Option<io::Error> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    fn set_error(&self, error: &io::Error) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(io::Error::new(error.kind(), error.to_string()));
    }
}

/// Starts writing `context` as tar on a blocking thread and returns the byte stream to send.
pub(crate) fn tar_stream(
    context: Arc<dyn ContextSource>,
    events: EventSink,
) -> (
    impl Stream<Item = Result<Bytes, io::Error>> + Send + 'static,
    UploadStatus,
) {
    let (sender, receiver) = mpsc::channel(CHANNEL_CHUNKS);
    let status = UploadStatus::default();
    let writer_status = status.clone();
    tokio::task::spawn_blocking(move || {
        let mut writer = ChannelWriter {
            sender,
            buffer: BytesMut::with_capacity(CHUNK),
            sent: 0,
            next_progress: PROGRESS_EVERY,
            events,
        };
        let result = context.write_tar(&mut writer).and_then(|()| writer.flush());
        match result {
            Ok(()) => writer
                .events
                .emit(BuildEvent::ContextSent { bytes: writer.sent }),
            // The receiver is gone: the request failed first (the daemon refused or the
            // connection was lost), and its error is the one to report, not the context's.
            Err(_) if writer.sender.is_closed() => {}
            Err(error) => {
                writer_status.set_error(&error);
                let _ = writer.sender.blocking_send(Err(error));
            }
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    (stream, status)
}

struct ChannelWriter {
    sender: mpsc::Sender<Result<Bytes, io::Error>>,
    buffer: BytesMut,
    sent: u64,
    next_progress: u64,
    events: EventSink,
}

impl ChannelWriter {
    fn send_buffer(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = self.buffer.split().freeze();
        self.sent += chunk.len() as u64;
        self.sender.blocking_send(Ok(chunk)).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the daemon stopped reading the build context",
            )
        })?;
        if self.sent >= self.next_progress {
            self.next_progress = self.sent + PROGRESS_EVERY;
            self.events
                .emit(BuildEvent::ContextSent { bytes: self.sent });
        }
        self.buffer.reserve(CHUNK);
        Ok(())
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK {
            self.send_buffer()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_buffer()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use kiln_core::testing::MemoryContext;

    #[tokio::test]
    async fn the_stream_carries_the_whole_archive() {
        let big = vec![7u8; 3 * CHUNK + 11];
        let context = MemoryContext::new()
            .file("Dockerfile", "FROM scratch")
            .file("big", big.clone());
        let mut expected = Vec::new();
        context.write_tar(&mut expected).unwrap();

        let (stream, status) = tar_stream(Arc::new(context), EventSink::discard());
        let chunks: Vec<_> = stream.collect().await;
        let received: Vec<u8> = chunks
            .into_iter()
            .flat_map(|c| c.unwrap().to_vec())
            .collect();
        assert_eq!(received, expected);
        assert!(status.take_error().is_none());
    }

    #[derive(Debug)]
    struct Broken;

    impl ContextSource for Broken {
        fn write_tar(&self, out: &mut dyn Write) -> io::Result<()> {
            out.write_all(b"partial")?;
            Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "secret.txt: permission denied",
            ))
        }

        fn content_bytes(&self) -> u64 {
            0
        }

        fn entry_count(&self) -> usize {
            0
        }
    }

    #[tokio::test]
    async fn a_failing_context_ends_the_stream_with_its_error() {
        let (stream, status) = tar_stream(Arc::new(Broken), EventSink::discard());
        let items: Vec<_> = stream.collect().await;
        let last = items.last().unwrap().as_ref().unwrap_err();
        assert_eq!(last.kind(), io::ErrorKind::PermissionDenied);
        assert!(
            status
                .take_error()
                .unwrap()
                .to_string()
                .contains("secret.txt")
        );
    }
}
