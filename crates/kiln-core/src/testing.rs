//! Test doubles: an in-memory engine, an in-memory context, an in-memory container runtime
//! ([`FakeRuntime`], running [`Script`]s), and the conformance suites.
//!
//! The conformance suites state what every [`ImageEngine`], every [`Registry`] and every
//! container and network runtime must do, one named case per function; they run against the
//! fakes here, against the caching decorator in kiln-cache, and against the real daemon and
//! registry in the integration tests.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use sha2::{Digest as _, Sha256};

use crate::context::ContextSource;
use crate::credentials::Credentials;
use crate::digest::{Digest, ImageId};
use crate::engine::{
    BuildRequest, BuiltImage, EngineInfo, ImageDetails, ImageEngine, PullOptions, Pulled,
    PushOptions, PushedImage, RemoveOptions,
};
use crate::error::{Error, Result};
use crate::event::BuildEvent;
use crate::image_list::{ImageFilter, ImageSummary};
use crate::reference::ImageRef;
use crate::registry::{IndexEntry, Registry, RegistryOptions, RemoteImage};

/// A valid image id derived from `seed`, for tests that need some id.
pub fn image_id(seed: &str) -> ImageId {
    ImageId::from_sha256(Sha256::digest(seed.as_bytes()).into())
}

/// The inputs of a minimal build whose Dockerfile is `dockerfile` (no files, no args, amd64,
/// classic builder), for tests that need some manifest.
pub fn manifest(dockerfile: &str) -> crate::fingerprint::InputsManifest {
    crate::fingerprint::InputsManifest {
        schema: crate::fingerprint::FINGERPRINT_SCHEMA,
        dockerfile: dockerfile.into(),
        files: vec![],
        build_args: BTreeMap::new(),
        target: None,
        platform: "linux/amd64".into(),
        build_mode: String::new(),
        runtime_mode: "minimal".into(),
        builder: crate::engine::BuilderKind::Classic,
        base_images: BTreeMap::new(),
        labels: BTreeMap::new(),
    }
}

/// A valid digest derived from `seed`, for tests that need some digest.
pub fn digest(seed: &str) -> Digest {
    Digest::from_sha256(Sha256::digest(seed.as_bytes()).into())
}

/// The details of an image `id` for `platform`, nothing else known (no tags, no labels).
pub fn image_details(id: ImageId, platform: &crate::platform::Platform) -> ImageDetails {
    ImageDetails {
        id,
        repo_tags: Vec::new(),
        repo_digests: Vec::new(),
        size: 0,
        created: "1970-01-01T00:00:00Z".into(),
        os: platform.os().to_owned(),
        architecture: platform.architecture().to_owned(),
        variant: platform.variant().map(str::to_owned),
        labels: BTreeMap::new(),
    }
}

/// How many times each engine operation was called.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallCounts {
    /// `info` calls.
    pub info: usize,
    /// `build` calls.
    pub build: usize,
    /// `inspect` calls.
    pub inspect: usize,
    /// `inspect_id` calls.
    pub inspect_id: usize,
    /// `tag` calls.
    pub tag: usize,
    /// `remove` calls.
    pub remove: usize,
    /// `remove_id` calls.
    pub remove_id: usize,
    /// `list_images` calls.
    pub list_images: usize,
    /// `push` calls.
    pub push: usize,
    /// `pull` calls.
    pub pull: usize,
    /// Registry `head`, `describe` and `publish_index` calls.
    pub registry: usize,
    /// Registry `copy` calls.
    pub copy: usize,
}

/// An image in the fake registry: what was pushed, so it survives the local image's removal.
#[derive(Debug, Clone)]
struct RegistryEntry {
    /// The image pushed; `None` for an index.
    details: Option<ImageDetails>,
    digest: Digest,
    /// For an index: each platform's manifest digest.
    entries: Vec<IndexEntry>,
}

/// A door builds wait at while it is closed (an async wait built on std only).
#[derive(Debug, Default)]
struct Gate {
    closed: bool,
    waiting: Vec<std::task::Waker>,
}

#[derive(Debug, Default)]
struct FakeState {
    /// Tag (full reference) → image id.
    tags: BTreeMap<String, ImageId>,
    /// Image id → details (without tags; they are derived from `tags`).
    images: BTreeMap<ImageId, ImageDetails>,
    calls: CallCounts,
    unreachable: bool,
    build_failure: Option<String>,
    requests: Vec<BuildRequest>,
    gate: Gate,
    /// The fake registry: reference → the pushed image.
    registry: BTreeMap<String, RegistryEntry>,
    /// Credentials the fake registry accepts (none required when unset).
    registry_credentials: Option<Credentials>,
    /// Image id → when it was made, in seconds since the epoch.
    created: BTreeMap<ImageId, u64>,
    /// The creation time the next new image gets; each new image advances it by a second.
    next_created: u64,
    /// Image id → the image it was built on.
    parents: BTreeMap<ImageId, ImageId>,
    /// Container id → the image it was created from.
    containers: BTreeMap<String, ImageId>,
}

impl FakeState {
    /// Notes that `image_id` was made now, unless it exists already.
    fn note_created(&mut self, image_id: &ImageId) {
        if !self.created.contains_key(image_id) {
            self.next_created += 1;
            self.created.insert(image_id.clone(), self.next_created);
        }
    }

    /// How many containers were created from `image_id`.
    fn containers_of(&self, image_id: &ImageId) -> u32 {
        let count = self
            .containers
            .values()
            .filter(|used| *used == image_id)
            .count();
        u32::try_from(count).unwrap_or(u32::MAX)
    }

    /// Whether another image is built on `image_id`.
    fn has_children(&self, image_id: &ImageId) -> bool {
        self.parents.values().any(|parent| parent == image_id)
    }

    /// Forgets `image_id` and everything about it (its tags stay the caller's business).
    fn forget_image(&mut self, image_id: &ImageId) {
        self.images.remove(image_id);
        self.created.remove(image_id);
        self.parents.remove(image_id);
    }
}

/// An engine that keeps images in memory.
///
/// Builds stream the whole context (so a broken [`ContextSource`] shows) and derive the image id
/// from the context bytes, build args, target, platform and labels: the same inputs give the same
/// id, like a fully cached real build.
#[derive(Debug, Clone, Default)]
pub struct FakeEngine {
    state: Arc<Mutex<FakeState>>,
}

impl FakeEngine {
    /// An empty engine.
    pub fn new() -> Self {
        FakeEngine::default()
    }

    fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a linux/amd64 image under `reference` with the given id.
    pub fn insert_image(&self, reference: &ImageRef, image_id: &ImageId) {
        let mut state = self.state();
        state.images.entry(image_id.clone()).or_insert_with(|| {
            image_details(image_id.clone(), &crate::platform::Platform::linux_amd64())
        });
        state.note_created(image_id);
        state.tags.insert(reference.to_string(), image_id.clone());
    }

    /// Adds an untagged linux/amd64 image with the given id, size and labels (a build whose
    /// tag moved on, or one a listing should find by its labels).
    pub fn insert_untagged(&self, image_id: &ImageId, size: u64, labels: BTreeMap<String, String>) {
        let mut state = self.state();
        let details = ImageDetails {
            size,
            labels,
            ..image_details(image_id.clone(), &crate::platform::Platform::linux_amd64())
        };
        state.images.insert(image_id.clone(), details);
        state.note_created(image_id);
    }

    /// Says that `image_id` was made at `created_s` (seconds since the epoch); new images are
    /// otherwise made one second apart, from one second after the epoch.
    pub fn set_created(&self, image_id: &ImageId, created_s: u64) {
        self.state().created.insert(image_id.clone(), created_s);
    }

    /// Says that `child` was built on `parent`, as the classic builder records it.
    pub fn set_parent(&self, child: &ImageId, parent: &ImageId) {
        self.state().parents.insert(child.clone(), parent.clone());
    }

    /// Creates a (stopped) container from `image_id` and returns its id.
    pub fn create_container(&self, image_id: &ImageId) -> String {
        let mut state = self.state();
        let id = format!("fake-container-{}", state.containers.len() + 1);
        state.containers.insert(id.clone(), image_id.clone());
        id
    }

    /// Removes the container `id` (nothing when there is none).
    pub fn remove_container(&self, id: &str) {
        self.state().containers.remove(id);
    }

    /// How many times each operation was called so far.
    pub fn calls(&self) -> CallCounts {
        self.state().calls
    }

    /// Every build request received, in order.
    pub fn requests(&self) -> Vec<BuildRequest> {
        self.state().requests.clone()
    }

    /// Makes every call fail as if the daemon were down (or back up with `false`).
    pub fn set_unreachable(&self, unreachable: bool) {
        self.state().unreachable = unreachable;
    }

    /// Makes the fake registry accept only `credentials` (every push, pull and question).
    pub fn require_credentials(&self, credentials: Credentials) {
        self.state().registry_credentials = Some(credentials);
    }

    /// The image id the fake registry holds under `reference` (`None` too for an index).
    pub fn registry_image(&self, reference: &ImageRef) -> Option<ImageId> {
        let state = self.state();
        state
            .registry
            .get(&reference.to_string())
            .and_then(|entry| entry.details.as_ref())
            .map(|details| details.id.clone())
    }

    fn check_credentials(state: &FakeState, given: Option<&Credentials>) -> Result<()> {
        match &state.registry_credentials {
            Some(required) if Some(required) != given => Err(Error::AuthRefused {
                registry: "fake registry".into(),
                reason: "wrong or missing credentials".into(),
            }),
            _ => Ok(()),
        }
    }

    /// Makes builds wait, after they are counted, until [`FakeEngine::release_builds`].
    pub fn hold_builds(&self) {
        self.state().gate.closed = true;
    }

    /// Lets held builds (and later ones) go on.
    pub fn release_builds(&self) {
        let waiting = {
            let mut state = self.state();
            state.gate.closed = false;
            std::mem::take(&mut state.gate.waiting)
        };
        for waker in waiting {
            waker.wake();
        }
    }

    async fn pass_gate(&self) {
        std::future::poll_fn(|context| {
            let mut state = self.state();
            if state.gate.closed {
                state.gate.waiting.push(context.waker().clone());
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(())
            }
        })
        .await;
    }

    /// Makes builds fail with `message` (or succeed again with `None`).
    pub fn fail_builds(&self, message: Option<&str>) {
        self.state().build_failure = message.map(str::to_owned);
    }

    fn check_reachable(state: &FakeState) -> Result<()> {
        if state.unreachable {
            return Err(Error::Unreachable {
                endpoint: "fake://engine".into(),
                reason: "the fake engine is set unreachable".into(),
            });
        }
        Ok(())
    }

    fn details_of(state: &FakeState, image_id: &ImageId) -> Option<ImageDetails> {
        let mut details = state.images.get(image_id)?.clone();
        details.repo_tags = state
            .tags
            .iter()
            .filter(|(_, id)| *id == image_id)
            .map(|(tag, _)| ImageRef::parse(tag).map_or(tag.clone(), |r| r.familiar()))
            .collect();
        Some(details)
    }
}

/// A writer that hashes what it is given.
struct HashingWriter(Sha256, u64);

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        self.1 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[async_trait]
impl ImageEngine for FakeEngine {
    async fn info(&self) -> Result<EngineInfo> {
        let mut state = self.state();
        state.calls.info += 1;
        Self::check_reachable(&state)?;
        Ok(EngineInfo {
            endpoint: "fake://engine".into(),
            version: "0.0.0-fake".into(),
            api_version: "1.41".into(),
            os: "linux".into(),
            architecture: "amd64".into(),
            buildkit: true,
        })
    }

    async fn build(&self, request: BuildRequest) -> Result<BuiltImage> {
        {
            let mut state = self.state();
            state.calls.build += 1;
            state.requests.push(request.clone());
            Self::check_reachable(&state)?;
        }
        self.pass_gate().await;
        let mut hasher = HashingWriter(Sha256::new(), 0);
        request
            .context
            .write_tar(&mut hasher)
            .map_err(|source| Error::context("<context>", source))?;
        request
            .events
            .emit(BuildEvent::ContextSent { bytes: hasher.1 });
        request.events.emit(BuildEvent::StepStarted {
            index: 1,
            total: Some(1),
            name: format!("FAKE {}", request.dockerfile),
        });
        if let Some(message) = self.state().build_failure.clone() {
            return Err(Error::BuildFailed {
                step: Some(format!("Step 1/1 : FAKE {}", request.dockerfile)),
                message,
                log_tail: vec![],
            });
        }
        let mut id_hash = hasher.0;
        let facts = serde_json::json!({
            "dockerfile": request.dockerfile,
            "args": request.build_args,
            "target": request.target,
            "platform": request.platform.as_ref().map(ToString::to_string),
            "labels": request.labels,
        });
        id_hash.update(facts.to_string().as_bytes());
        let image_id = ImageId::from_sha256(id_hash.finalize().into());
        request.events.emit(BuildEvent::StepFinished {
            index: 1,
            cached: false,
            duration_ms: 0,
        });
        let platform = request
            .platform
            .clone()
            .unwrap_or_else(crate::platform::Platform::linux_amd64);
        let mut state = self.state();
        state.images.insert(
            image_id.clone(),
            ImageDetails {
                size: hasher.1,
                labels: request.labels.clone(),
                ..image_details(image_id.clone(), &platform)
            },
        );
        state.note_created(&image_id);
        for tag in &request.tags {
            state.tags.insert(tag.to_string(), image_id.clone());
        }
        Ok(BuiltImage {
            image_id,
            warnings: vec![],
        })
    }

    async fn inspect(&self, image: &ImageRef) -> Result<Option<ImageDetails>> {
        let mut state = self.state();
        state.calls.inspect += 1;
        Self::check_reachable(&state)?;
        let id = state.tags.get(&image.to_string()).cloned();
        Ok(id.and_then(|id| Self::details_of(&state, &id)))
    }

    async fn inspect_id(&self, image_id: &ImageId) -> Result<Option<ImageDetails>> {
        let mut state = self.state();
        state.calls.inspect_id += 1;
        Self::check_reachable(&state)?;
        Ok(Self::details_of(&state, image_id))
    }

    async fn tag(&self, source: &ImageId, target: &ImageRef) -> Result<()> {
        let mut state = self.state();
        state.calls.tag += 1;
        Self::check_reachable(&state)?;
        if !state.images.contains_key(source) {
            return Err(Error::ImageNotFound {
                image: source.to_string(),
            });
        }
        state.tags.insert(target.to_string(), source.clone());
        Ok(())
    }

    async fn push(&self, image: &ImageRef, options: PushOptions) -> Result<PushedImage> {
        let PushOptions {
            credentials,
            events,
        } = options;
        let mut state = self.state();
        state.calls.push += 1;
        Self::check_reachable(&state)?;
        Self::check_credentials(&state, credentials.as_ref())?;
        let id =
            state
                .tags
                .get(&image.to_string())
                .cloned()
                .ok_or_else(|| Error::ImageNotFound {
                    image: image.familiar(),
                })?;
        let digest = digest(&format!("{id} {image}"));
        events.emit(BuildEvent::Layer {
            id: id.short().to_owned(),
            status: "Pushed".into(),
            current: None,
            total: None,
        });
        let details = Self::details_of(&state, &id);
        state.registry.insert(
            image.to_string(),
            RegistryEntry {
                details,
                digest: digest.clone(),
                entries: Vec::new(),
            },
        );
        Ok(PushedImage {
            reference: image.clone(),
            digest,
            size: 0,
        })
    }

    async fn pull(&self, image: &ImageRef, options: PullOptions) -> Result<Pulled> {
        let PullOptions {
            credentials,
            events,
        } = options;
        let mut state = self.state();
        state.calls.pull += 1;
        Self::check_reachable(&state)?;
        Self::check_credentials(&state, credentials.as_ref())?;
        let entry = state
            .registry
            .get(&image.to_string())
            .cloned()
            .ok_or_else(|| Error::ImageNotFound {
                image: image.familiar(),
            })?;
        let Some(details) = entry.details else {
            return Err(Error::engine(
                format!("pull {}", image.familiar()),
                "the fake engine does not pull image indexes",
            ));
        };
        let id = details.id.clone();
        events.emit(BuildEvent::Layer {
            id: id.short().to_owned(),
            status: "Pull complete".into(),
            current: None,
            total: None,
        });
        let digest = entry.digest;
        state.images.entry(id.clone()).or_insert(ImageDetails {
            repo_tags: Vec::new(),
            ..details
        });
        state.note_created(&id);
        state.tags.insert(image.to_string(), id.clone());
        Ok(Pulled {
            reference: image.clone(),
            digest: Some(digest),
            image_id: id,
        })
    }

    async fn remove(&self, image: &ImageRef, options: RemoveOptions) -> Result<()> {
        let mut state = self.state();
        state.calls.remove += 1;
        Self::check_reachable(&state)?;
        let id =
            state
                .tags
                .get(&image.to_string())
                .cloned()
                .ok_or_else(|| Error::ImageNotFound {
                    image: image.familiar(),
                })?;
        let last_tag = state.tags.values().filter(|other| **other == id).count() == 1;
        if last_tag && !options.force && state.containers_of(&id) > 0 {
            return Err(Error::engine(
                format!("remove {}", image.familiar()),
                format!(
                    "conflict: unable to remove repository reference {:?} (must force) - a \
                     container is using its referenced image {}",
                    image.familiar(),
                    id.short()
                ),
            ));
        }
        state.tags.remove(&image.to_string());
        // The daemon keeps an untagged image that others are built on.
        if last_tag && !state.has_children(&id) {
            state.forget_image(&id);
        }
        Ok(())
    }

    async fn remove_id(&self, image_id: &ImageId, options: RemoveOptions) -> Result<()> {
        let mut state = self.state();
        state.calls.remove_id += 1;
        Self::check_reachable(&state)?;
        if !state.images.contains_key(image_id) {
            return Err(Error::ImageNotFound {
                image: image_id.to_string(),
            });
        }
        let tags: Vec<String> = state
            .tags
            .iter()
            .filter(|(_, id)| *id == image_id)
            .map(|(tag, _)| tag.clone())
            .collect();
        let conflict = if state.containers_of(image_id) > 0 {
            Some("image is being used by a stopped container")
        } else if state.has_children(image_id) {
            Some("image has dependent child images")
        } else if tags.len() > 1 {
            Some("image is referenced in multiple repositories")
        } else {
            None
        };
        if let Some(conflict) = conflict.filter(|_| !options.force) {
            return Err(Error::engine(
                format!("remove {}", image_id.short()),
                format!(
                    "conflict: unable to delete {} (must be forced) - {conflict}",
                    image_id.short()
                ),
            ));
        }
        for tag in tags {
            state.tags.remove(&tag);
        }
        state.forget_image(image_id);
        Ok(())
    }

    async fn list_images(&self, filter: ImageFilter) -> Result<Vec<ImageSummary>> {
        let mut state = self.state();
        state.calls.list_images += 1;
        Self::check_reachable(&state)?;
        let mut listed = Vec::new();
        for id in state.images.keys() {
            let Some(details) = Self::details_of(&state, id) else {
                continue;
            };
            let intermediate = details.repo_tags.is_empty() && state.has_children(id);
            if (intermediate && !filter.intermediates) || !filter.admits(&details.labels) {
                continue;
            }
            listed.push(ImageSummary {
                id: id.clone(),
                parent: state.parents.get(id).cloned(),
                tags: details.repo_tags,
                size: details.size,
                created: state.created.get(id).copied().unwrap_or(0),
                labels: details.labels,
                containers: state.containers_of(id),
            });
        }
        Ok(listed)
    }
}

#[async_trait]
impl Registry for FakeEngine {
    async fn head(&self, image: &ImageRef, options: RegistryOptions) -> Result<Option<Digest>> {
        let mut state = self.state();
        state.calls.registry += 1;
        Self::check_reachable(&state)?;
        Self::check_credentials(&state, options.credentials.as_ref())?;
        Ok(state
            .registry
            .get(&image.to_string())
            .map(|entry| entry.digest.clone()))
    }

    async fn describe(
        &self,
        image: &ImageRef,
        options: RegistryOptions,
    ) -> Result<Option<RemoteImage>> {
        let mut state = self.state();
        state.calls.registry += 1;
        Self::check_reachable(&state)?;
        Self::check_credentials(&state, options.credentials.as_ref())?;
        let Some(entry) = state.registry.get(&image.to_string()) else {
            return Ok(None);
        };
        // An index: the labels of the platform asked for (else the first), as a registry has them.
        let chosen = match &options.platform {
            Some(wanted) => entry.entries.iter().find(|index| &index.platform == wanted),
            None => entry.entries.first(),
        };
        let labels = match (&entry.details, chosen) {
            (Some(details), _) => details.labels.clone(),
            (None, Some(chosen)) => state
                .registry
                .values()
                .find(|pushed| pushed.digest == chosen.digest)
                .and_then(|pushed| pushed.details.as_ref())
                .map(|details| details.labels.clone())
                .unwrap_or_default(),
            (None, None) => BTreeMap::new(),
        };
        Ok(Some(RemoteImage {
            digest: entry.digest.clone(),
            platforms: entry
                .entries
                .iter()
                .map(|index| index.platform.clone())
                .collect(),
            labels,
        }))
    }

    async fn publish_index(
        &self,
        image: &ImageRef,
        entries: Vec<IndexEntry>,
        options: RegistryOptions,
    ) -> Result<Digest> {
        let mut state = self.state();
        state.calls.registry += 1;
        Self::check_reachable(&state)?;
        Self::check_credentials(&state, options.credentials.as_ref())?;
        let known: Vec<&RegistryEntry> = state.registry.values().collect();
        for entry in &entries {
            if !known.iter().any(|pushed| pushed.digest == entry.digest) {
                return Err(Error::ImageNotFound {
                    image: format!("{}@{}", image.familiar_repository(), entry.digest),
                });
            }
        }
        let listing: Vec<String> = entries
            .iter()
            .map(|e| format!("{}={}", e.platform, e.digest))
            .collect();
        let digest = digest(&listing.join(","));
        state.registry.insert(
            image.to_string(),
            RegistryEntry {
                details: None,
                digest: digest.clone(),
                entries,
            },
        );
        Ok(digest)
    }

    async fn copy(
        &self,
        from: &ImageRef,
        to: &ImageRef,
        options: RegistryOptions,
    ) -> Result<Digest> {
        let mut state = self.state();
        state.calls.copy += 1;
        Self::check_reachable(&state)?;
        crate::registry::check_copy(from, to)?;
        Self::check_credentials(&state, options.credentials.as_ref())?;
        let entry = Self::registry_entry(&state, from).ok_or_else(|| Error::ImageNotFound {
            image: from.familiar(),
        })?;
        let digest = entry.digest.clone();
        state.registry.insert(to.to_string(), entry);
        Ok(digest)
    }
}

impl FakeEngine {
    /// What the fake registry holds at `image`: under its tag, or (by digest) any entry of its
    /// repository with that digest.
    fn registry_entry(state: &FakeState, image: &ImageRef) -> Option<RegistryEntry> {
        if let Some(entry) = state.registry.get(&image.to_string()) {
            return Some(entry.clone());
        }
        let digest = image.digest()?;
        state
            .registry
            .iter()
            .filter(|(reference, _)| {
                ImageRef::parse(reference)
                    .is_ok_and(|pushed| pushed.repository() == image.repository())
            })
            .map(|(_, entry)| entry)
            .find(|entry| entry.digest.as_str() == digest)
            .cloned()
    }
}

/// A build context held in memory: `(path, contents, mode)` per file.
#[derive(Debug, Clone, Default)]
pub struct MemoryContext {
    files: Vec<(String, Vec<u8>, u32)>,
}

impl MemoryContext {
    /// An empty context.
    pub fn new() -> Self {
        MemoryContext::default()
    }

    /// Adds a regular file with mode 0644.
    pub fn file(mut self, path: &str, contents: impl Into<Vec<u8>>) -> Self {
        self.files.push((path.to_owned(), contents.into(), 0o644));
        self
    }
}

impl ContextSource for MemoryContext {
    fn write_tar(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let mut builder = tar::Builder::new(out);
        for (path, contents, mode) in &self.files {
            let mut header = tar::Header::new_gnu();
            header.set_size(contents.len() as u64);
            header.set_mode(*mode);
            header.set_entry_type(tar::EntryType::Regular);
            builder.append_data(&mut header, path, contents.as_slice())?;
        }
        builder.finish()
    }

    fn content_bytes(&self) -> u64 {
        self.files
            .iter()
            .map(|(_, contents, _)| contents.len() as u64)
            .sum()
    }

    fn entry_count(&self) -> usize {
        self.files.len()
    }
}

pub mod conformance;
pub mod container_conformance;
mod fake_network;
mod fake_process;
mod fake_state;
pub mod network_conformance;
pub mod registry_conformance;
mod runtime;
pub mod runtime_conformance;
mod script;

pub use fake_network::POOL_OVERLAP_MESSAGE;
pub use runtime::FakeRuntime;
pub use script::{Script, Step};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::BuilderKind;
    use crate::event::EventSink;

    mod fake_engine_conformance {
        use super::*;

        crate::engine_conformance_tests!(Some(FakeEngine::new()), "fake".to_owned());
    }

    mod fake_registry_conformance {
        use super::*;
        use crate::testing::registry_conformance::RegistryTarget;

        fn target(credentials: Option<Credentials>) -> Option<RegistryTarget> {
            let fake = FakeEngine::new();
            if let Some(credentials) = &credentials {
                fake.require_credentials(credentials.clone());
            }
            Some(RegistryTarget {
                engine: Arc::new(fake.clone()),
                registry: Arc::new(fake),
                repository: ImageRef::parse("registry.test:5000/kiln/conformance").unwrap(),
                credentials,
            })
        }

        crate::registry_conformance_tests!(
            target(Some(Credentials::password("kiln", "secret"))),
            "fake".to_owned()
        );
    }

    #[tokio::test]
    async fn the_fake_refuses_to_remove_what_a_container_or_a_child_needs() {
        let engine = FakeEngine::new();
        let parent = image_id("parent");
        let child = image_id("child");
        let tag = ImageRef::parse("app:1").unwrap();
        engine.insert_untagged(&parent, 10, BTreeMap::new());
        engine.insert_image(&tag, &child);
        engine.set_parent(&child, &parent);
        let container = engine.create_container(&child);

        let listed = engine.list_images(ImageFilter::new()).await.unwrap();
        assert_eq!(
            listed.len(),
            1,
            "the intermediate parent is left out: {listed:?}"
        );
        assert_eq!((listed[0].containers, listed[0].created), (1, 2));
        let all = engine
            .list_images(ImageFilter::new().intermediates(true))
            .await
            .unwrap();
        assert_eq!(all.len(), 2);

        for id in [&parent, &child] {
            let error = engine
                .remove_id(id, RemoveOptions::new())
                .await
                .unwrap_err();
            assert!(error.to_string().contains("conflict"), "{error}");
        }
        let error = engine.remove(&tag, RemoveOptions::new()).await.unwrap_err();
        assert!(error.to_string().contains("container"), "{error}");
        engine.remove_container(&container);
        engine
            .remove_id(&child, RemoveOptions::new())
            .await
            .unwrap();
        assert_eq!(engine.inspect(&tag).await.unwrap(), None);
        engine
            .remove_id(&parent, RemoveOptions::new())
            .await
            .unwrap();
        assert!(
            engine
                .list_images(ImageFilter::new())
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(engine.calls().remove_id, 4);
    }

    #[tokio::test]
    async fn fake_engine_counts_and_fails_on_demand() {
        let engine = FakeEngine::new();
        engine.set_unreachable(true);
        let error = engine.info().await.unwrap_err();
        assert!(error.is_transient());
        engine.set_unreachable(false);
        engine.fail_builds(Some("boom"));
        let request = BuildRequest {
            context: Arc::new(MemoryContext::new().file("Dockerfile", "FROM scratch")),
            dockerfile: "Dockerfile".into(),
            tags: vec![ImageRef::parse("x:y").unwrap()],
            build_args: BTreeMap::new(),
            target: None,
            platform: None,
            labels: BTreeMap::new(),
            builder: BuilderKind::Classic,
            no_cache: false,
            cache_from: Vec::new(),
            registry_credentials: Vec::new(),
            events: EventSink::discard(),
        };
        let error = engine.build(request).await.unwrap_err();
        assert!(matches!(error, Error::BuildFailed { .. }), "{error:?}");
        assert_eq!(engine.calls().info, 1);
        assert_eq!(engine.calls().build, 1);
    }
}
