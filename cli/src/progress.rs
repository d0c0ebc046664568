//! Progress bars on stderr, shown only to a person watching a terminal.

use std::io::{self, IsTerminal, Read, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A byte counter that draws a bar on stderr when stderr is a terminal and the command is
/// not quiet, and costs nothing otherwise.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar labelled `message`; `total` bytes when known.
    pub fn new(quiet: bool, message: &'static str, total: Option<u64>) -> Progress {
        if !Progress::shown(quiet) {
            return Progress { bar: None };
        }
        let bar = match total {
            Some(total) => ProgressBar::new(total).with_style(
                ProgressStyle::with_template(
                    "{msg:>6} [{wide_bar}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{msg:>6} {spinner} {bytes} {bytes_per_sec}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_message(message);
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress { bar: Some(bar) }
    }

    /// Whether a bar would be drawn, so that a total worth some work to find is computed
    /// only then.
    pub fn shown(quiet: bool) -> bool {
        !quiet && io::stderr().is_terminal()
    }

    /// Counts `bytes` more.
    pub fn inc(&self, bytes: usize) {
        count(self.bar.as_ref(), bytes);
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    /// Sets the count to `bytes`.
    pub fn set_position(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(bytes);
        }
    }

    /// Whether a bar is drawn.
    pub fn is_visible(&self) -> bool {
        self.bar.is_some()
    }

    /// Wraps a reader or writer so that the bytes through it are counted.
    pub fn track<T>(&self, inner: T) -> Tracked<T> {
        Tracked {
            inner,
            bar: self.bar.clone(),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // Cleared on every path, so that an error message is not drawn over a bar.
        self.finish();
    }
}

/// A reader or writer whose traffic is counted by a [`Progress`].
#[derive(Debug)]
pub struct Tracked<T> {
    inner: T,
    bar: Option<ProgressBar>,
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        count(self.bar.as_ref(), n);
        Ok(n)
    }
}

impl<W: Write> Write for Tracked<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        count(self.bar.as_ref(), n);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn count(bar: Option<&ProgressBar>, bytes: usize) {
    if let Some(bar) = bar {
        bar.inc(u64::try_from(bytes).unwrap_or(0));
    }
}
