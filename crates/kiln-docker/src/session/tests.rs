//! The session's services against a gRPC client playing the daemon's part over an in-memory
//! connection: fsutil's exchange packet by packet, the bytes counted, failures named.

use std::collections::HashMap;
use std::fs;
use std::future::{Ready, ready};
use std::io;
use std::path::Path;
use std::task::{Context, Poll};

use bollard_buildkit_proto::fsutil::types::packet::PacketType;
use bollard_buildkit_proto::fsutil::types::{Packet, Stat};
use bollard_buildkit_proto::health::HealthCheckRequest;
use bollard_buildkit_proto::health::health_client::HealthClient;
use bollard_buildkit_proto::moby::filesync::v1::CredentialsRequest;
use bollard_buildkit_proto::moby::filesync::v1::auth_client::AuthClient;
use bollard_buildkit_proto::moby::filesync::v1::file_sync_client::FileSyncClient;
use hyper_util::rt::TokioIo;
use kiln_context::PreparedContext;
use kiln_core::ContextSource;
use tokio::io::DuplexStream;
use tokio::sync::mpsc;
use tonic::transport::{Channel, Endpoint, Uri};
use tonic::{Code, Request, Status, Streaming};

use super::sender::FRAME;
use super::*;

/// Hands the client its end of the in-memory connection, once.
struct OneConnection(Option<DuplexStream>);

impl tonic::codegen::Service<Uri> for OneConnection {
    type Response = TokioIo<DuplexStream>;
    type Error = io::Error;
    type Future = Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Self::Future {
        ready(
            self.0
                .take()
                .map(TokioIo::new)
                .ok_or_else(|| io::Error::other("one connection only")),
        )
    }
}

/// A session serving the context `dir` (its `Dockerfile`), and the daemon's end of it.
async fn session_for(dir: &Path) -> (Session, Channel) {
    let context: Arc<dyn ContextSource> = Arc::new(PreparedContext::prepare(dir, None).unwrap());
    let dirs = ServedDirs::for_context(&context).expect("a directory context is served");
    let (daemon_side, kiln_side) = tokio::io::duplex(1 << 20);
    let session = Session::serve(kiln_side, "test-session".into(), dirs, Vec::new());
    let channel = Endpoint::from_static("http://session")
        .connect_with_connector(OneConnection(Some(daemon_side)))
        .await
        .unwrap();
    (session, channel)
}

/// The daemon's end of one `DiffCopy` call.
struct Call {
    to_kiln: mpsc::Sender<Packet>,
    from_kiln: Streaming<Packet>,
}

fn packet(kind: PacketType, id: u32) -> Packet {
    Packet {
        r#type: kind as i32,
        id,
        ..Packet::default()
    }
}

async fn open_call(
    channel: &Channel,
    dir_name: &'static str,
    metadata: &[(&'static str, &'static str)],
) -> Result<Call, Status> {
    let (to_kiln, receiver) = mpsc::channel(16);
    let outbound = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|packet| (packet, receiver))
    });
    let mut request = Request::new(outbound);
    request
        .metadata_mut()
        .insert("dir-name", dir_name.parse().unwrap());
    for (key, value) in metadata {
        request.metadata_mut().append(*key, value.parse().unwrap());
    }
    let response = FileSyncClient::new(channel.clone())
        .diff_copy(request)
        .await?;
    Ok(Call {
        to_kiln,
        from_kiln: response.into_inner(),
    })
}

impl Call {
    async fn next(&mut self) -> Packet {
        self.from_kiln
            .message()
            .await
            .expect("a packet, not an error")
            .expect("a packet, not the end")
    }

    /// The stats up to the empty one that ends the listing.
    async fn listing(&mut self) -> Vec<Stat> {
        let mut stats = Vec::new();
        loop {
            let packet = self.next().await;
            assert_eq!(packet.r#type, PacketType::PacketStat as i32, "{packet:?}");
            match packet.stat {
                Some(stat) => stats.push(stat),
                None => return stats,
            }
        }
    }

    async fn send(&self, packet: Packet) {
        self.to_kiln.send(packet).await.unwrap();
    }

    /// The data of `count` files, each ended by an empty frame, checking the frames' size.
    async fn data(&mut self, count: usize) -> HashMap<u32, Vec<u8>> {
        let mut files: HashMap<u32, Vec<u8>> = HashMap::new();
        let mut ended = 0;
        while ended < count {
            let packet = self.next().await;
            assert_eq!(packet.r#type, PacketType::PacketData as i32, "{packet:?}");
            assert!(
                packet.data.len() <= FRAME,
                "a frame of {}",
                packet.data.len()
            );
            if packet.data.is_empty() {
                ended += 1;
            }
            files.entry(packet.id).or_default().extend(packet.data);
        }
        files
    }

    /// `FIN`, answered with `FIN` and the end of the call.
    async fn finish(mut self) {
        self.send(packet(PacketType::PacketFin, 0)).await;
        assert_eq!(self.next().await.r#type, PacketType::PacketFin as i32);
        assert!(self.from_kiln.message().await.unwrap().is_none());
    }
}

fn context(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("Dockerfile"), "FROM scratch\nCOPY . /\n").unwrap();
    for (path, contents) in files {
        let path = dir.path().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, contents).unwrap();
    }
    dir
}

fn id_of(stats: &[Stat], path: &str) -> u32 {
    let index = stats.iter().position(|stat| stat.path == path).unwrap();
    u32::try_from(index).unwrap()
}

#[tokio::test]
async fn the_context_is_listed_then_sent_as_asked() {
    let big: Vec<u8> = (0..FRAME * 2 + 100).map(|i| (i % 251) as u8).collect();
    let dir = context(&[
        (".dockerignore", b"*.log\n"),
        ("a.bin", &big),
        ("sub/b.txt", b"bee"),
        ("x.log", b"ignored"),
    ]);
    fs::create_dir(dir.path().join("empty")).unwrap();
    std::os::unix::fs::symlink("a.bin", dir.path().join("link")).unwrap();
    let (session, channel) = session_for(dir.path()).await;

    let mut call = open_call(&channel, "context", &[]).await.unwrap();
    let stats = call.listing().await;
    let paths: Vec<&str> = stats.iter().map(|stat| stat.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            ".dockerignore",
            "Dockerfile",
            "a.bin",
            "empty",
            "link",
            "sub",
            "sub/b.txt"
        ]
    );
    assert_eq!(stats[4].linkname, "a.bin");
    // Both asked at once: the answers may interleave, each file ends with an empty frame.
    let (a, b) = (id_of(&stats, "a.bin"), id_of(&stats, "sub/b.txt"));
    call.send(packet(PacketType::PacketReq, a)).await;
    call.send(packet(PacketType::PacketReq, b)).await;
    let data = call.data(2).await;
    assert_eq!(data[&a], big);
    assert_eq!(data[&b], b"bee");
    call.finish().await;

    let sent = session.sent();
    assert_eq!((sent.bytes, sent.files), (big.len() as u64 + 3, 2));
    // Context files and the Dockerfile: what the daemon could have asked for.
    assert_eq!(sent.context_files, 5);
    assert!(session.failure().is_none());
}

#[tokio::test]
async fn follow_paths_narrow_the_listing() {
    let dir = context(&[
        (".dockerignore", b"x\n"),
        ("src/a.c", b"a"),
        ("doc/d", b"d"),
    ]);
    let (_session, channel) = session_for(dir.path()).await;
    let mut call = open_call(&channel, "context", &[("followpaths", ".dockerignore")])
        .await
        .unwrap();
    let stats = call.listing().await;
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].path, ".dockerignore");
    call.finish().await;

    let mut call = open_call(&channel, "context", &[("followpaths", "src")])
        .await
        .unwrap();
    let paths: Vec<String> = call.listing().await.into_iter().map(|s| s.path).collect();
    assert_eq!(paths, ["src", "src/a.c"]);
    call.finish().await;
}

#[tokio::test]
async fn a_file_asked_for_in_two_calls_counts_once_and_its_bytes_twice() {
    let dir = context(&[(".dockerignore", b"*.o\n")]);
    let (session, channel) = session_for(dir.path()).await;
    for follow in [Some(".dockerignore"), None] {
        let metadata: Vec<(&'static str, &'static str)> = follow
            .map(|path| ("followpaths", path))
            .into_iter()
            .collect();
        let mut call = open_call(&channel, "context", &metadata).await.unwrap();
        let stats = call.listing().await;
        let id = id_of(&stats, ".dockerignore");
        call.send(packet(PacketType::PacketReq, id)).await;
        assert_eq!(call.data(1).await[&id], b"*.o\n");
        call.finish().await;
    }
    assert_eq!(session.sent().files, 1);
    assert_eq!(session.sent().bytes, 8);
}

#[tokio::test]
async fn the_dockerfile_source_holds_the_dockerfile_alone() {
    let dir = context(&[("Dockerfile.dockerignore", b"*\n"), ("other", b"o")]);
    let (session, channel) = session_for(dir.path()).await;
    let mut call = open_call(
        &channel,
        "dockerfile",
        &[
            ("followpaths", "Dockerfile"),
            ("followpaths", "Dockerfile.dockerignore"),
        ],
    )
    .await
    .unwrap();
    let stats = call.listing().await;
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].path, "Dockerfile");
    assert_eq!(session.dockerfile_name(), "Dockerfile");
    call.send(packet(PacketType::PacketReq, 0)).await;
    let data = call.data(1).await;
    assert_eq!(data[&0], b"FROM scratch\nCOPY . /\n");
    call.finish().await;
}

#[tokio::test]
async fn a_request_for_what_is_not_a_file_is_an_error_packet() {
    let dir = context(&[("sub/f", b"f")]);
    let (session, channel) = session_for(dir.path()).await;
    let mut call = open_call(&channel, "context", &[]).await.unwrap();
    let stats = call.listing().await;
    call.send(packet(PacketType::PacketReq, id_of(&stats, "sub")))
        .await;
    let answer = call.next().await;
    assert_eq!(answer.r#type, PacketType::PacketErr as i32);
    assert!(
        String::from_utf8_lossy(&answer.data).contains("invalid file request"),
        "{answer:?}"
    );
    assert!(session.failure().is_some());
}

#[tokio::test]
async fn a_file_gone_before_it_is_asked_for_is_named() {
    let dir = context(&[("keep", b"k"), ("gone.txt", b"soon gone")]);
    let (session, channel) = session_for(dir.path()).await;
    let mut call = open_call(&channel, "context", &[]).await.unwrap();
    let stats = call.listing().await;
    fs::remove_file(dir.path().join("gone.txt")).unwrap();
    call.send(packet(PacketType::PacketReq, id_of(&stats, "gone.txt")))
        .await;
    let answer = call.next().await;
    assert_eq!(answer.r#type, PacketType::PacketErr as i32, "{answer:?}");
    assert!(
        String::from_utf8_lossy(&answer.data).contains("gone.txt"),
        "{answer:?}"
    );
    match session.failure() {
        Some(Error::Context { path, .. }) => assert!(path.ends_with("gone.txt"), "{path:?}"),
        other => panic!("a context error naming the file, not {other:?}"),
    }
}

#[tokio::test]
async fn a_directory_the_session_does_not_serve_is_refused() {
    let dir = context(&[]);
    let (_session, channel) = session_for(dir.path()).await;
    let refused = open_call(&channel, "elsewhere", &[]).await.err().unwrap();
    assert_eq!(refused.code(), Code::NotFound, "{refused:?}");
    assert!(refused.message().contains("elsewhere"), "{refused:?}");
}

#[tokio::test]
async fn health_and_credentials_answer_as_the_daemon_expects() {
    let dir = context(&[]);
    let (_session, channel) = session_for(dir.path()).await;
    let health = HealthClient::new(channel.clone())
        .check(HealthCheckRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        health.status,
        bollard_buildkit_proto::health::health_check_response::ServingStatus::Serving as i32
    );
    let credentials = AuthClient::new(channel.clone())
        .credentials(CredentialsRequest {
            host: "registry.example:5000".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (credentials.username, credentials.secret),
        (String::new(), String::new())
    );
}

#[tokio::test]
async fn dropping_the_session_closes_its_connection() {
    let dir = context(&[]);
    let (session, channel) = session_for(dir.path()).await;
    let mut health = HealthClient::new(channel);
    assert!(health.check(HealthCheckRequest::default()).await.is_ok());
    drop(session);
    let after = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        health.check(HealthCheckRequest::default()),
    )
    .await
    .expect("an answer, not a hang");
    assert!(after.is_err(), "the session still answers: {after:?}");
}

#[test]
fn the_shared_key_is_stable_per_directory() {
    assert_eq!(shared_key("/work/ctx"), shared_key("/work/ctx"));
    assert_ne!(shared_key("/work/ctx"), shared_key("/work/ctx2"));
    assert_eq!(shared_key("/a").len(), 32);
}
