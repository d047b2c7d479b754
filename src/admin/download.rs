//! Files the admin downloads, written on a blocking thread and sent as they
//! are written: memory stays flat whatever their size, the first byte
//! leaves at once, and a client that goes away stops the writing.

use std::io::{self, Write};

use actix_web::web::Bytes;
use futures_util::{stream, Stream, StreamExt};
use tokio::sync::mpsc;

use super::error::AdminError;

/// About this much is handed on at a time.
const CHUNK_BYTES: usize = 64 * 1024;
/// Chunks written but not yet sent: what the file may hold in memory.
const CHUNKS_AHEAD: usize = 4;

type Chunk = Result<Bytes, AdminError>;

/// A file being written: its first chunk, and the rest as they come.
pub struct Chunks {
    first: Bytes,
    rest: mpsc::Receiver<Chunk>,
}

impl Chunks {
    /// A file already whole in memory: a small one.
    pub fn whole(body: Vec<u8>) -> Chunks {
        let (_, rest) = mpsc::channel(1);
        Chunks {
            first: Bytes::from(body),
            rest,
        }
    }

    /// The body: a failure after the first chunk is logged and cuts the
    /// download short (the status has gone), so it is never taken for whole.
    pub fn into_stream(self) -> impl Stream<Item = io::Result<Bytes>> {
        let rest = stream::unfold(self.rest, |mut rest| async move {
            rest.recv().await.map(|chunk| (chunk, rest))
        });
        stream::once(async move { Ok(self.first) })
            .chain(rest)
            .map(|chunk| {
                chunk.map_err(|e| {
                    log::error!("admin: a download failed half-way: {e}");
                    io::Error::other(e.to_string())
                })
            })
    }
}

/// A `Write` that hands what is written on in chunks; `flush` sends what
/// it holds at once.
pub struct ChunkWriter {
    buffer: Vec<u8>,
    sender: mpsc::Sender<Chunk>,
}

impl Write for ChunkWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK_BYTES {
            self.flush()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buffer));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the download was dropped"))
    }
}

/// Runs `write` on a blocking thread and returns once its first chunk is
/// out (`write` flushes when it has begun): a failure before that is an
/// error page, not a broken file.
pub async fn write_file(
    write: impl FnOnce(&mut ChunkWriter) -> Result<(), AdminError> + Send + 'static,
) -> Result<Chunks, AdminError> {
    let (sender, mut receiver) = mpsc::channel(CHUNKS_AHEAD);
    let failed = sender.clone();
    actix_web::rt::task::spawn_blocking(move || {
        let mut writer = ChunkWriter {
            buffer: Vec::with_capacity(CHUNK_BYTES),
            sender,
        };
        let written = write(&mut writer).and_then(|()| {
            writer
                .flush()
                .map_err(|e| AdminError::internal(format!("download: {e}")))
        });
        if let Err(e) = written {
            // Nobody hears it when the client went away: nothing to report.
            let _ = failed.blocking_send(Err(e));
        }
    });
    match receiver.recv().await {
        Some(Ok(first)) => Ok(Chunks {
            first,
            rest: receiver,
        }),
        Some(Err(e)) => Err(e),
        None => Err(AdminError::internal("download: ended before it began")),
    }
}
