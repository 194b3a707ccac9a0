//! The requests a [`FaultProxy`](super::FaultProxy) passes, read off each connection's stream
//! as HTTP/1.1 framing says (a head, then a body of `Content-Length` bytes or chunked), so a
//! body's bytes are never taken for a request.

/// One request as the client sent it: `PATCH` and `/v2/app/blobs/uploads/…?_state=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    /// The method, as sent (`GET`, `POST`, …).
    pub method: String,
    /// The request target: the path with its query, if any.
    pub target: String,
}

impl SeenRequest {
    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.target
            .split_once('?')
            .map_or(self.target.as_str(), |(path, _)| path)
    }

    /// The query (after `?`), if any.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, query)| query)
    }

    /// Whether the query has the parameter `name` (`mount` in `?mount=…&from=…`).
    pub fn has_parameter(&self, name: &str) -> bool {
        self.query().is_some_and(|query| {
            query
                .split('&')
                .any(|pair| pair.split_once('=').map_or(pair, |(key, _)| key) == name)
        })
    }

    /// A cross-repository blob mount: `POST /v2/<name>/blobs/uploads/?mount=<digest>&from=…`.
    pub fn is_blob_mount(&self) -> bool {
        self.method == "POST" && self.is_upload_path() && self.has_parameter("mount")
    }

    /// A request that uploads blob data or opens a session for it: a `POST` to
    /// `/v2/<name>/blobs/uploads/` without `mount=`, and any `PATCH` or `PUT` to an upload.
    pub fn is_blob_upload(&self) -> bool {
        self.is_upload_path()
            && match self.method.as_str() {
                "POST" => !self.has_parameter("mount"),
                "PATCH" | "PUT" => true,
                _ => false,
            }
    }

    /// A blob existence check: `HEAD /v2/<name>/blobs/<digest>`.
    pub fn is_blob_check(&self) -> bool {
        self.method == "HEAD" && self.path().contains("/blobs/") && !self.is_upload_path()
    }

    fn is_upload_path(&self) -> bool {
        self.path().starts_with("/v2/") && self.path().contains("/blobs/uploads/")
    }
}

/// Where a connection's client stream is, between requests.
#[derive(Debug)]
enum Framing {
    /// Reading a request head, up to the empty line.
    Head(Vec<u8>),
    /// Skipping this many bytes of a body.
    Body(u64),
    /// Reading a chunk-size line.
    ChunkSize(Vec<u8>),
    /// Skipping this many bytes of chunk data (and the CRLF after it).
    ChunkData(u64),
    /// Reading trailer lines after the last chunk, up to an empty line.
    Trailers(Vec<u8>),
    /// The stream is not HTTP as expected: nothing more is recorded on this connection.
    Lost,
}

/// Reads the requests off one connection's client stream, chunk by chunk as it passes.
#[derive(Debug)]
pub(super) struct RequestReader {
    framing: Framing,
}

/// The longest head read before the stream counts as lost (heads are a few kilobytes).
const MAX_HEAD: usize = 1 << 20;

impl RequestReader {
    pub(super) fn new() -> RequestReader {
        RequestReader {
            framing: Framing::Head(Vec::new()),
        }
    }

    /// Reads `bytes`, the next part of the stream; returns the requests whose heads ended in it.
    pub(super) fn feed(&mut self, mut bytes: &[u8]) -> Vec<SeenRequest> {
        let mut seen = Vec::new();
        while !bytes.is_empty() {
            let framing = std::mem::replace(&mut self.framing, Framing::Lost);
            self.framing = match framing {
                Framing::Lost => return seen,
                Framing::Head(mut head) => {
                    let (line_end, rest) = take_until(&mut head, bytes, b"\r\n\r\n");
                    bytes = rest;
                    if !line_end {
                        if head.len() > MAX_HEAD {
                            Framing::Lost
                        } else {
                            Framing::Head(head)
                        }
                    } else {
                        match read_head(&head) {
                            Some((request, next)) => {
                                seen.push(request);
                                next
                            }
                            None => Framing::Lost,
                        }
                    }
                }
                Framing::Body(left) => {
                    let (taken, rest) = skip(left, bytes);
                    bytes = rest;
                    if taken == left {
                        Framing::Head(Vec::new())
                    } else {
                        Framing::Body(left - taken)
                    }
                }
                Framing::ChunkSize(mut line) => {
                    let (ended, rest) = take_until(&mut line, bytes, b"\r\n");
                    bytes = rest;
                    if !ended {
                        Framing::ChunkSize(line)
                    } else {
                        match chunk_size(&line) {
                            Some(0) => Framing::Trailers(Vec::new()),
                            // The data and its closing CRLF.
                            Some(size) => Framing::ChunkData(size + 2),
                            None => Framing::Lost,
                        }
                    }
                }
                Framing::ChunkData(left) => {
                    let (taken, rest) = skip(left, bytes);
                    bytes = rest;
                    if taken == left {
                        Framing::ChunkSize(Vec::new())
                    } else {
                        Framing::ChunkData(left - taken)
                    }
                }
                Framing::Trailers(mut line) => {
                    let (ended, rest) = take_until(&mut line, bytes, b"\r\n");
                    bytes = rest;
                    match (ended, line.len()) {
                        (false, _) => Framing::Trailers(line),
                        // The empty line that ends the chunked body.
                        (true, 2) => Framing::Head(Vec::new()),
                        (true, _) => Framing::Trailers(Vec::new()),
                    }
                }
            };
        }
        seen
    }
}

/// Appends `bytes` to `buffer` up to and including the first `end` in `buffer` + `bytes`;
/// returns whether `end` was found and the bytes after it.
fn take_until<'a>(buffer: &mut Vec<u8>, bytes: &'a [u8], end: &[u8]) -> (bool, &'a [u8]) {
    for (index, byte) in bytes.iter().enumerate() {
        buffer.push(*byte);
        if buffer.ends_with(end) {
            return (true, &bytes[index + 1..]);
        }
    }
    (false, &[])
}

/// Skips up to `left` bytes of `bytes`; returns how many and the rest.
fn skip(left: u64, bytes: &[u8]) -> (u64, &[u8]) {
    let taken = usize::try_from(left).map_or(bytes.len(), |left| left.min(bytes.len()));
    (taken as u64, &bytes[taken..])
}

/// The size of a chunk-size line (`1a;ext=x\r\n`).
fn chunk_size(line: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(line).ok()?;
    let size = text.trim_end().split(';').next()?.trim();
    u64::from_str_radix(size, 16).ok()
}

/// The request a head (up to and including its empty line) opens, and how its body is framed.
fn read_head(head: &[u8]) -> Option<(SeenRequest, Framing)> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?.to_owned();
    if method.is_empty() || !request_line.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let mut length = 0u64;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse().ok()?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }
    let framing = if chunked {
        Framing::ChunkSize(Vec::new())
    } else if length > 0 {
        Framing::Body(length)
    } else {
        Framing::Head(Vec::new())
    };
    Some((SeenRequest { method, target }, framing))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(seen: &[SeenRequest]) -> Vec<String> {
        seen.iter()
            .map(|request| format!("{} {}", request.method, request.target))
            .collect()
    }

    const STREAM: &[u8] = b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n\
        PATCH /v2/app/blobs/uploads/u1?_state=s HTTP/1.1\r\nContent-Length: 30\r\n\r\n\
        GET /v2/not/a/request HTTP/1.1\
        PUT /v2/app/blobs/uploads/u1?digest=sha256:a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
        5;x=y\r\nPOST \r\n1c\r\nHEAD /v2/hidden HTTP/1.1\r\n\r\n\r\n0\r\nTrailer: t\r\n\r\n\
        POST /v2/app/blobs/uploads/?mount=sha256:b&from=cache HTTP/1.1\r\n\r\n";

    #[test]
    fn requests_are_read_by_their_framing_not_their_bodies() {
        let expected = [
            "GET /v2/",
            "PATCH /v2/app/blobs/uploads/u1?_state=s",
            "PUT /v2/app/blobs/uploads/u1?digest=sha256:a",
            "POST /v2/app/blobs/uploads/?mount=sha256:b&from=cache",
        ];
        let mut whole = RequestReader::new();
        assert_eq!(targets(&whole.feed(STREAM)), expected);
        // The same stream a byte at a time.
        let mut bytewise = RequestReader::new();
        let mut seen = Vec::new();
        for byte in STREAM {
            seen.extend(bytewise.feed(std::slice::from_ref(byte)));
        }
        assert_eq!(targets(&seen), expected);
    }

    #[test]
    fn uploads_mounts_and_checks_are_told_apart() {
        let request = |method: &str, target: &str| SeenRequest {
            method: method.to_owned(),
            target: target.to_owned(),
        };
        let mount = request("POST", "/v2/app/blobs/uploads/?mount=sha256:b&from=cache");
        assert!(mount.is_blob_mount() && !mount.is_blob_upload());
        assert_eq!(mount.path(), "/v2/app/blobs/uploads/");
        for upload in [
            request("POST", "/v2/app/blobs/uploads/"),
            request("POST", "/v2/app/blobs/uploads/?from=cache"),
            request("PATCH", "/v2/app/blobs/uploads/u1?_state=s"),
            request("PUT", "/v2/app/blobs/uploads/u1?digest=sha256:a"),
        ] {
            assert!(upload.is_blob_upload(), "{upload:?}");
            assert!(!upload.is_blob_mount(), "{upload:?}");
        }
        let check = request("HEAD", "/v2/app/blobs/sha256:a");
        assert!(check.is_blob_check() && !check.is_blob_upload());
        let manifest = request("PUT", "/v2/app/manifests/1");
        assert!(!manifest.is_blob_upload() && !manifest.is_blob_mount());
    }

    #[test]
    fn a_stream_that_is_not_http_is_given_up() {
        let mut reader = RequestReader::new();
        assert!(
            reader
                .feed(b"\x16\x03\x01 not http\r\n\r\nGET / HTTP/1.1\r\n\r\n")
                .is_empty()
        );
    }
}
