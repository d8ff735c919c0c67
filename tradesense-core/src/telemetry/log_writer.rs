//! [`BatchedWriter`]: log lines collected in memory and written out in
//! batches by a background thread, so that logging a request costs a copy
//! under an uncontended lock instead of a `write(2)` on the request's path.
//!
//! Profiled on the `/health` hot path (benches/README.md): with the
//! subscriber writing each access-log line straight to stdout, the write
//! system call was the single largest cost of a request the server answers
//! without touching a database. Batching makes it one system call per
//! [`FLUSH_INTERVAL`] (or per [`HIGH_WATER`] bytes), whatever the request rate.
//!
//! The trade-offs, chosen on purpose:
//! - A line reaches the output up to [`FLUSH_INTERVAL`] after it was logged.
//!   A process killed with `SIGKILL` (or aborting) loses at most that much;
//!   a normal exit flushes through [`FlushGuard`].
//! - Lines are never dropped: past [`MAX_PENDING`] bytes (the output is
//!   stuck, e.g. a full pipe), writers wait for the flusher, which is what
//!   writing synchronously would have done anyway.
//! - On a terminal nothing is batched (a developer watches the lines as
//!   they happen); see [`BatchedWriter::stdout`].

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;
use tracing_subscriber::fmt::MakeWriter;

/// How long a line may wait in memory before it is written.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(50);
/// Pending bytes that wake the flusher before the interval is over.
pub const HIGH_WATER: usize = 256 * 1024;
/// Pending bytes past which a writer waits for the flusher (backpressure).
pub const MAX_PENDING: usize = 8 * 1024 * 1024;

/// A [`MakeWriter`] whose lines a background thread writes out in batches.
/// Cheap to clone; every clone shares one buffer and one flusher.
#[derive(Clone)]
pub struct BatchedWriter {
    shared: Arc<Shared>,
}

struct Shared {
    pending: Mutex<Pending>,
    /// Signalled when the flusher should run early (high water, shutdown)
    /// and when it has taken a batch (a writer waiting on backpressure).
    changed: Condvar,
}

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    /// Set once by the [`FlushGuard`]: write what is left and stop.
    closing: bool,
    /// Batches taken by the flusher so far, and how many of them it has
    /// written: a line pending now is in batch `taken + 1`.
    taken: u64,
    written: u64,
}

impl std::fmt::Debug for BatchedWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchedWriter").finish_non_exhaustive()
    }
}

impl BatchedWriter {
    /// Batches lines for `output`, written by a thread started here. Keep
    /// the returned guard alive as long as the process logs: dropping it
    /// writes what is pending and stops the thread.
    pub fn spawn(output: impl Write + Send + 'static) -> io::Result<(Self, FlushGuard)> {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            changed: Condvar::new(),
        });
        let flusher = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("log-flusher".into())
                .spawn(move || shared.run(output))?
        };
        let writer = Self { shared };
        let guard = FlushGuard {
            writer: writer.clone(),
            flusher: Some(flusher),
        };
        Ok((writer, guard))
    }

    /// Writes out everything logged so far and waits until it is written.
    pub fn flush(&self) {
        let mut pending = self.shared.lock();
        if pending.bytes.is_empty() {
            return;
        }
        let target = pending.taken + 1;
        self.shared.changed.notify_all();
        while pending.written < target && !pending.closing {
            pending = self.shared.wait(pending);
        }
    }

    fn append(&self, line: &[u8]) {
        let mut pending = self.shared.lock();
        while pending.bytes.len() >= MAX_PENDING && !pending.closing {
            self.shared.changed.notify_all();
            pending = self.shared.wait(pending);
        }
        pending.bytes.extend_from_slice(line);
        if pending.bytes.len() >= HIGH_WATER {
            self.shared.changed.notify_all();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding the lock leaves only bytes behind: go on.
        self.pending
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, Pending>) -> MutexGuard<'a, Pending> {
        self.changed
            .wait(guard)
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// The flusher: takes the pending bytes every interval (or when woken)
    /// and writes them with the lock released.
    fn run(&self, mut output: impl Write) {
        // Two buffers swapped back and forth: no allocation per batch.
        let mut batch = Vec::with_capacity(HIGH_WATER);
        loop {
            let (number, closing) = {
                let mut pending = self.lock();
                if pending.bytes.len() < HIGH_WATER && !pending.closing {
                    pending = self
                        .changed
                        .wait_timeout(pending, FLUSH_INTERVAL)
                        .unwrap_or_else(|poison| poison.into_inner())
                        .0;
                }
                std::mem::swap(&mut pending.bytes, &mut batch);
                pending.taken += 1;
                (pending.taken, pending.closing)
            };
            if !batch.is_empty() {
                // Nowhere to report a failing log output but the output
                // itself; the lines are gone either way.
                let _ = output.write_all(&batch).and_then(|()| output.flush());
                batch.clear();
            }
            {
                let mut pending = self.lock();
                pending.written = number;
                self.changed.notify_all();
                if closing && pending.bytes.is_empty() {
                    return;
                }
            }
        }
    }
}

/// Stops the flusher of a [`BatchedWriter`] when dropped, after writing
/// everything pending.
#[must_use = "dropping the guard stops the log flusher"]
pub struct FlushGuard {
    writer: BatchedWriter,
    flusher: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for FlushGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlushGuard").finish_non_exhaustive()
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        self.writer.shared.lock().closing = true;
        self.writer.shared.changed.notify_all();
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
    }
}

/// One event's writer: tracing-subscriber formats an event into its own
/// buffer and writes it with one `write_all`, so each call is one line.
#[derive(Debug)]
pub struct BatchedLine<'a> {
    writer: &'a BatchedWriter,
}

impl Write for BatchedLine<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedWriter {
    type Writer = BatchedLine<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        BatchedLine { writer: self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn write_line(writer: &BatchedWriter, line: &str) {
        writer.make_writer().write_all(line.as_bytes()).unwrap();
    }

    #[test]
    fn lines_arrive_in_order_within_the_interval() {
        let sink = Sink::default();
        let (writer, _guard) = BatchedWriter::spawn(sink.clone()).unwrap();
        for n in 0..100 {
            write_line(&writer, &format!("line {n}\n"));
        }
        let deadline = std::time::Instant::now() + FLUSH_INTERVAL * 20;
        while sink.0.lock().unwrap().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(FLUSH_INTERVAL / 5);
        }
        let expected: String = (0..100).map(|n| format!("line {n}\n")).collect();
        assert_eq!(
            String::from_utf8(sink.0.lock().unwrap().clone()).unwrap(),
            expected
        );
    }

    #[test]
    fn dropping_the_guard_writes_everything_pending() {
        let sink = Sink::default();
        let (writer, guard) = BatchedWriter::spawn(sink.clone()).unwrap();
        write_line(&writer, "last words\n");
        drop(guard);
        assert_eq!(&*sink.0.lock().unwrap(), b"last words\n");
    }

    #[test]
    fn flush_waits_until_the_lines_are_written() {
        let sink = Sink::default();
        let (writer, _guard) = BatchedWriter::spawn(sink.clone()).unwrap();
        write_line(&writer, "now\n");
        writer.flush();
        assert_eq!(&*sink.0.lock().unwrap(), b"now\n");
    }

    #[test]
    fn many_threads_lose_no_line_and_interleave_none() {
        let sink = Sink::default();
        let (writer, guard) = BatchedWriter::spawn(sink.clone()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for n in 0..2_000 {
                        write_line(&writer, &format!("thread {t} line {n}\n"));
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        drop(guard);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 8_000);
        for t in 0..4 {
            let mine: Vec<&str> = lines
                .iter()
                .copied()
                .filter(|l| l.starts_with(&format!("thread {t} ")))
                .collect();
            let expected: Vec<String> =
                (0..2_000).map(|n| format!("thread {t} line {n}")).collect();
            assert_eq!(mine, expected);
        }
    }
}
