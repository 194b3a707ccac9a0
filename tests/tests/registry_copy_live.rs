//! `Registry::copy` for real: an image the daemon pushed to a cache repository is copied to two
//! other repositories of the same `docker-registry` (htpasswd auth) by mounts and a manifest
//! `PUT`, with a recording proxy in front of the registry that shows no blob was uploaded; an
//! absent source, a wrong password, a registry that will not mount and a token registry.

use std::collections::BTreeSet;
use std::fs;
use std::net::SocketAddr;

use kiln_core::{
    Credentials, Digest, Error, ErrorKind, ImageEngine, ImageRef, ProcessEnv, PushOptions,
    Registry, RegistryOptions,
};
use kiln_docker::DockerEngine;
use kiln_docker::registry::{OciRegistry, install_default_crypto_provider};
use kiln_tests::fault_proxy::{FaultProxy, LabelledImages, SeenRequest};
use kiln_tests::images::busybox;
use kiln_tests::output::stderr;
use kiln_tests::registry::{RegistryServer, registry_or_skip, token_registry_with_user_or_skip};
use kiln_tests::token_service::TokenService;
use kiln_tests::{ImageCleanup, kiln, labelled_context, live_docker, unique};

const USER: &str = "kiln";
const PASSWORD: &str = "copy-s3cret?>";
const IDENTITY_TOKEN: &str = "kiln-copy-identity-token?>";

const MANIFEST_TYPES: &[&str] = &[
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
];

/// What a test has made: the local image (removed when dropped, with the build's images).
struct Made {
    _tag: ImageCleanup,
    _images: LabelledImages,
}

/// A daemon, a registry with [`USER`] and a recording proxy in front of it, or a printed
/// reason to skip.
fn setup(test: &str) -> Option<(RegistryServer, FaultProxy)> {
    live_docker(test)?;
    let server = registry_or_skip(test, &[(USER, PASSWORD)])?;
    // The test process is the application: it chooses the process's rustls provider.
    install_default_crypto_provider();
    let proxy = FaultProxy::recording_tcp(address(&server));
    Some((server, proxy))
}

fn address(server: &RegistryServer) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], server.port()))
}

/// `HOST/repository:tag`.
fn image(host: &str, repository: &str, tag: &str) -> ImageRef {
    ImageRef::parse(&format!("{host}/{repository}:{tag}")).expect("a valid reference")
}

fn with(credentials: Credentials) -> RegistryOptions {
    RegistryOptions::new().credentials(Some(credentials))
}

/// Builds a multi-layer image (busybox and three layers of unique contents) as `tag` and pushes
/// it through the daemon with `credentials`; returns the digest the push reported.
async fn build_and_push(tag: &ImageRef, credentials: Credentials) -> (Digest, Made) {
    let (dir, images) = labelled_context(&format!(
        "FROM {}\nCOPY a.txt /a.txt\nRUN echo layer > /layer.txt\nCOPY b.txt /b.txt\n",
        busybox()
    ));
    fs::write(dir.path().join("a.txt"), unique("copy-a")).unwrap();
    fs::write(dir.path().join("b.txt"), unique("copy-b")).unwrap();
    let mut cleanup = ImageCleanup::new();
    cleanup.add(tag.familiar());
    let made = Made {
        _tag: cleanup,
        _images: images,
    };
    let built = kiln(&[
        "build",
        dir.path().to_str().unwrap(),
        "--tag",
        &tag.familiar(),
        "-q",
    ])
    .output()
    .unwrap();
    assert!(built.status.success(), "{}", stderr(&built));
    let engine = DockerEngine::from_env(&ProcessEnv).expect("a Docker engine");
    let pushed = engine
        .push(tag, PushOptions::new().credentials(Some(credentials)))
        .await
        .expect("push through the daemon");
    (pushed.digest, made)
}

/// The blobs (config and layers) of the manifest `repository:tag`, read from the registry
/// directly.
fn blobs_of(server: &RegistryServer, repository: &str, tag: &str) -> BTreeSet<String> {
    let reply = server
        .request(
            "GET",
            &format!("/v2/{repository}/manifests/{tag}"),
            Some((USER, PASSWORD)),
            MANIFEST_TYPES,
        )
        .unwrap();
    assert_eq!(reply.status, 200, "{reply:?}");
    let manifest: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    let mut blobs = BTreeSet::from([manifest["config"]["digest"].as_str().unwrap().to_owned()]);
    for layer in manifest["layers"].as_array().unwrap() {
        blobs.insert(layer["digest"].as_str().unwrap().to_owned());
    }
    blobs
}

/// The digests mounted into `repository` by `requests`.
fn mounted_into(requests: &[SeenRequest], repository: &str) -> BTreeSet<String> {
    let path = format!("/v2/{repository}/blobs/uploads/");
    requests
        .iter()
        .filter(|request| request.is_blob_mount() && request.path() == path)
        .filter_map(|request| {
            let query = request.query()?;
            query.split('&').find_map(|pair| {
                let digest = pair.strip_prefix("mount=")?;
                Some(digest.replace("%3A", ":"))
            })
        })
        .collect()
}

/// Fails when any of `requests` uploads blob data or opens an upload session.
fn assert_no_upload(requests: &[SeenRequest]) {
    let uploads: Vec<&SeenRequest> = requests
        .iter()
        .filter(|request| request.is_blob_upload())
        .collect();
    assert!(
        uploads.is_empty(),
        "a copy uploaded blobs: {uploads:?}\nall requests: {requests:#?}"
    );
}

#[tokio::test]
async fn a_copy_mounts_every_blob_and_uploads_none() {
    let test = "a_copy_mounts_every_blob_and_uploads_none";
    let Some((server, proxy)) = setup(test) else {
        return;
    };
    let host = proxy.host();
    let credentials = Credentials::password(USER, PASSWORD);
    let source = image(&host, "cache", "kiln-abc");
    let (digest, _made) = build_and_push(&source, credentials.clone()).await;
    let blobs = blobs_of(&server, "cache", "kiln-abc");
    assert!(blobs.len() >= 5, "a config and four layers: {blobs:?}");
    let pushed_by_daemon = proxy.requests();
    assert!(
        pushed_by_daemon.iter().any(SeenRequest::is_blob_upload),
        "the proxy sees the daemon's uploads: {pushed_by_daemon:#?}"
    );

    let registry = OciRegistry::new();
    let before = proxy.requests().len();
    for repository in ["app/one", "app/two"] {
        let target = image(&host, repository, "1");
        let copied = registry
            .copy(&source, &target, with(credentials.clone()))
            .await
            .unwrap_or_else(|error| panic!("copy to {target}: {error}"));
        assert_eq!(copied, digest, "copy returns the source's digest");
        assert_eq!(
            server.manifest_digest(repository, "1", USER, PASSWORD),
            Some(digest.to_string()),
            "the registry holds the source's manifest under {repository}:1"
        );
    }
    let during = proxy.requests().split_off(before);
    assert_no_upload(&during);
    for repository in ["app/one", "app/two"] {
        assert_eq!(
            mounted_into(&during, repository),
            blobs,
            "every blob mounted into {repository}: {during:#?}"
        );
        let puts = during
            .iter()
            .filter(|request| {
                request.method == "PUT" && request.path() == format!("/v2/{repository}/manifests/1")
            })
            .count();
        assert_eq!(puts, 1, "one manifest PUT to {repository}: {during:#?}");
    }
    assert_eq!(
        registry
            .head(&image(&host, "app/two", "1"), with(credentials.clone()))
            .await
            .unwrap(),
        Some(digest.clone())
    );

    // Again: every blob is there already, so nothing is mounted either.
    let before = proxy.requests().len();
    let again = registry
        .copy(
            &source,
            &image(&host, "app/one", "1"),
            with(credentials.clone()),
        )
        .await
        .unwrap();
    assert_eq!(again, digest);
    let during = proxy.requests().split_off(before);
    assert_no_upload(&during);
    assert!(
        !during.iter().any(SeenRequest::is_blob_mount),
        "blobs already there are found, not mounted: {during:#?}"
    );
    assert_eq!(
        during
            .iter()
            .filter(|request| request.is_blob_check())
            .count(),
        blobs.len(),
        "one HEAD per blob: {during:#?}"
    );
}

#[tokio::test]
async fn a_copy_of_an_absent_source_is_not_found_and_a_wrong_password_is_refused() {
    let test = "a_copy_of_an_absent_source_is_not_found_and_a_wrong_password_is_refused";
    let Some((server, proxy)) = setup(test) else {
        return;
    };
    let host = proxy.host();
    let registry = OciRegistry::new();
    let credentials = Credentials::password(USER, PASSWORD);
    let absent = image(&host, "cache", "kiln-never");
    let target = image(&host, "app/one", "1");

    let error = registry
        .copy(&absent, &target, with(credentials.clone()))
        .await
        .expect_err("a copy of an absent source");
    assert!(matches!(error, Error::ImageNotFound { .. }), "{error:?}");
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert!(error.to_string().contains("cache:kiln-never"), "{error}");
    assert_eq!(server.manifest_digest("app/one", "1", USER, PASSWORD), None);

    let wrong = "wr0ng-pass?>";
    let error = registry
        .copy(&absent, &target, with(Credentials::password(USER, wrong)))
        .await
        .expect_err("a copy with a wrong password");
    assert!(matches!(error, Error::AuthRefused { .. }), "{error:?}");
    assert_eq!(error.kind(), ErrorKind::AuthRefused);
    let text = format!("{error} {error:?}");
    assert!(!text.contains(wrong), "the password leaked: {text}");
    assert_no_upload(&proxy.requests());
}

#[tokio::test]
async fn a_registry_that_will_not_mount_fails_the_copy_without_uploading() {
    let test = "a_registry_that_will_not_mount_fails_the_copy_without_uploading";
    let Some((server, proxy)) = setup(test) else {
        return;
    };
    let host = proxy.host();
    let credentials = Credentials::password(USER, PASSWORD);
    let source = image(&host, "cache", "kiln-abc");
    let (_, _made) = build_and_push(&source, credentials.clone()).await;
    // The source repository loses its link to one layer: the registry has nothing to mount
    // from there, and answers the mount with an upload session (202).
    let unlinked = blobs_of(&server, "cache", "kiln-abc")
        .into_iter()
        .next()
        .unwrap();
    let deleted = server
        .request(
            "DELETE",
            &format!("/v2/cache/blobs/{unlinked}"),
            Some((USER, PASSWORD)),
            &[],
        )
        .unwrap();
    assert_eq!(deleted.status, 202, "{deleted:?}");

    let before = proxy.requests().len();
    let error = OciRegistry::new()
        .copy(
            &source,
            &image(&host, "app/one", "1"),
            with(credentials.clone()),
        )
        .await
        .expect_err("a copy whose blob cannot be mounted");
    let Error::BlobNotMounted { blob, from, to, .. } = &error else {
        panic!("expected BlobNotMounted, got {error:?}");
    };
    assert_eq!(blob, &unlinked);
    assert_eq!(from, "cache");
    assert_eq!(to, "app/one");
    assert!(error.to_string().contains("upload session"), "{error}");
    let during = proxy.requests().split_off(before);
    assert_no_upload(&during);
    assert!(
        !during.iter().any(|request| request.method == "PUT"),
        "no manifest written: {during:#?}"
    );
    assert_eq!(server.manifest_digest("app/one", "1", USER, PASSWORD), None);
}

/// On a registry in token mode whose token service knows [`IDENTITY_TOKEN`] and [`USER`]'s
/// password: pushes through the daemon and copies with `credentials`, and checks that the copy
/// took one token (`grants` counts them) that let the registry mount across repositories.
async fn copy_on_a_token_registry(
    test: &str,
    credentials: Credentials,
    grants: fn(&TokenService) -> usize,
) {
    if live_docker(test).is_none() {
        return;
    }
    let Some((server, tokens)) =
        token_registry_with_user_or_skip(test, IDENTITY_TOKEN, Some((USER, PASSWORD)))
    else {
        return;
    };
    install_default_crypto_provider();
    let proxy = FaultProxy::recording_tcp(address(&server));
    let host = proxy.host();
    let source = image(&host, "cache", "kiln-abc");
    let (digest, _made) = build_and_push(&source, credentials.clone()).await;

    let granted = grants(&tokens);
    let before = proxy.requests().len();
    let target = image(&host, "app/one", "1");
    let copied = OciRegistry::new()
        .copy(&source, &target, with(credentials.clone()))
        .await
        .unwrap_or_else(|error| panic!("copy to {target}: {error}"));
    assert_eq!(copied, digest);
    assert_eq!(
        grants(&tokens),
        granted + 1,
        "one token for the source and the target"
    );
    let during = proxy.requests().split_off(before);
    assert_no_upload(&during);
    assert!(
        during.iter().any(SeenRequest::is_blob_mount),
        "the token let the registry mount: {during:#?}"
    );
    assert_eq!(
        OciRegistry::new()
            .head(&target, with(credentials))
            .await
            .unwrap(),
        Some(digest)
    );
}

#[tokio::test]
async fn an_identity_token_gets_one_token_for_both_repositories() {
    copy_on_a_token_registry(
        "an_identity_token_gets_one_token_for_both_repositories",
        Credentials::identity_token(IDENTITY_TOKEN),
        TokenService::exchanges,
    )
    .await;
}

#[tokio::test]
async fn a_password_gets_one_token_for_both_repositories() {
    copy_on_a_token_registry(
        "a_password_gets_one_token_for_both_repositories",
        Credentials::password(USER, PASSWORD),
        TokenService::password_grants,
    )
    .await;
}
