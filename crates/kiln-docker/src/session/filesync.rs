//! The `FileSync` service of kiln's BuildKit session: the daemon pulls the build's two local
//! sources through `DiffCopy` — `context` (the context directory, with `.dockerignore` applied
//! as kiln's tar path applies it) and `dockerfile` (the Dockerfile kiln read, alone) — each
//! narrowed by the include patterns and follow paths of the call.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use bollard_buildkit_proto::fsutil::types::Packet;
use bollard_buildkit_proto::moby::filesync::v1::file_sync_server::FileSync;
use futures_util::Stream;
use kiln_context::dockerignore::PatternMatcher;
use kiln_context::walk::walk;
use kiln_context::{EntryKind, PreparedContext};
use kiln_core::{ContextSource, Error};
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status, Streaming};

use super::include::{IncludeFilter, follow_links, follow_plain_paths};
use super::listing::{Listing, directory_listing, memory_file_listing};
use super::sender::{Transfer, serve};

/// The local source holding the build context.
pub(crate) const CONTEXT_DIR: &str = "context";
/// The local source holding the Dockerfile.
pub(crate) const DOCKERFILE_DIR: &str = "dockerfile";

/// What a session serves: a context directory and its Dockerfile.
#[derive(Debug)]
pub(crate) struct ServedDirs {
    context: Arc<dyn ContextSource>,
    root: PathBuf,
    dockerfile_name: String,
    dockerfile: Arc<[u8]>,
    context_bytes: u64,
    context_files: u64,
}

impl ServedDirs {
    /// The directories to serve for `context`, when it is a directory on this machine (a
    /// [`PreparedContext`]); `None` for contexts that exist only as a tar stream.
    pub(crate) fn for_context(context: &Arc<dyn ContextSource>) -> Option<ServedDirs> {
        let prepared = prepared(context.as_ref())?;
        let dockerfile_name = prepared
            .dockerfile_path()
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| "Dockerfile".to_owned());
        // The Dockerfile counts as one more file: the daemon pulls it through the session too.
        let (mut context_bytes, mut context_files) = (prepared.dockerfile().len() as u64, 1);
        for entry in prepared.build_entries() {
            if entry.kind == EntryKind::File {
                context_bytes += entry.size;
                context_files += 1;
            }
        }
        Some(ServedDirs {
            root: prepared.root().to_owned(),
            dockerfile: Arc::from(prepared.dockerfile()),
            dockerfile_name,
            context: Arc::clone(context),
            context_bytes,
            context_files,
        })
    }

    /// The Dockerfile's name in the `dockerfile` source (what the daemon is told to read).
    pub(crate) fn dockerfile_name(&self) -> &str {
        &self.dockerfile_name
    }

    /// The context directory.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// Bytes and regular files served: the context's, after `.dockerignore`, and the
    /// Dockerfile.
    pub(crate) fn totals(&self) -> (u64, u64) {
        (self.context_bytes, self.context_files)
    }

    fn prepared(&self) -> Result<&PreparedContext, Error> {
        prepared(self.context.as_ref()).ok_or_else(|| {
            Error::internal(
                "send the build context",
                "the served context is not a prepared directory",
            )
        })
    }

    /// What one `DiffCopy` call asking for `request` is sent.
    fn listing(&self, request: &DirRequest) -> Result<Listing, Error> {
        match request.dir_name.as_str() {
            CONTEXT_DIR => {
                let context = self.prepared()?;
                let root = context.root();
                let follow_targets = match &request.follow_paths {
                    Some(paths) => {
                        follow_links(root, paths).map_err(|error| Error::context(root, error))?
                    }
                    None => None,
                };
                let filter = IncludeFilter::new(request.includes.as_deref(), follow_targets);
                if request.override_excludes {
                    // The daemon's patterns replace the context's own: a walk of its own.
                    let matcher = PatternMatcher::new(&request.excludes).map_err(|error| {
                        Error::invalid_input(
                            "exclude patterns from the daemon",
                            request.excludes.join(" "),
                            error.to_string(),
                        )
                    })?;
                    let walked = walk(root, &matcher)?;
                    directory_listing(root, &walked.entries, filter)
                } else {
                    directory_listing(root, context.build_entries(), filter)
                }
            }
            DOCKERFILE_DIR => {
                let follow = request.follow_paths.as_deref().and_then(follow_plain_paths);
                let filter = IncludeFilter::new(request.includes.as_deref(), follow);
                Ok(memory_file_listing(
                    &self.dockerfile_name,
                    Arc::clone(&self.dockerfile),
                    filter,
                ))
            }
            other => Err(Error::engine(
                "send the build context",
                format!("the daemon asked for a directory kiln does not serve: {other:?}"),
            )),
        }
    }
}

fn prepared(context: &dyn ContextSource) -> Option<&PreparedContext> {
    context.as_any()?.downcast_ref::<PreparedContext>()
}

/// The metadata of a `DiffCopy` call: which directory, and what of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DirRequest {
    /// `context` or `dockerfile`.
    pub(crate) dir_name: String,
    /// Include patterns; `None` when the call has none.
    pub(crate) includes: Option<Vec<String>>,
    /// Exclude patterns (the frontend's reading of `.dockerignore`); used only with
    /// `override_excludes`, as the Docker CLI does when it has patterns of its own.
    pub(crate) excludes: Vec<String>,
    /// Paths whose symlinks are followed into include patterns; `None` when the call has none.
    pub(crate) follow_paths: Option<Vec<String>>,
    /// Whether `excludes` replace the context's own patterns.
    pub(crate) override_excludes: bool,
}

impl DirRequest {
    /// Reads the call's metadata (keys as BuildKit's filesync client sets them).
    pub(crate) fn from_metadata(metadata: &MetadataMap) -> Self {
        let values = |key: &str| -> Option<Vec<String>> {
            let values: Vec<String> = metadata
                .get_all(key)
                .iter()
                .map(|value| String::from_utf8_lossy(value.as_encoded_bytes()).into_owned())
                .collect();
            (!values.is_empty()).then_some(values)
        };
        let first = |key: &str| values(key).and_then(|values| values.into_iter().next());
        DirRequest {
            dir_name: first("dir-name").unwrap_or_default(),
            includes: values("include-patterns"),
            excludes: values("exclude-patterns").unwrap_or_default(),
            follow_paths: values("followpaths"),
            override_excludes: first("override-excludes").as_deref() == Some("true"),
        }
    }
}

/// The `FileSync` service: lists what each call asks for, then answers it with
/// [`serve`]; what is sent is counted in the session's [`Transfer`].
#[derive(Debug)]
pub(crate) struct FileSyncProvider {
    dirs: Arc<ServedDirs>,
    transfer: Arc<Transfer>,
}

impl FileSyncProvider {
    pub(crate) fn new(dirs: Arc<ServedDirs>, transfer: Arc<Transfer>) -> Self {
        FileSyncProvider { dirs, transfer }
    }
}

type PacketStream = Pin<Box<dyn Stream<Item = Result<Packet, Status>> + Send>>;

#[async_trait::async_trait]
impl FileSync for FileSyncProvider {
    type DiffCopyStream = PacketStream;

    async fn diff_copy(
        &self,
        request: Request<Streaming<Packet>>,
    ) -> Result<Response<Self::DiffCopyStream>, Status> {
        let asked = DirRequest::from_metadata(request.metadata());
        tracing::debug!(?asked, "DiffCopy");
        let dirs = Arc::clone(&self.dirs);
        let listed = tokio::task::spawn_blocking(move || {
            let listing = dirs.listing(&asked);
            (asked, listing)
        })
        .await;
        let (asked, listing) = match listed {
            Ok(done) => done,
            Err(error) => return Err(Status::internal(format!("listing failed: {error}"))),
        };
        let listing = match listing {
            Ok(listing) => listing,
            Err(error) => {
                let status = match asked.dir_name.as_str() {
                    CONTEXT_DIR | DOCKERFILE_DIR => Status::failed_precondition(error.to_string()),
                    other => Status::not_found(format!("no access allowed to dir {other:?}")),
                };
                self.transfer.fail(error);
                return Err(status);
            }
        };
        tracing::debug!(
            dir = %asked.dir_name,
            entries = listing.stats.len(),
            "DiffCopy listing"
        );
        let packets = serve(listing, request.into_inner(), Arc::clone(&self.transfer));
        Ok(Response::new(Box::pin(packets)))
    }

    type TarStreamStream = PacketStream;

    async fn tar_stream(
        &self,
        _request: Request<Streaming<Packet>>,
    ) -> Result<Response<Self::TarStreamStream>, Status> {
        Err(Status::unimplemented(
            "kiln serves local sources through DiffCopy only",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::metadata::MetadataValue;

    #[test]
    fn call_metadata_is_read_with_every_value() {
        let mut metadata = MetadataMap::new();
        metadata.insert("dir-name", MetadataValue::from_static("context"));
        metadata.append("followpaths", MetadataValue::from_static("src"));
        metadata.append("followpaths", MetadataValue::from_static("Makefile"));
        metadata.append("exclude-patterns", MetadataValue::from_static("*.o"));
        let request = DirRequest::from_metadata(&metadata);
        assert_eq!(
            request,
            DirRequest {
                dir_name: "context".into(),
                includes: None,
                excludes: vec!["*.o".into()],
                follow_paths: Some(vec!["src".into(), "Makefile".into()]),
                override_excludes: false,
            }
        );
        metadata.insert("override-excludes", MetadataValue::from_static("true"));
        assert!(DirRequest::from_metadata(&metadata).override_excludes);
    }
}
