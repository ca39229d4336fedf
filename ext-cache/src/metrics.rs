//! The cache's part of `/metrics`, read from its counters at each scrape:
//! hits per tier (the tiered backend's in-process `l1` and shared `l2`,
//! else the backend's own name), misses, errors, dropped writes, loads and
//! waits, and for the tiered backend whether it hears other nodes'
//! invalidations, whether it trusts its memory (and how often it stopped)
//! and how many invalidations it still owes them.

use phial_core::metrics::{counter, gauge};

use crate::Cache;

/// Sets every figure from `cache` (counters are absolute: the cache
/// counts since the start, so a scrape reads them as they are).
pub(crate) fn collect(cache: &Cache) {
    let backend = cache.kind();
    let stats = cache.stats();
    let figures = cache.metrics();
    let figures = &figures["backend_figures"];
    match (figures["l1_hits"].as_u64(), figures["l2_hits"].as_u64()) {
        (Some(l1), Some(l2)) => {
            counter!("phial_cache_hits_total", "backend" => backend, "tier" => "l1").absolute(l1);
            counter!("phial_cache_hits_total", "backend" => backend, "tier" => "l2").absolute(l2);
        }
        _ => {
            counter!("phial_cache_hits_total", "backend" => backend, "tier" => backend)
                .absolute(stats.hits);
        }
    }
    counter!("phial_cache_misses_total", "backend" => backend).absolute(stats.misses);
    counter!("phial_cache_errors_total", "backend" => backend).absolute(stats.errors);
    counter!("phial_cache_dropped_writes_total", "backend" => backend)
        .absolute(stats.dropped_writes);
    counter!("phial_cache_loads_total", "backend" => backend).absolute(stats.loads);
    counter!("phial_cache_load_waits_total", "backend" => backend).absolute(stats.waits);
    if let Some(pending) = figures["pending_invalidations"].as_u64() {
        gauge!("phial_cache_pending_invalidations").set(pending as f64);
    }
    if let Some(live) = figures["subscribed"].as_bool() {
        gauge!("phial_cache_invalidation_subscribed").set(if live { 1.0 } else { 0.0 });
    }
    if let Some(coherent) = figures["coherent"].as_bool() {
        gauge!("phial_cache_memory_trusted").set(if coherent { 1.0 } else { 0.0 });
    }
    if let Some(lapses) = figures["coherence_lapses"].as_u64() {
        counter!("phial_cache_coherence_lapses_total").absolute(lapses);
    }
}

/// Describes the figures once, for the page's `# HELP` lines.
pub(crate) fn describe() {
    use phial_core::metrics::{describe_counter, describe_gauge};
    describe_counter!(
        "phial_cache_hits_total",
        "Reads that found a value, by tier (l1 in-process, l2 shared)"
    );
    describe_counter!(
        "phial_cache_misses_total",
        "Reads that found nothing (or a stale tagged value)"
    );
    describe_counter!(
        "phial_cache_errors_total",
        "Backend errors; the cache failed open and the app went on"
    );
    describe_counter!(
        "phial_cache_dropped_writes_total",
        "Writes dropped because the backend failed"
    );
    describe_counter!(
        "phial_cache_loads_total",
        "Loads run by get_or_set_with and memoize"
    );
    describe_counter!(
        "phial_cache_load_waits_total",
        "Calls that waited for a load of the same key instead of loading"
    );
    describe_gauge!(
        "phial_cache_pending_invalidations",
        "Invalidations this node still owes the others (Redis was away)"
    );
    describe_gauge!(
        "phial_cache_invalidation_subscribed",
        "1 while this node hears other nodes' invalidations, else 0"
    );
}
