//! fsutil's sending side of `DiffCopy`: every stat in order and an empty stat to end the
//! listing, while the receiver's requests for file contents are answered (several at once, in
//! frames of at most 32 KiB, an empty frame ending each file); its `FIN` is answered with a
//! `FIN`, and a failure on either side ends the exchange with an `ERR` packet.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use bollard_buildkit_proto::fsutil::types::Packet;
use bollard_buildkit_proto::fsutil::types::packet::PacketType;
use futures_util::Stream;
use kiln_core::{ContextSent, Error};
use tokio::sync::{Semaphore, mpsc};
use tonic::{Status, Streaming};

use super::listing::{FileSource, Listing};

/// The largest data frame, as fsutil sends them.
pub(crate) const FRAME: usize = 32 * 1024;
/// Files read at once (fsutil's sender runs four readers).
const READERS: usize = 4;
/// Packets waiting for the connection: enough to keep it busy, few enough to bound memory.
const QUEUED_PACKETS: usize = 64;

/// What a session's transfers did: file data sent, and the first failure on kiln's side.
#[derive(Debug, Default)]
pub(crate) struct Transfer {
    bytes: AtomicU64,
    /// The files sent whole; one the daemon asked for twice (`.dockerignore` is asked for alone
    /// and then with the context) counts once.
    files: Mutex<HashSet<PathBuf>>,
    failure: Mutex<Option<Error>>,
}

impl Transfer {
    /// The file data sent so far: bytes (every byte that crossed), and distinct files.
    pub(crate) fn sent(&self) -> (u64, u64) {
        let files = self.files.lock().unwrap_or_else(|p| p.into_inner()).len();
        (self.bytes.load(Ordering::Relaxed), files as u64)
    }

    /// `sent`, with the totals of the context it was sent from.
    pub(crate) fn report(&self, context_bytes: u64, context_files: u64) -> ContextSent {
        let (bytes, files) = self.sent();
        ContextSent {
            bytes,
            files,
            context_bytes,
            context_files,
        }
    }

    /// Records the first failure (a file that could not be read), to report instead of the
    /// daemon's rendering of it.
    pub(crate) fn fail(&self, error: Error) {
        let mut failure = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        failure.get_or_insert(error);
    }

    /// The first failure recorded, if any.
    pub(crate) fn failure(&self) -> Option<Error> {
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

type Outbound = mpsc::Sender<Result<Packet, Status>>;

/// Starts answering one `DiffCopy` call: returns the packets to send, a stream that ends when
/// the exchange does.
pub(crate) fn serve(
    listing: Listing,
    inbound: Streaming<Packet>,
    transfer: Arc<Transfer>,
) -> impl Stream<Item = Result<Packet, Status>> + Send + 'static {
    let (outbound, receiver) = mpsc::channel(QUEUED_PACKETS);
    tokio::spawn(exchange(listing, inbound, outbound, transfer));
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|packet| (packet, receiver))
    })
}

fn packet(kind: PacketType) -> Packet {
    Packet {
        r#type: kind as i32,
        ..Packet::default()
    }
}

async fn exchange(
    listing: Listing,
    mut inbound: Streaming<Packet>,
    outbound: Outbound,
    transfer: Arc<Transfer>,
) {
    let Listing { stats, mut files } = listing;
    let listing_task = {
        let outbound = outbound.clone();
        tokio::spawn(async move {
            for stat in stats {
                let stat = Packet {
                    stat: Some(stat),
                    ..packet(PacketType::PacketStat)
                };
                if outbound.send(Ok(stat)).await.is_err() {
                    return;
                }
            }
            // A stat packet without a stat ends the listing.
            let _ = outbound.send(Ok(packet(PacketType::PacketStat))).await;
        })
    };
    let readers = Arc::new(Semaphore::new(READERS));
    let mut reading = tokio::task::JoinSet::new();
    loop {
        let received = match inbound.message().await {
            Ok(Some(received)) => received,
            // The daemon ended the call (or the connection): nothing more to answer.
            Ok(None) | Err(_) => break,
        };
        match PacketType::try_from(received.r#type) {
            Ok(PacketType::PacketReq) => match files.remove(&received.id) {
                Some(source) => {
                    let (outbound, transfer, readers) = (
                        outbound.clone(),
                        Arc::clone(&transfer),
                        Arc::clone(&readers),
                    );
                    reading.spawn(async move {
                        let Ok(_permit) = readers.acquire_owned().await else {
                            return;
                        };
                        let _ = tokio::task::spawn_blocking(move || {
                            send_file(received.id, &source, &outbound, &transfer);
                        })
                        .await;
                    });
                }
                None => {
                    let message = format!("invalid file request {}", received.id);
                    let _ = outbound
                        .send(Ok(Packet {
                            data: message.clone().into_bytes(),
                            ..packet(PacketType::PacketErr)
                        }))
                        .await;
                    transfer.fail(Error::engine("send the build context", message));
                    break;
                }
            },
            Ok(PacketType::PacketFin) => {
                // The receiver has everything it asked for.
                while reading.join_next().await.is_some() {}
                let _ = outbound.send(Ok(packet(PacketType::PacketFin))).await;
                break;
            }
            // The receiver failed: the daemon reports it with the build.
            Ok(PacketType::PacketErr) => break,
            // Stats and data only flow the other way; fsutil's sender ignores them too.
            Ok(PacketType::PacketStat | PacketType::PacketData) | Err(_) => {}
        }
    }
    listing_task.abort();
    reading.abort_all();
}

/// Sends the contents of `source` as data packets of `id` and an empty one to end it, counting
/// them; a read failure is sent as an `ERR` packet naming the file and recorded.
fn send_file(id: u32, source: &FileSource, outbound: &Outbound, transfer: &Transfer) {
    let data = |data: Vec<u8>| {
        Ok(Packet {
            id,
            data,
            ..packet(PacketType::PacketData)
        })
    };
    let result = match source {
        FileSource::Memory { contents, .. } => contents
            .chunks(FRAME)
            .try_for_each(|chunk| {
                send_counted(outbound, transfer, data(chunk.to_vec()), chunk.len())
            })
            .map_err(|_| ()),
        FileSource::Disk { path, size } => {
            let sent = File::open(path).and_then(|file| {
                read_frames(file, *size, |frame| {
                    let length = frame.len();
                    send_counted(outbound, transfer, data(frame), length)
                })
            });
            sent.map_err(|error| {
                if error.kind() != io::ErrorKind::BrokenPipe {
                    let message = format!("{}: {error}", path.display());
                    transfer.fail(Error::context(path, error));
                    let _ = outbound.blocking_send(Ok(Packet {
                        data: message.into_bytes(),
                        ..packet(PacketType::PacketErr)
                    }));
                }
            })
        }
    };
    if result.is_ok() && outbound.blocking_send(data(Vec::new())).is_ok() {
        transfer
            .files
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(source.identity().to_owned());
    }
}

fn send_counted(
    outbound: &Outbound,
    transfer: &Transfer,
    packet: Result<Packet, Status>,
    length: usize,
) -> io::Result<()> {
    outbound
        .blocking_send(packet)
        .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the daemon stopped receiving"))?;
    transfer.bytes.fetch_add(length as u64, Ordering::Relaxed);
    Ok(())
}

/// Reads exactly `size` bytes of `file` in frames of at most [`FRAME`] bytes, handing each to
/// `send`; a file that has shrunk since its size was taken is an error (its stat promised
/// more), one that has grown is cut at `size` (as the tar stream does).
fn read_frames(
    mut file: impl Read,
    size: u64,
    mut send: impl FnMut(Vec<u8>) -> io::Result<()>,
) -> io::Result<()> {
    let mut remaining = size;
    while remaining > 0 {
        let want = usize::try_from(remaining.min(FRAME as u64)).unwrap_or(FRAME);
        let mut frame = vec![0; want];
        let mut filled = 0;
        while filled < want {
            match file.read(&mut frame[filled..]) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "the file shrank while it was sent (it had {size} bytes when the \
                             context was read)"
                        ),
                    ));
                }
                Ok(read) => filled += read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        remaining -= want as u64;
        send(frame)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_at_most_32_kib_and_exactly_the_size() {
        let contents = vec![5u8; 2 * FRAME + 7];
        let mut frames = Vec::new();
        read_frames(contents.as_slice(), contents.len() as u64, |frame| {
            frames.push(frame.len());
            Ok(())
        })
        .unwrap();
        assert_eq!(frames, [FRAME, FRAME, 7]);

        let mut frames = Vec::new();
        read_frames(contents.as_slice(), 10, |frame| {
            frames.push(frame);
            Ok(())
        })
        .unwrap();
        assert_eq!(frames, [vec![5u8; 10]]);
    }

    #[test]
    fn a_file_that_shrank_is_an_error() {
        let error = read_frames(&b"short"[..], 6, |_| Ok(())).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        assert!(error.to_string().contains("6 bytes"), "{error}");
    }

    #[test]
    fn an_empty_file_sends_no_frame() {
        let mut frames = 0;
        read_frames(io::empty(), 0, |_| {
            frames += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(frames, 0);
    }
}
