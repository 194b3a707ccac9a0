//! Bad inputs refused before any work, and inputs told apart that once were not.

use kiln_core::{ErrorKind, ImageEngine, ImageRef};

use super::fixture;

#[tokio::test]
async fn a_tag_with_a_digest_is_refused_before_any_work() {
    let f = fixture();
    let digest = format!("sha256:{}", "a".repeat(64));
    for tag in [format!("repo@{digest}"), format!("repo:1@{digest}")] {
        let mut spec = f.spec();
        spec.tags = vec![ImageRef::parse(&tag).unwrap()];
        let planned = f.kiln.plan(&spec).await.unwrap_err();
        assert_eq!(planned.kind(), ErrorKind::InvalidInput, "{planned}");
        assert!(planned.to_string().contains(&tag), "{planned}");
        let built = f.kiln.build_image(&spec).await.unwrap_err();
        assert_eq!(built.kind(), ErrorKind::InvalidInput, "{built}");
    }
    assert_eq!(f.engine.calls().build, 0);
    let latest = ImageRef::parse("repo:latest").unwrap();
    assert!(f.engine.inspect(&latest).await.unwrap().is_none());
}

#[tokio::test]
async fn a_repeated_tag_is_kept_once() {
    let f = fixture();
    let mut spec = f.spec();
    let one = ImageRef::parse("app:1").unwrap();
    let two = ImageRef::parse("app:2").unwrap();
    spec.tags = vec![one.clone(), two.clone(), one.clone()];
    let report = f.kiln.build_image(&spec).await.unwrap();
    assert_eq!(report.tags, [one, two]);
}
