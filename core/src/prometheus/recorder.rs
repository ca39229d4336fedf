//! The process's Prometheus recorder: installed once as the global
//! `metrics` recorder the first time an app with metrics is built, so every
//! crate that records through the `metrics` facade (Phial's extensions, the
//! app's own code, libraries) lands in the one `/metrics` page.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Upper bounds of the latency buckets, in seconds: from a cache hit
/// (under a millisecond) to a slow page (ten seconds).
pub(crate) const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often histograms are drained into their buckets when nobody
/// scrapes (they would otherwise grow with every sample).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The recorder's handle, installing the recorder on first use. `None`
/// when another global recorder was installed first (the app's own
/// choice): Phial then serves no page and counts no requests; what the
/// extensions record as it happens (query times) goes to that recorder.
pub(crate) fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE.get_or_init(install).as_ref()
}

fn install() -> Option<PrometheusHandle> {
    // Every histogram whose name ends in `_seconds` gets real buckets
    // (Prometheus can aggregate those across nodes; summaries it cannot).
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
        .unwrap_or_else(|_| PrometheusBuilder::new());
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_err() {
        tracing::warn!(
            "another `metrics` recorder is installed: Phial serves no Prometheus page \
             (`metrics.path`) and counts no requests; extensions' query times go to it"
        );
        return None;
    }
    describe();
    let upkeep = handle.clone();
    let spawned = std::thread::Builder::new()
        .name("phial-metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(
            "cannot start the metrics upkeep thread ({e}); histograms drain at each scrape only"
        );
    }
    Some(handle)
}

/// The core's own metrics, described once (the page's `# HELP` lines).
fn describe() {
    metrics::describe_counter!(
        crate::prometheus::requests::REQUESTS,
        "HTTP requests answered, by method, route pattern and status"
    );
    metrics::describe_histogram!(
        crate::prometheus::requests::DURATION,
        metrics::Unit::Seconds,
        "Time from request to response headers, by method, route pattern and status"
    );
}
