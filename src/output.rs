//! Where commands write: stdout for results, stderr for progress and
//! findings, both through `io::Result` so a full disk is an error rather than
//! a panic. A reader that went away (`acme-infra list | head -1`) is not an
//! error: that stream falls silent and the command ends with its usual status.

use std::fmt;
use std::io::{self, Write};

use crate::error::Error;

/// A stream that turns `EPIPE` into silence: the first broken-pipe error
/// closes it, and every later write succeeds without writing.
#[derive(Debug)]
pub struct Stream<W> {
    inner: W,
    closed: bool,
}

impl<W: Write> Stream<W> {
    pub fn new(inner: W) -> Self {
        Stream {
            inner,
            closed: false,
        }
    }

    /// What was written so far (a test's `Vec<u8>`).
    #[cfg(test)]
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    fn guard<T>(&mut self, silent: T, r: io::Result<T>) -> io::Result<T> {
        match r {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(silent)
            }
            other => other,
        }
    }
}

impl<W: Write> Write for Stream<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        let r = self.inner.write(buf);
        self.guard(buf.len(), r)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let r = self.inner.flush();
        self.guard((), r)
    }
}

/// A command's two output streams.
#[derive(Debug)]
pub struct Console<O: Write = io::Stdout, E: Write = io::Stderr> {
    pub out: Stream<O>,
    pub err: Stream<E>,
}

impl Console {
    /// The process's stdout and stderr.
    pub fn stdio() -> Self {
        Console::new(io::stdout(), io::stderr())
    }
}

impl<O: Write, E: Write> Console<O, E> {
    pub fn new(out: O, err: E) -> Self {
        Console {
            out: Stream::new(out),
            err: Stream::new(err),
        }
    }

    /// Writes `text` to stdout.
    pub fn print(&mut self, text: &str) -> Result<(), Error> {
        self.out.write_all(text.as_bytes()).map_err(Error::Stdout)
    }

    /// Writes one line to stderr.
    pub fn say(&mut self, line: fmt::Arguments<'_>) -> Result<(), Error> {
        writeln!(self.err, "{line}").map_err(Error::Stderr)
    }

    /// Flushes both streams: stdout is line-buffered, so the last failure to
    /// write can only show up here.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.out.flush().map_err(Error::Stdout)?;
        self.err.flush().map_err(Error::Stderr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Broken(io::ErrorKind);

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(self.0.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(self.0.into())
        }
    }

    #[test]
    fn a_closed_pipe_falls_silent_and_a_full_disk_is_an_error() {
        let mut c = Console::new(Broken(io::ErrorKind::BrokenPipe), Vec::new());
        assert!(c.print("row\n").is_ok());
        assert!(c.flush().is_ok());
        let mut c = Console::new(Broken(io::ErrorKind::StorageFull), Vec::new());
        assert!(matches!(c.print("row\n"), Err(Error::Stdout(_))));
        let mut c = Console::new(Vec::new(), Broken(io::ErrorKind::StorageFull));
        assert!(matches!(c.say(format_args!("x")), Err(Error::Stderr(_))));
    }
}
