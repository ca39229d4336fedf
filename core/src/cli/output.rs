//! Where CLI commands print: standard output, or a buffer in tests.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// Where commands print; tests capture it.
#[derive(Clone)]
pub struct Output(Arc<Mutex<Box<dyn Write + Send>>>);

impl Output {
    /// Printing to standard output.
    pub fn stdout() -> Self {
        Output(Arc::new(Mutex::new(Box::new(std::io::stdout()))))
    }

    /// Printing to standard error.
    pub fn stderr() -> Self {
        Output(Arc::new(Mutex::new(Box::new(std::io::stderr()))))
    }

    /// Printing into a buffer the caller keeps (tests).
    pub fn buffer() -> (Self, Arc<Mutex<Vec<u8>>>) {
        #[derive(Clone)]
        struct Shared(Arc<Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Arc::new(Mutex::new(Vec::new()));
        (
            Output(Arc::new(Mutex::new(Box::new(Shared(buf.clone()))))),
            buf,
        )
    }

    /// Prints one line.
    pub fn println(&self, line: impl std::fmt::Display) {
        let mut w = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(w, "{line}");
        let _ = w.flush();
    }
}
