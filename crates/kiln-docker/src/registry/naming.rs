//! Which registries are spoken to over plain HTTP, and how oci-client names an image.

use std::net::{Ipv4Addr, Ipv6Addr};

use kiln_core::ImageRef;
use oci_client::Reference;

/// Whether Docker treats the registry `domain` (`host[:port]`) as insecure by default, so that
/// it is spoken to over plain HTTP: `localhost`, an address in `127.0.0.0/8` or `[::1]`, with
/// any port.
///
/// Docker also resolves other host names and checks the addresses; kiln does not (a host name
/// other than `localhost` that resolves to a loopback address is still spoken to over HTTPS).
pub fn is_loopback_registry(domain: &str) -> bool {
    let host = if let Some(rest) = domain.strip_prefix('[') {
        match rest.split_once(']') {
            Some((address, port)) if port.is_empty() || is_port(port) => {
                return address.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback());
            }
            _ => return false,
        }
    } else {
        match domain.split_once(':') {
            Some((host, port)) if is_port(port) => host,
            Some(_) => return false,
            None => domain,
        }
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether `text` is `:` followed by a port number.
fn is_port(text: &str) -> bool {
    text.strip_prefix(':')
        .unwrap_or(text)
        .parse::<u16>()
        .is_ok()
}

/// The oci-client reference of `image`: registry `domain()` (oci-client itself sends Docker
/// Hub's `docker.io` to `index.docker.io`), repository `path()`, tag and digest.
pub(super) fn oci_reference(image: &ImageRef) -> Reference {
    let registry = image.domain().to_owned();
    let repository = image.path().to_owned();
    match (image.tag(), image.digest()) {
        (Some(tag), Some(digest)) => {
            Reference::with_tag_and_digest(registry, repository, tag.to_owned(), digest.to_owned())
        }
        (None, Some(digest)) => Reference::with_digest(registry, repository, digest.to_owned()),
        (Some(tag), None) => Reference::with_tag(registry, repository, tag.to_owned()),
        // A parsed ImageRef always has a tag or a digest; `latest` is what Docker would use.
        (None, None) => Reference::with_tag(registry, repository, "latest".to_owned()),
    }
}
