//! Identity tokens, for real: a `docker-registry` in token mode with a token service, and a
//! Docker configuration that holds an identity token (as `docker login` leaves it for registries
//! such as ACR). The daemon trades it on push; kiln trades it itself for `exists --remote`.

use std::fs;
use std::process::Output;

use kiln_tests::images::busybox;
use kiln_tests::output::{json, stderr, stdout};
use kiln_tests::registry::{RegistryServer, token_registry_or_skip};
use kiln_tests::{ImageCleanup, kiln, live_docker, unique};

const IDENTITY_TOKEN: &str = "kiln-identity-token-0f3c?>";

/// `kiln ARGS` with a Docker configuration holding `token` as the identity token of `registry`.
fn kiln_with_token(registry: &RegistryServer, token: &str, args: &[&str]) -> Output {
    let config = tempfile::tempdir().unwrap();
    fs::write(
        config.path().join("config.json"),
        serde_json::json!({"auths": {registry.host(): {"identitytoken": token}}}).to_string(),
    )
    .unwrap();
    kiln(args)
        .env("DOCKER_CONFIG", config.path())
        .output()
        .unwrap()
}

#[test]
fn an_identity_token_is_traded_for_access() {
    let test = "an_identity_token_is_traded_for_access";
    if live_docker(test).is_none() {
        return;
    }
    let Some((registry, tokens)) = token_registry_or_skip(test, IDENTITY_TOKEN) else {
        return;
    };
    let repo = unique("kiln-token");
    let tag = registry.reference(&repo, "v1").familiar();
    let absent = registry.reference(&repo, "never").familiar();
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {}\nCOPY id.txt /id.txt\n", busybox()),
    )
    .unwrap();
    fs::write(dir.path().join("id.txt"), unique("token")).unwrap();
    let built = kiln(&["build", dir.path().to_str().unwrap(), "--tag", &tag, "-q"])
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", stderr(&built));

    // The daemon makes the exchange for the push.
    let pushed = kiln_with_token(&registry, IDENTITY_TOKEN, &["push", &tag, "--json"]);
    assert_eq!(pushed.status.code(), Some(0), "{}", stderr(&pushed));
    let digest = json(&pushed)["digest"].as_str().unwrap().to_owned();

    // kiln makes it for its own requests.
    let before = tokens.exchanges();
    let present = kiln_with_token(
        &registry,
        IDENTITY_TOKEN,
        &["exists", &tag, "--remote", "--json"],
    );
    assert_eq!(present.status.code(), Some(0), "{}", stderr(&present));
    assert_eq!(json(&present)["digest"].as_str(), Some(digest.as_str()));
    assert!(
        tokens.exchanges() > before,
        "kiln traded the identity token"
    );
    let missing = kiln_with_token(&registry, IDENTITY_TOKEN, &["exists", &absent, "--remote"]);
    assert_eq!(missing.status.code(), Some(1), "{}", stderr(&missing));

    // A token the service does not know: refused, and never echoed.
    let wrong = "kiln-wrong-identity-token-9a1e";
    let refused = kiln_with_token(&registry, wrong, &["exists", &tag, "--remote", "--json"]);
    assert_eq!(refused.status.code(), Some(5), "{}", stderr(&refused));
    let everything = format!("{}{}", stdout(&refused), stderr(&refused));
    assert!(!everything.contains(wrong), "{everything}");
    assert!(!everything.contains(IDENTITY_TOKEN), "{everything}");
}
