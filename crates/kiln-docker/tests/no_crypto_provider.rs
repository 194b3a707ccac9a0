//! A process that installed no rustls provider: kiln's registry client installs none either,
//! and its operations fail with an error that says what to call (never reqwest's panic). A test
//! binary of its own, since any other test may install the process's default.

use kiln_core::{Error, ImageRef, Registry, RegistryOptions};
use kiln_docker::OciRegistry;

#[tokio::test]
async fn registry_operations_need_the_applications_provider() {
    let registry = OciRegistry::new();
    for image in ["127.0.0.1:9/app:1", "registry.invalid/app:1"] {
        let image = ImageRef::parse(image).unwrap();
        let result = registry.head(&image, RegistryOptions::default()).await;
        let Err(Error::Internal { message, .. }) = result else {
            panic!("expected the missing provider to be reported, got {result:?}");
        };
        assert!(
            message.contains("kiln::install_default_crypto_provider()"),
            "{message}"
        );
    }
    assert!(
        rustls::crypto::CryptoProvider::get_default().is_none(),
        "the library installed a process-wide provider"
    );
}
