//! The request id on every log line, without a tracing span per request:
//! while the core middleware polls a request, its id sits in a thread
//! local, and the log format Phial installs writes it on each line
//! (`"request_id":"…"` in JSON, `[…]` before a text line). A span per
//! request (with its fields formatted at creation, entered and left at
//! every poll) cost a quarter of the throughput of a small page; this
//! costs two reference counts per poll. Lines logged by a task the
//! handler spawned carry no id, as they would not be inside its span.

use std::cell::RefCell;
use std::fmt;

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::request_id::RequestId;

thread_local! {
    static CURRENT: RefCell<Option<RequestId>> = const { RefCell::new(None) };
}

/// Puts the previous id back when dropped.
pub(crate) struct Scope(Option<RequestId>);

/// Makes `id` the current request's id until the scope is dropped.
pub(crate) fn enter(id: Option<&RequestId>) -> Option<Scope> {
    let id = id?.clone();
    Some(Scope(CURRENT.with(|c| c.replace(Some(id)))))
}

impl Drop for Scope {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// An event format that writes the current request's id first, then the
/// line `inner` writes.
pub(crate) struct WithRequestId<F> {
    pub(crate) inner: F,
    pub(crate) json: bool,
}

impl<S, N, F> FormatEvent<S, N> for WithRequestId<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let id = CURRENT.with(|c| c.borrow().clone());
        let Some(id) = id else {
            return self.inner.format_event(ctx, writer, event);
        };
        if !self.json {
            write!(writer, "[{}] ", id.as_str())?;
            return self.inner.format_event(ctx, writer, event);
        }
        // The object the JSON format writes, with the id as its first key.
        // Ids are `[A-Za-z0-9._:/-]` (see `RequestId`): nothing to escape.
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        match line.strip_prefix('{') {
            Some(rest) => write!(writer, "{{\"request_id\":\"{}\",{rest}", id.as_str()),
            None => writer.write_str(&line),
        }
    }
}
