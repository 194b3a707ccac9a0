//! A container's output streamed to files while it runs — `stdout.log` and `stderr.log`, or
//! `console.log` for a terminal — so that a crash keeps what was printed.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::StreamExt;
use kiln_core::{ContainerId, ContainerRuntime, LogOptions, LogSource};
use tokio::task::JoinHandle;

/// The log files of one container, in its folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFiles {
    /// The container's folder.
    pub folder: PathBuf,
    /// Whether it has a terminal (one console log).
    pub tty: bool,
}

impl LogFiles {
    /// The files it writes, in order.
    pub fn paths(&self) -> Vec<PathBuf> {
        if self.tty {
            vec![self.folder.join("console.log")]
        } else {
            vec![
                self.folder.join("stdout.log"),
                self.folder.join("stderr.log"),
            ]
        }
    }
}

/// Follows the output of `id` into `files` until the container ends; each chunk is written
/// (and flushed) as it arrives. Errors end the copy with what was written kept.
pub fn follow(
    containers: Arc<dyn ContainerRuntime>,
    id: ContainerId,
    files: LogFiles,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let Ok(mut outputs) = Outputs::create(&files) else {
            return;
        };
        let stream = containers.logs(&id, LogOptions::new().follow(true)).await;
        let Ok(mut stream) = stream else { return };
        while let Some(Ok(chunk)) = stream.next().await {
            let file = match chunk.stream {
                LogSource::Stdout | LogSource::Console => &mut outputs.first,
                LogSource::Stderr => outputs.second.as_mut().unwrap_or(&mut outputs.first),
            };
            if file
                .write_all(&chunk.bytes)
                .and_then(|()| file.flush())
                .is_err()
            {
                return;
            }
        }
    })
}

struct Outputs {
    first: File,
    second: Option<File>,
}

impl Outputs {
    fn create(files: &LogFiles) -> std::io::Result<Outputs> {
        std::fs::create_dir_all(&files.folder)?;
        let paths = files.paths();
        Ok(Outputs {
            first: File::create(&paths[0])?,
            second: paths.get(1).map(File::create).transpose()?,
        })
    }
}

/// Whether a line of the files holds `text` (readiness by log line).
pub fn contains(files: &LogFiles, text: &str) -> bool {
    files
        .paths()
        .iter()
        .any(|path| read_lossy(path).contains(text))
}

fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}
