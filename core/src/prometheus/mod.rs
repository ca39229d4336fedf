//! Prometheus metrics: the process's recorder, the figures of each
//! request, and the `/metrics` page that serves them.

pub(crate) mod endpoint;
pub(crate) mod recorder;
pub(crate) mod requests;
