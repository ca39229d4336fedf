//! An app that installed its own `metrics` recorder before building Phial
//! keeps it: Phial records into it, serves no page of its own, and the app
//! serves as usual (its own test binary: the recorder is per process).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use phial_core::metrics::{
    Counter, CounterFn, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};
use phial_core::routing::get;
use phial_core::{App, Config};

/// Counts the counters Phial registers with it.
#[derive(Default)]
struct Own(Arc<AtomicU64>);

struct Bump(Arc<AtomicU64>);

impl CounterFn for Bump {
    fn increment(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    fn absolute(&self, n: u64) {
        self.0.store(n, Ordering::Relaxed);
    }
}

impl Recorder for Own {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        if key.name() == "phial_http_requests_total" {
            Counter::from_arc(Arc::new(Bump(self.0.clone())))
        } else {
            Counter::noop()
        }
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

#[tokio::test]
async fn the_apps_own_recorder_is_kept_and_no_page_is_served() {
    let own = Own::default();
    let requests = own.0.clone();
    phial_core::metrics::set_global_recorder(own).expect("the first recorder of this process");
    let app = App::builder(Config::testing())
        .route("/", get(|| async { "home" }))
        .build()
        .await
        .expect("the app builds without its own recorder");
    let client = app.test_client();
    assert_eq!(client.get("/").send().await.text(), "home");
    assert_eq!(client.get("/metrics").send().await.status(), 404);
    assert_eq!(
        requests.load(Ordering::Relaxed),
        0,
        "without Phial's page, nothing is counted on the request path"
    );
}
