//! The stat index on disk: one header, fixed-size records in walk order, then every path in one
//! block — read with one `read`, its records used where they lie.
//!
//! Layout (little-endian):
//!
//! | bytes | field |
//! |---|---|
//! | 16 | [`MAGIC`] |
//! | 4 | [`VERSION`] |
//! | 4 | zero |
//! | 16 | scan start (seconds `i64`, nanoseconds `i64`) |
//! | 8 | record count |
//! | 8 | length of the path block |
//! | 96 × count | records: path end offset, size, mtime (s, ns), ctime (s, ns), inode, device, SHA-256 |
//! | length | the paths, back to back |
//!
//! A file that is shorter or longer than its header says, or whose path offsets do not advance
//! (every path has a byte at least) or run past the block, is corrupt. Version 1 (postcard, kiln before the walk-order index) starts
//! with another magic and reads as corrupt too: the caller hashes every file and rewrites it.

use super::hashing::DigestBytes;
use super::stat_index::{IndexLoadError, Record, Timestamp};

/// The first bytes of every index file.
const MAGIC: &[u8; 16] = b"kiln-stat-index\0";
/// The layout's version.
const VERSION: u32 = 2;
const HEADER_LEN: usize = 16 + 4 + 4 + 16 + 8 + 8;
pub(super) const RECORD_LEN: usize = 8 * 8 + 32;

/// What a file holds: the scan start, the records (still encoded, in the file's own buffer,
/// from `records_start`) and the paths block they point into.
pub(super) struct Decoded {
    pub(super) scan_started: Timestamp,
    pub(super) bytes: Vec<u8>,
    pub(super) records_start: usize,
    pub(super) paths: Vec<u8>,
}

/// Appends `record`, encoded, to `records`.
pub(super) fn encode_record(records: &mut Vec<u8>, record: &Record) {
    records.extend_from_slice(&(record.path_end as u64).to_le_bytes());
    records.extend_from_slice(&record.size.to_le_bytes());
    put_timestamp(records, record.mtime);
    put_timestamp(records, record.ctime);
    records.extend_from_slice(&record.ino.to_le_bytes());
    records.extend_from_slice(&record.dev.to_le_bytes());
    records.extend_from_slice(&record.digest);
}

/// The record encoded at the start of `bytes` (at least [`RECORD_LEN`] long).
pub(super) fn decode_record(bytes: &[u8]) -> Record {
    let mut field = Reader(bytes);
    Record {
        path_end: usize::try_from(field.u64()).unwrap_or(usize::MAX),
        size: field.u64(),
        mtime: field.timestamp(),
        ctime: field.timestamp(),
        ino: field.u64(),
        dev: field.u64(),
        digest: field.take::<32>() as DigestBytes,
    }
}

/// Where a path ends in the paths block: the first field of the record encoded at the start of
/// `bytes`.
pub(super) fn path_end(bytes: &[u8]) -> usize {
    usize::try_from(Reader(bytes).u64()).unwrap_or(usize::MAX)
}

/// Encodes an index of `count` records (encoded with [`encode_record`]) and their paths.
pub(super) fn encode(
    scan_started: Timestamp,
    count: usize,
    records: &[u8],
    paths: &[u8],
) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER_LEN + records.len() + paths.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&VERSION.to_le_bytes());
    bytes.extend_from_slice(&0u32.to_le_bytes());
    put_timestamp(&mut bytes, scan_started);
    bytes.extend_from_slice(&(count as u64).to_le_bytes());
    bytes.extend_from_slice(&(paths.len() as u64).to_le_bytes());
    bytes.extend_from_slice(records);
    bytes.extend_from_slice(paths);
    bytes
}

/// Decodes an index in place, checking that every length and offset agrees with the file's
/// size; only the paths block is copied out of `bytes`.
pub(super) fn decode(mut bytes: Vec<u8>) -> Result<Decoded, IndexLoadError> {
    let Some(header) = bytes.get(..HEADER_LEN) else {
        return Err(IndexLoadError::Corrupt);
    };
    let mut header = Reader(header);
    if header.take::<16>() != *MAGIC || u32::from_le_bytes(header.take()) != VERSION {
        return Err(IndexLoadError::Corrupt);
    }
    header.take::<4>();
    let scan_started = header.timestamp();
    let count = usize::try_from(header.u64()).map_err(|_| IndexLoadError::Corrupt)?;
    let paths_len = usize::try_from(header.u64()).map_err(|_| IndexLoadError::Corrupt)?;
    let records_len = count
        .checked_mul(RECORD_LEN)
        .ok_or(IndexLoadError::Corrupt)?;
    if records_len.checked_add(paths_len) != Some(bytes.len() - HEADER_LEN) {
        return Err(IndexLoadError::Corrupt);
    }
    let paths_start = HEADER_LEN + records_len;
    let mut previous_end = 0;
    for record in bytes[HEADER_LEN..paths_start].chunks_exact(RECORD_LEN) {
        let end = path_end(record);
        if end <= previous_end || end > paths_len {
            return Err(IndexLoadError::Corrupt);
        }
        previous_end = end;
    }
    if previous_end != paths_len {
        return Err(IndexLoadError::Corrupt);
    }
    let paths = bytes.split_off(paths_start);
    Ok(Decoded {
        scan_started,
        bytes,
        records_start: HEADER_LEN,
        paths,
    })
}

fn put_timestamp(bytes: &mut Vec<u8>, time: Timestamp) {
    bytes.extend_from_slice(&time.secs.to_le_bytes());
    bytes.extend_from_slice(&time.nanos.to_le_bytes());
}

/// Reads fixed-size fields off the front of a slice whose length the caller has checked.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let (field, rest) = self.0.split_first_chunk::<N>().expect("length checked");
        self.0 = rest;
        *field
    }

    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }

    fn timestamp(&mut self) -> Timestamp {
        Timestamp {
            secs: i64::from_le_bytes(self.take()),
            nanos: i64::from_le_bytes(self.take()),
        }
    }
}
