//! The checks over a run's history, as a Markdown table: stale reads by
//! lag, read-your-writes violations, lost writes, failed requests inside
//! and outside fault windows (and through nginx during rolling restarts),
//! socket events lost or duplicated, recovery after each fault.

use std::collections::HashMap;

use super::history::{Failure, History, Read, Via};
use super::{BOUND, GRACE};

pub(crate) struct Report {
    pub(crate) markdown: String,
    pub(crate) held: bool,
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Whether `at` falls in a fault's window (its span and the grace after).
pub(crate) fn in_window(faults: &[(String, f64, f64)], at: f64) -> bool {
    faults
        .iter()
        .any(|(_, b, e)| at >= *b && at <= e + ms(GRACE))
}

/// The fault whose window `at` falls in (the latest begun).
fn window_of(faults: &[(String, f64, f64)], at: f64) -> Option<&str> {
    faults
        .iter()
        .rev()
        .find(|(_, b, e)| at >= *b && at <= e + ms(GRACE))
        .map(|(k, _, _)| k.as_str())
}

/// Failed requests inside fault windows, by fault kind: what failed and
/// how (`read 503 ×12`), so a reader sees what each fault costs.
fn failures_by_fault(h: &History) -> Vec<String> {
    let mut by: std::collections::BTreeMap<(&str, &str, u16), usize> = Default::default();
    for f in &h.failures {
        if let Some(kind) = window_of(&h.faults, f.at) {
            *by.entry((kind, f.what, f.status)).or_default() += 1;
        }
    }
    let mut lines: Vec<String> = Vec::new();
    let mut last = "";
    for ((kind, what, status), n) in by {
        let status = if status == 0 {
            "no answer".to_owned()
        } else {
            status.to_string()
        };
        if kind != last {
            lines.push(format!("{kind}:"));
            last = kind;
        }
        if let Some(line) = lines.last_mut() {
            line.push_str(&format!(" {what} {status} ×{n};"));
        }
    }
    lines
}

fn in_rolling_restart(faults: &[(String, f64, f64)], at: f64) -> bool {
    faults
        .iter()
        .any(|(k, b, e)| k == "rolling-restart" && at >= *b && at <= *e)
}

/// Stale reads: a read that began after version v was acknowledged and
/// returned an older one, by how long the value it returned had been
/// replaced (the acknowledgement of the version after it): (began, lag).
pub(crate) fn stale_lags(h: &History) -> Vec<(f64, f64)> {
    stale_reads(h)
        .into_iter()
        .map(|(r, lag)| (r.began, lag))
        .collect()
}

/// Each stale read with its lag.
fn stale_reads(h: &History) -> Vec<(&Read, f64)> {
    let mut out = Vec::new();
    for r in &h.reads {
        let Some(acks) = h.acks.get(&r.post) else {
            continue;
        };
        if let Some((_, replaced_at)) = acks
            .iter()
            .find(|(v, at)| *v == r.version + 1 && *at <= r.began)
        {
            out.push((r, r.began - replaced_at));
        }
    }
    out
}

/// What the watchers got.
struct SocketEvents {
    delivered: usize,
    /// Missed by a watcher that was away (reconnecting) and came back:
    /// during rolling restarts (the room log's replay must cover them),
    /// and during other faults.
    missed_in_rolling: Vec<String>,
    missed_away_inside: usize,
    lost_outside: Vec<String>,
    lost_inside: usize,
    duplicated_outside: Vec<String>,
    duplicated_inside: usize,
}

/// Socket events: for each watcher and comment, whether the watcher was
/// in the room from before the comment was sent until a second after it
/// was acknowledged; such a comment it did not get is lost. A comment
/// that arrived again is a duplicate, inside a fault window or not by
/// when it arrived again.
fn socket_events(h: &History, end: f64) -> SocketEvents {
    const DELIVERY: f64 = 1000.0;
    let mut out = SocketEvents {
        delivered: 0,
        missed_in_rolling: Vec::new(),
        missed_away_inside: 0,
        lost_outside: Vec::new(),
        lost_inside: 0,
        duplicated_outside: Vec::new(),
        duplicated_inside: 0,
    };
    for (i, w) in h.watchers.iter().enumerate() {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for (name, at) in &w.received {
            let seen = counts.entry(name.as_str()).or_default();
            *seen += 1;
            if *seen == 1 {
                continue;
            }
            if in_window(&h.faults, *at) {
                out.duplicated_inside += 1;
            } else {
                out.duplicated_outside.push(format!(
                    "watcher {} got comment {name} again at {at:.0} ms",
                    i + 1
                ));
            }
        }
        let first_join = w.joined.first().map_or(f64::INFINITY, |(j, _)| *j);
        for c in &h.comments {
            let due = c.acked + DELIVERY;
            if due > end || c.sent < first_join {
                continue;
            }
            let stayed = w
                .joined
                .iter()
                .any(|(j, l)| *j <= c.sent && l.is_none_or(|l| l >= due));
            // Away when it was sent, and in the room again after it: the
            // replay of the room log must have brought it.
            let came_back = w.joined.iter().any(|(_, l)| l.is_none_or(|l| l >= due));
            if !stayed && !came_back {
                continue;
            }
            let name = c.name.as_str();
            if counts.contains_key(name) {
                out.delivered += 1;
                continue;
            }
            let how = if stayed {
                "stayed in the room and missed"
            } else {
                "came back and was not given"
            };
            let line = format!(
                "watcher {} {how} comment {name} (acknowledged at {:.0} ms)",
                i + 1,
                c.acked
            );
            if !stayed && in_rolling_restart(&h.faults, c.acked) {
                out.missed_in_rolling.push(line);
            } else if !in_window(&h.faults, c.acked) {
                out.lost_outside.push(line);
            } else if stayed {
                out.lost_inside += 1;
            } else {
                out.missed_away_inside += 1;
            }
        }
    }
    out
}

pub(crate) fn check(h: &History, final_titles: &HashMap<i64, u64>, end: f64) -> Report {
    let lags = stale_lags(h);
    let bound = ms(BOUND);
    let bucket = |lo: f64, hi: f64| lags.iter().filter(|(_, l)| *l > lo && *l <= hi).count();
    let beyond = lags.iter().filter(|(_, l)| *l > bound).count();
    let mut quiet_lags: Vec<f64> = lags
        .iter()
        .filter(|(at, _)| !in_window(&h.faults, *at))
        .map(|(_, l)| *l)
        .collect();
    quiet_lags.sort_by(f64::total_cmp);
    let reads_quiet = h
        .reads
        .iter()
        .filter(|r| !in_window(&h.faults, r.began))
        .count()
        .max(1);
    // The p99 over every read outside fault windows (fresh reads lag 0).
    let p99_quiet = {
        let fresh = reads_quiet.saturating_sub(quiet_lags.len());
        let rank = (reads_quiet as f64 * 0.99).ceil() as usize;
        if rank <= fresh {
            0.0
        } else {
            quiet_lags.get(rank - fresh - 1).copied().unwrap_or(0.0)
        }
    };
    let (inside, outside): (Vec<&Failure>, Vec<&Failure>) =
        h.failures.iter().partition(|f| in_window(&h.faults, f.at));
    let server_errors_outside = outside.iter().filter(|f| f.status >= 500).count();
    let front_failed_in_rolling: Vec<_> = h
        .failures
        .iter()
        .filter(|f| f.via == Via::Front && in_rolling_restart(&h.faults, f.at))
        .collect();
    let lost: Vec<String> = h
        .acks
        .iter()
        .filter_map(|(post, acks)| {
            let last = acks.iter().map(|(v, _)| *v).max()?;
            let now = final_titles.get(post).copied().unwrap_or(0);
            (now < last).then(|| format!("post {post}: v{last} acknowledged, v{now} stored"))
        })
        .collect();
    let events = socket_events(h, end);
    let rolling: Vec<(f64, f64)> = h
        .faults
        .iter()
        .filter(|(k, _, _)| k == "rolling-restart")
        .map(|(_, b, e)| (*b, *e))
        .collect();
    let back_after_rolling = h
        .watchers
        .iter()
        .flat_map(|w| &w.reconnects)
        .filter(|(at, _)| rolling.iter().any(|(b, e)| at >= b && at <= e))
        .map(|(_, took)| *took)
        .fold(0.0, f64::max);
    // Recovery: from each fault's end to the first write acknowledged after it.
    let recoveries: Vec<String> = h
        .faults
        .iter()
        .map(|(kind, _, ended)| {
            let first = h
                .acks
                .values()
                .flatten()
                .map(|(_, at)| *at)
                .filter(|at| at >= ended)
                .fold(f64::INFINITY, f64::min);
            format!("{kind} {:.0} ms", first - ended)
        })
        .collect();
    let writes: usize = h.acks.values().map(Vec::len).sum();
    let mut kinds: HashMap<&str, usize> = HashMap::new();
    for (k, _, _) in &h.faults {
        *kinds.entry(k.as_str()).or_default() += 1;
    }
    let mut kinds: Vec<_> = kinds.into_iter().collect();
    kinds.sort();
    let held = beyond == 0
        && h.ryw_violations.is_empty()
        && lost.is_empty()
        && server_errors_outside == 0
        && front_failed_in_rolling.is_empty()
        && events.lost_outside.is_empty()
        && events.missed_in_rolling.is_empty()
        && events.duplicated_outside.is_empty();
    let page_reads = h.reads.iter().filter(|r| r.page).count();
    let mut md = String::new();
    md.push_str("| measure | value |\n|---|---:|\n");
    let kinds_text: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
    for (name, value) in [
        ("faults", kinds_text.join(", ")),
        ("writes acknowledged", writes.to_string()),
        ("writes refused (503, nothing saved)", h.refused.to_string()),
        (
            "reads (API on the nodes / the cached index through nginx)",
            format!("{} / {page_reads}", h.reads.len() - page_reads),
        ),
        (
            "comments posted through the page's form",
            h.comments.len().to_string(),
        ),
        (
            "failed requests inside fault windows (5xx, 4xx or connection)",
            inside.len().to_string(),
        ),
        (
            "failed requests outside fault windows",
            outside.len().to_string(),
        ),
        (
            "5xx outside fault windows",
            server_errors_outside.to_string(),
        ),
        (
            "failed requests through nginx during rolling restarts",
            front_failed_in_rolling.len().to_string(),
        ),
        (
            "stale reads ≤ 250 ms behind (within the bound)",
            bucket(0.0, bound).to_string(),
        ),
        (
            "stale reads 250 ms – 1 s behind",
            bucket(bound, 1000.0).to_string(),
        ),
        (
            "stale reads > 1 s behind",
            bucket(1000.0, f64::INFINITY).to_string(),
        ),
        (
            "p99 lag of reads outside fault windows",
            format!("{p99_quiet:.1} ms"),
        ),
        (
            "read-your-writes violations",
            h.ryw_violations.len().to_string(),
        ),
        ("lost acknowledged writes", lost.len().to_string()),
        (
            "socket events delivered (live, or replayed after a reconnect)",
            events.delivered.to_string(),
        ),
        (
            "socket events lost, outside / inside fault windows",
            format!("{} / {}", events.lost_outside.len(), events.lost_inside),
        ),
        (
            "socket events missed across a reconnect, rolling restarts / other faults",
            format!(
                "{} / {}",
                events.missed_in_rolling.len(),
                events.missed_away_inside
            ),
        ),
        (
            "socket events duplicated, outside / inside fault windows",
            format!(
                "{} / {}",
                events.duplicated_outside.len(),
                events.duplicated_inside
            ),
        ),
        (
            "watchers back in the room after a rolling restart's disconnect (slowest)",
            format!("{back_after_rolling:.0} ms"),
        ),
        (
            "recovery (fault end → next write acknowledged)",
            recoveries.join(", "),
        ),
    ] {
        md.push_str(&format!("| {name} | {value} |\n"));
    }
    let failure_lines: Vec<String> = outside
        .iter()
        .chain(&front_failed_in_rolling)
        .take(10)
        .map(|f| {
            let status = if f.status == 0 {
                "connection failed".to_owned()
            } else {
                f.status.to_string()
            };
            let via = match f.via {
                Via::Node => "on a node",
                Via::Front => "through nginx",
            };
            format!("a {} {via} at {:.1} s: {status}", f.what, f.at / 1000.0)
        })
        .collect();
    for line in h
        .ryw_violations
        .iter()
        .chain(&lost)
        .chain(&events.lost_outside)
        .chain(&events.duplicated_outside)
        .chain(&events.missed_in_rolling)
        .take(20)
        .chain(&failure_lines)
    {
        md.push_str(&format!("\n- {line}"));
    }
    let beyond_lines: Vec<String> = stale_reads(h)
        .into_iter()
        .filter(|(_, lag)| *lag > bound)
        .take(10)
        .map(|(r, lag)| {
            let from = if r.node == 0 {
                "the index through nginx".to_owned()
            } else {
                format!("the API on node {}", r.node)
            };
            format!(
                "stale beyond the bound: post {} v{} read at {:.0} ms from {from}, {lag:.0} ms behind (during {})",
                r.post,
                r.version,
                r.began,
                window_of(&h.faults, r.began).unwrap_or("no fault")
            )
        })
        .collect();
    for line in &beyond_lines {
        md.push_str(&format!("\n- {line}"));
    }
    let by_fault = failures_by_fault(h);
    if !by_fault.is_empty() {
        md.push_str("\n\nFailed requests inside fault windows, by fault:\n");
        for line in by_fault {
            md.push_str(&format!("\n- {}", line.trim_end_matches(';')));
        }
    }
    md.push_str(if held {
        "\n\nEvery guarantee held.\n"
    } else {
        "\n\nA GUARANTEE BROKE (stale beyond the bound, read-your-writes, lost writes, 5xx outside faults, a failed request through nginx during a rolling restart, a socket event lost or duplicated outside faults, or one a client back from a rolling restart was not given).\n"
    });
    Report { markdown: md, held }
}
