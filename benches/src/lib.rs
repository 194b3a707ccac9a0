//! kiln-benches: generated corpora for kiln's benchmarks, the same bytes on every machine.
//!
//! The criterion benches live in `benches/`, the side-by-side comparisons with the Docker CLI
//! in `scripts/`; both use the corpora made here (`cargo run -p kiln-benches --release --bin
//! make-corpus`).

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The shape of a corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorpusSpec {
    /// Number of files.
    pub files: usize,
    /// Mean file size in bytes (sizes are spread uniformly from 1/50 of it to twice it).
    pub mean_bytes: usize,
    /// Files per directory.
    pub per_dir: usize,
}

/// 16,384 files of ~50 KiB: about 800 MB, the Docker CLI comparison corpus.
pub const LARGE: CorpusSpec = CorpusSpec {
    files: 16_384,
    mean_bytes: 50 * 1024,
    per_dir: 256,
};

/// 100,000 small files (~1 KiB): the warm-check corpus.
pub const MANY_SMALL: CorpusSpec = CorpusSpec {
    files: 100_000,
    mean_bytes: 1024,
    per_dir: 500,
};

/// The default directory of a corpus: `benches/corpus` for [`LARGE`], `benches/corpus-<n>`
/// otherwise.
pub fn default_dir(spec: CorpusSpec) -> PathBuf {
    let benches = Path::new(env!("CARGO_MANIFEST_DIR"));
    if spec == LARGE {
        benches.join("corpus")
    } else {
        benches.join(format!("corpus-{}", spec.files))
    }
}

/// A small, fast, deterministic generator (xorshift64*); the bytes need not be good random,
/// only incompressible enough and identical everywhere.
struct Bytes(u64);

impl Bytes {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn fill(&mut self, buffer: &mut [u8]) {
        for chunk in buffer.chunks_mut(8) {
            let word = self.next().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

/// Makes the corpus `spec` in `dir` unless a complete one is there; returns its total bytes.
///
/// Layout: `dNNN/fNNNNN.bin` files, a `Dockerfile` copying everything (`FROM scratch`), and a
/// `.dockerignore` that leaves out the completion marker.
pub fn ensure_corpus(dir: &Path, spec: CorpusSpec) -> io::Result<u64> {
    let marker = dir.join(".corpus-complete");
    let shape = [
        spec.files as u64,
        spec.mean_bytes as u64,
        spec.per_dir as u64,
    ];
    if let Ok(found) = fs::read_to_string(&marker) {
        let numbers: Vec<u64> = found
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        if let [files, mean, per_dir, total] = numbers[..]
            && [files, mean, per_dir] == shape
        {
            return Ok(total);
        }
    }
    let mut sizes = Bytes(0x6b69_6c6e);
    let mut contents = Bytes(0x2026_1122);
    let mut buffer = vec![0u8; spec.mean_bytes * 2];
    let low = (spec.mean_bytes / 50).max(1);
    let mut total = 0u64;
    for index in 0..spec.files {
        let directory = dir.join(format!("d{:03}", index / spec.per_dir));
        if index % spec.per_dir == 0 {
            fs::create_dir_all(&directory)?;
        }
        let span = (2 * spec.mean_bytes - low) as u64;
        let size = low + (sizes.next() % span) as usize;
        contents.fill(&mut buffer[..size]);
        let mut file = BufWriter::new(File::create(directory.join(format!("f{index:06}.bin")))?);
        file.write_all(&buffer[..size])?;
        total += size as u64;
    }
    fs::write(dir.join("Dockerfile"), "FROM scratch\nCOPY . /corpus/\n")?;
    fs::write(dir.join(".dockerignore"), ".corpus-complete\n")?;
    fs::write(
        &marker,
        format!("{} {} {} {total}\n", shape[0], shape[1], shape[2]),
    )?;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpora_are_deterministic_and_reused() {
        let spec = CorpusSpec {
            files: 30,
            mean_bytes: 100,
            per_dir: 7,
        };
        let one = tempfile::tempdir().unwrap();
        let two = tempfile::tempdir().unwrap();
        let total = ensure_corpus(one.path(), spec).unwrap();
        assert_eq!(ensure_corpus(two.path(), spec).unwrap(), total);
        assert_eq!(
            fs::read(one.path().join("d004/f000029.bin")).unwrap(),
            fs::read(two.path().join("d004/f000029.bin")).unwrap()
        );
        assert_eq!(
            ensure_corpus(one.path(), spec).unwrap(),
            total,
            "a complete corpus is kept"
        );
    }
}
