//! A probe process's output (stdout and stderr, interleaved as written) kept in the cell's log, capped.
//!
//! Code under test may print without end (a warning in a loop, a progress bar gone wrong); the log must not fill the
//! disk. The first [`HEAD`] bytes are kept as written, then only the last [`TAIL`] (where a crash's traceback is),
//! with a line saying how much was dropped between them. The output goes through a pipe read by a thread of its own,
//! so a chatty probe never blocks on a full pipe.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{PipeWriter, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::sink::Sink;

/// Bytes kept from the start of each process's output.
pub const HEAD: usize = 1 << 20;
/// Bytes kept from the end of each process's output, once it has outgrown [`HEAD`].
pub const TAIL: usize = 256 << 10;

/// The reading side; [`Drain::finish`] waits until the output ended and the log is complete.
pub struct Drain {
    done: tokio::sync::oneshot::Receiver<()>,
}

/// Opens `log` for appending and returns the write end of the pipe into it (through the cap) for a child's stdout
/// and stderr.
/// A log that cannot be written is said to `sink`, once.
pub fn open(log: &Path, sink: Arc<dyn Sink>) -> Result<(PipeWriter, Drain)> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| Error::io(log, e))?;
    let (reader, writer) = std::io::pipe().map_err(|e| Error::io(log, e))?;
    let (sender, done) = tokio::sync::oneshot::channel();
    let path = log.to_path_buf();
    std::thread::spawn(move || {
        let mut reader = reader;
        if let Err(e) = copy_capped(&mut reader, file) {
            sink.warn(&format!("writing {}: {e}", path.display()));
            // Keep reading: a probe whose output has nowhere to go must not die of SIGPIPE and be blamed for it.
            std::io::copy(&mut reader, &mut std::io::sink()).ok();
        }
        sender.send(()).ok();
    });
    Ok((writer, Drain { done }))
}

impl Drain {
    /// Waits for the end of the output: every process holding the pipe is gone once its group was killed. A
    /// process that left the group may hold it for ever: after `limit` the thread is left to finish on its own.
    pub async fn finish(self, limit: Duration) {
        tokio::time::timeout(limit, self.done).await.ok();
    }
}

fn copy_capped(mut reader: impl Read, mut file: File) -> std::io::Result<()> {
    let mut head_left = HEAD;
    let mut tail: VecDeque<u8> = VecDeque::new();
    let mut dropped: u64 = 0;
    let mut buffer = vec![0u8; 64 << 10];
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let (head, rest) = buffer[..n].split_at(n.min(head_left));
        file.write_all(head)?;
        head_left -= head.len();
        tail.extend(rest);
        if tail.len() > TAIL {
            let excess = tail.len() - TAIL;
            tail.drain(..excess);
            dropped += excess as u64;
        }
    }
    if dropped > 0 {
        writeln!(
            file,
            "\n[qcompat: output capped: {dropped} bytes dropped; the last {TAIL} bytes follow]"
        )?;
    }
    let (first, second) = tail.as_slices();
    file.write_all(first)?;
    file.write_all(second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_keeps_its_head_and_tail_and_says_what_was_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut input = vec![b'h'; HEAD];
        input.extend(vec![b'm'; 3 * TAIL]);
        input.extend(vec![b't'; TAIL]);
        copy_capped(&input[..], File::create(&path).unwrap()).unwrap();
        let log = std::fs::read(&path).unwrap();
        assert!(log.starts_with(&vec![b'h'; HEAD]) && log.ends_with(&vec![b't'; TAIL]));
        let text = String::from_utf8_lossy(&log);
        assert!(text.contains(&format!("{} bytes dropped", 3 * TAIL)));
        assert!(log.len() < HEAD + TAIL + 200);
    }
}
