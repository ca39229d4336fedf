//! The builder's metrics collectors: figures read when the metrics page is
//! scraped.

use std::sync::Arc;

use super::AppBuilder;
use crate::prometheus::endpoint::CollectFn;
use crate::state::AppState;

impl AppBuilder {
    /// Runs `collect` before each scrape of the metrics page, to set
    /// figures that are read rather than counted (gauges): a pool's open
    /// connections, the rooms open, the migrations pending. It records
    /// through the `metrics` facade ([`crate::metrics`]); a collector that
    /// takes more than two seconds is left out of that scrape.
    ///
    /// ```
    /// # fn doc(app: &mut phial_core::AppBuilder) {
    /// #[derive(Clone)]
    /// struct Queue(std::sync::Arc<std::sync::atomic::AtomicUsize>);
    /// app.metrics_collector(|state| async move {
    ///     if let Some(queue) = state.get::<Queue>() {
    ///         let waiting = queue.0.load(std::sync::atomic::Ordering::Relaxed);
    ///         phial_core::metrics::gauge!("jobs_waiting").set(waiting as f64);
    ///     }
    /// });
    /// # }
    /// ```
    pub fn metrics_collector<F, Fut>(&mut self, collect: F) -> &mut Self
    where
        F: Fn(AppState) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let collect: CollectFn = Arc::new(move |state| Box::pin(collect(state)));
        self.metrics_collectors
            .push((self.current.clone(), collect));
        self
    }
}
