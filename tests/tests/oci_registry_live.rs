//! kiln's registry client (`OciRegistry`) against a live registry: digests by `HEAD`, labels
//! and platforms by `GET`, refused credentials and a stopped registry, with the tests crate's
//! registry fixture. Images are pushed with oci-client directly, so no daemon is needed.

use std::collections::BTreeMap;

use kiln_core::{Credentials, Digest, Error, ImageRef, Platform, Registry, RegistryOptions};
use kiln_docker::registry::{OciRegistry, install_default_crypto_provider};
use kiln_tests::registry::registry_or_skip;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

const USER: &str = "kiln";
const PASSWORD: &str = "pa??w>rd~ü x";

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Registry options with `credentials`.
fn with(credentials: Option<Credentials>) -> RegistryOptions {
    RegistryOptions::new().credentials(credentials)
}

fn image(text: &str) -> ImageRef {
    ImageRef::parse(text).unwrap()
}

/// `image` as oci-client names it.
fn oci_reference(image: &ImageRef) -> Reference {
    image.to_string().parse().unwrap()
}

/// Pushes `data` as a blob of `reference`'s repository and returns its digest.
async fn push_blob(client: &Client, reference: &Reference, data: &[u8]) -> String {
    let sha256 = ring::digest::digest(&ring::digest::SHA256, data);
    let hex: String = sha256.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    let digest = format!("sha256:{hex}");
    client
        .push_blob(reference, data.to_vec(), &digest)
        .await
        .unwrap();
    digest
}

/// Pushes an image whose config has `labels` under `reference` (when it has a tag) and
/// returns the manifest's digest and size.
async fn push_image(
    client: &Client,
    reference: &Reference,
    architecture: &str,
    labels: serde_json::Value,
) -> (String, usize) {
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": architecture,
        "os": "linux",
        "config": {"Labels": labels},
        "rootfs": {"type": "layers", "diff_ids": []},
    }))
    .unwrap();
    let layer = format!("layer of {architecture}").into_bytes();
    let config_digest = push_blob(client, reference, &config).await;
    let layer_digest = push_blob(client, reference, &layer).await;
    let manifest: oci_client::manifest::OciManifest = serde_json::from_value(serde_json::json!({
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": DOCKER_CONFIG, "size": config.len(), "digest": config_digest},
        "layers": [{
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "size": layer.len(),
            "digest": layer_digest,
        }],
    }))
    .unwrap();
    let size = serde_json::to_vec(&manifest).unwrap().len();
    let location = client.push_manifest(reference, &manifest).await.unwrap();
    let digest = location.rsplit('/').next().unwrap().to_owned();
    assert!(digest.starts_with("sha256:"), "{location}");
    (digest, size)
}

fn push_client(port: u16) -> Client {
    Client::try_from(ClientConfig {
        protocol: ClientProtocol::HttpsExcept(vec![format!("127.0.0.1:{port}")]),
        ..ClientConfig::default()
    })
    .unwrap()
}

#[tokio::test]
async fn live_registry_answers_head_and_describe() {
    let test = "live_registry_answers_head_and_describe";
    let Some(mut server) = registry_or_skip(test, &[(USER, PASSWORD)]) else {
        return;
    };
    // The test process is the application: it chooses the process's rustls provider.
    install_default_crypto_provider();
    let registry = OciRegistry::new();
    let credentials = Credentials::password(USER, PASSWORD);
    let app = server.reference("kiln/app", "v1");

    // Nothing pushed yet: an unknown repository is an absent tag.
    assert_eq!(
        registry
            .head(&app, with(Some(credentials.clone())))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        registry
            .describe(&app, with(Some(credentials.clone())))
            .await
            .unwrap(),
        None
    );

    let client = push_client(server.port());
    let auth = RegistryAuth::Basic(USER.to_owned(), PASSWORD.to_owned());
    let target = oci_reference(&app);
    client
        .auth(&target, &auth, oci_client::RegistryOperation::Push)
        .await
        .unwrap();
    let (digest, _) = push_image(
        &client,
        &target,
        "amd64",
        serde_json::json!({"org.kiln.fingerprint": "abc", "empty": ""}),
    )
    .await;
    let digest = Digest::parse(&digest).unwrap();

    assert_eq!(
        registry
            .head(&app, with(Some(credentials.clone())))
            .await
            .unwrap(),
        Some(digest.clone())
    );
    let described = registry
        .describe(&app, with(Some(credentials.clone())))
        .await
        .unwrap()
        .expect("the pushed image");
    assert_eq!(described.digest, digest);
    assert!(described.platforms.is_empty());
    assert_eq!(
        described.labels,
        BTreeMap::from([
            ("empty".to_owned(), String::new()),
            ("org.kiln.fingerprint".to_owned(), "abc".to_owned()),
        ])
    );
    // Addressed by its digest, too.
    let pinned = image(&format!("127.0.0.1:{}/kiln/app@{digest}", server.port()));
    assert_eq!(
        registry
            .head(&pinned, with(Some(credentials.clone())))
            .await
            .unwrap(),
        Some(digest.clone())
    );
    // Another tag of the same repository is absent.
    let other = server.reference("kiln/app", "v2");
    assert_eq!(
        registry
            .head(&other, with(Some(credentials.clone())))
            .await
            .unwrap(),
        None
    );

    // Without credentials, with a wrong password, with a token the registry cannot use.
    let wrong_password = "pa??w>rd~ü";
    for (credentials, says) in [
        (None, "none were given"),
        (
            Some(Credentials::password(USER, wrong_password)),
            "user \"kiln\"",
        ),
        (
            Some(Credentials::password("nobody", PASSWORD)),
            "user \"nobody\"",
        ),
        (
            Some(Credentials::identity_token(PASSWORD)),
            "identity token",
        ),
    ] {
        for result in [
            registry
                .head(&app, with(credentials.clone()))
                .await
                .map(|_| ()),
            registry
                .describe(&app, with(credentials.clone()))
                .await
                .map(|_| ()),
        ] {
            let error = result.unwrap_err();
            let Error::AuthRefused { registry, reason } = &error else {
                panic!("expected an auth refusal, got {error:?}");
            };
            assert_eq!(registry, &format!("127.0.0.1:{}", server.port()));
            assert!(reason.contains(says), "{reason}");
            let text = format!("{error} {error:?}");
            assert!(!text.contains(wrong_password), "{text}");
            assert!(!text.contains("w>rd"), "{text}");
        }
    }

    // A multi-platform index: amd64, arm64 and an attestation entry.
    let multi = server.reference("kiln/multi", "1");
    let multi_target = oci_reference(&multi);
    let (amd64, amd64_size) = push_image(
        &client,
        &oci_reference(&server.reference("kiln/multi", "amd64")),
        "amd64",
        serde_json::json!({"arch": "amd64"}),
    )
    .await;
    let (arm64, arm64_size) = push_image(
        &client,
        &oci_reference(&server.reference("kiln/multi", "arm64")),
        "arm64",
        serde_json::json!({"arch": "arm64"}),
    )
    .await;
    let index: oci_client::manifest::OciManifest = serde_json::from_value(serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": DOCKER_MANIFEST, "digest": amd64, "size": amd64_size,
             "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": DOCKER_MANIFEST, "digest": arm64, "size": arm64_size,
             "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            {"mediaType": DOCKER_MANIFEST, "digest": amd64, "size": amd64_size,
             "platform": {"os": "unknown", "architecture": "unknown"},
             "annotations": {"vnd.docker.reference.type": "attestation-manifest"}},
        ],
    }))
    .unwrap();
    let location = client.push_manifest(&multi_target, &index).await.unwrap();
    let index_digest = Digest::parse(location.rsplit('/').next().unwrap()).unwrap();

    assert_eq!(
        registry
            .head(&multi, with(Some(credentials.clone())))
            .await
            .unwrap(),
        Some(index_digest.clone())
    );
    let first = registry
        .describe(&multi, with(Some(credentials.clone())))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.digest, index_digest);
    assert_eq!(
        first.platforms,
        [Platform::linux_amd64(), Platform::linux_arm64()]
    );
    assert_eq!(first.labels["arch"], "amd64");
    let arm = registry
        .describe(
            &multi,
            with(Some(credentials.clone())).platform(Some(Platform::parse("aarch64").unwrap())),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(arm.digest, index_digest);
    assert_eq!(arm.labels["arch"], "arm64");
    let absent_platform = registry
        .describe(
            &multi,
            with(Some(credentials.clone()))
                .platform(Some(Platform::parse("linux/arm/v7").unwrap())),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(absent_platform.labels.is_empty());
    assert_eq!(absent_platform.platforms.len(), 2);

    // Once the registry is gone, it is unreachable.
    let port = server.port();
    server.stop();
    let result = registry.head(&app, with(Some(credentials))).await;
    let Err(Error::Unreachable { endpoint, .. }) = result else {
        panic!("expected unreachable, got {result:?}");
    };
    assert_eq!(endpoint, format!("http://127.0.0.1:{port}"));
}
