//! How much build args the Engine API can take. `POST /build` takes them only in the URL
//! query (`buildargs`, JSON), as the Docker CLI sends them too; the daemon reads request lines
//! up to 1 MiB, but the HTTP client's URI type (`http::Uri`) refuses any URI over
//! [`MAX_URI_BYTES`]. Args that cannot fit are refused before anything is sent, naming the
//! largest one and the limit.

use std::collections::BTreeMap;

use bollard::errors::Error as BollardError;
use kiln_core::Error;

/// The longest URI the HTTP client accepts (`http::Uri`'s limit), in bytes: scheme, host, path
/// and the whole query (build args, labels, tags, ...) together.
pub const MAX_URI_BYTES: usize = 65_534;

/// Bytes `args` take in the query: `buildargs=` and their JSON, URL-encoded.
pub fn build_args_query_bytes(args: &BTreeMap<String, String>) -> usize {
    let json = serde_json::to_string(args).expect("string maps always serialise");
    "buildargs=".len()
        + form_urlencoded::byte_serialize(json.as_bytes())
            .map(str::len)
            .sum::<usize>()
}

/// Refuses `args` when they alone cannot fit in a request's URI (checked before any work; the
/// rest of the query is measured when the request is made).
pub fn check_build_args(args: &BTreeMap<String, String>) -> kiln_core::Result<()> {
    let bytes = build_args_query_bytes(args);
    if bytes <= MAX_URI_BYTES {
        return Ok(());
    }
    Err(too_long(args, Some(bytes)))
}

/// The error for `args` that do not fit, naming the largest one (by name and size, never its
/// value: it may be secret) and the limit; `bytes`, when known, is what the args take.
pub(crate) fn too_long(args: &BTreeMap<String, String>, bytes: Option<usize>) -> Error {
    let largest = args
        .iter()
        .max_by_key(|(_, value)| value.len())
        .map_or_else(String::new, |(name, value)| {
            format!("{name}=<{} bytes>", value.len())
        });
    let taken = match bytes {
        Some(bytes) => format!("the build args take {bytes} bytes of it URL-encoded"),
        None => "with the labels, tags and other options they do not fit".to_owned(),
    };
    Error::invalid_input(
        "--build-arg",
        largest,
        format!(
            "build args that fit in the Engine API's request URI, at most {MAX_URI_BYTES} bytes \
             in all (the daemon takes build args only in the URL query); {taken}. Pass large \
             values as a file in the build context instead"
        ),
    )
}

/// Whether bollard refused to make a request because its URI is too long.
pub(crate) fn is_uri_too_long(error: &BollardError) -> bool {
    matches!(error, BollardError::InvalidURIError { err } if err.to_string().contains("too long"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::ErrorKind;

    fn args(size: usize) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("SMALL".to_owned(), "x".to_owned()),
            ("BIG".to_owned(), "a".repeat(size)),
        ])
    }

    #[test]
    fn the_query_size_is_measured_url_encoded() {
        let one = BTreeMap::from([("A".to_owned(), "b c/é".to_owned())]);
        // {"A":"b c/é"} → %7B%22A%22%3A%22b+c%2F%C3%A9%22%7D
        assert_eq!(
            build_args_query_bytes(&one),
            "buildargs=".len() + "%7B%22A%22%3A%22b+c%2F%C3%A9%22%7D".len()
        );
    }

    #[test]
    fn args_over_the_limit_are_refused_naming_the_largest() {
        assert!(check_build_args(&args(60_000)).is_ok());
        let error = check_build_args(&args(100_000)).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        let text = error.to_string();
        assert!(text.contains("BIG=<100000 bytes>"), "{text}");
        assert!(text.contains("65534 bytes"), "{text}");
        assert!(!text.contains("aaaa"), "no value: {text}");
    }

    #[test]
    fn a_too_long_uri_is_recognised() {
        let long = format!("http://x/{}", "a".repeat(MAX_URI_BYTES));
        let err = long.parse::<hyper::Uri>().unwrap_err();
        assert!(is_uri_too_long(&BollardError::InvalidURIError { err }));
        let err = "http://x/ bad".parse::<hyper::Uri>().unwrap_err();
        assert!(!is_uri_too_long(&BollardError::InvalidURIError { err }));
    }
}
