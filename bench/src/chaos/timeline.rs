//! The run as a picture (Jepsen's reports show theirs so): read latency
//! and stale-read lag over time, each fault's window shaded and labelled.

use super::history::History;
use super::report::stale_lags;
use super::{BOUND, GRACE};

/// The run as a picture: read latency (grey) and stale-read lag (red)
/// over time, each fault's window shaded and labelled.
pub(crate) fn timeline(h: &History) -> String {
    let end = h.reads.iter().map(|r| r.ended).fold(1.0, f64::max);
    let (w, ht, left, top) = (1000.0, 360.0, 50.0, 20.0);
    let plot_h = ht - top - 40.0;
    let max_ms = 1000.0_f64;
    let x = |t: f64| left + (t / end) * (w - left - 10.0);
    let y = |ms: f64| top + plot_h - (ms.min(max_ms) / max_ms) * plot_h;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {ht}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <rect width=\"{w}\" height=\"{ht}\" fill=\"white\"/>\n"
    );
    for (kind, b, e) in &h.faults {
        let (x0, x1) = (x(*b), x(e + GRACE.as_secs_f64() * 1000.0).min(w - 10.0));
        svg.push_str(&format!(
            "<rect x=\"{x0:.1}\" y=\"{top}\" width=\"{:.1}\" height=\"{plot_h}\" fill=\"#f6d7a7\" opacity=\"0.6\"/>\
             <text x=\"{x0:.1}\" y=\"{:.1}\" transform=\"rotate(-90 {x0:.1} {:.1})\" fill=\"#8a5a00\">{kind}</text>\n",
            (x1 - x0).max(1.0),
            top + 60.0,
            top + 60.0
        ));
    }
    let step = (h.reads.len() / 4000).max(1);
    for r in h.reads.iter().step_by(step) {
        svg.push_str(&format!(
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"1\" fill=\"#999\"/>",
            x(r.began),
            y(r.ended - r.began)
        ));
    }
    let lags = stale_lags(h);
    let step = (lags.len() / 2000).max(1);
    for (at, lag) in lags.into_iter().step_by(step) {
        svg.push_str(&format!(
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"#c0392b\"/>",
            x(at),
            y(lag)
        ));
    }
    let bound_y = y(BOUND.as_secs_f64() * 1000.0);
    svg.push_str(&format!(
        "\n<line x1=\"{left}\" x2=\"{}\" y1=\"{bound_y:.1}\" y2=\"{bound_y:.1}\" stroke=\"#c0392b\" stroke-dasharray=\"4 3\"/>\
         <text x=\"{}\" y=\"{:.1}\" fill=\"#c0392b\">bound 250 ms</text>\n\
         <line x1=\"{left}\" x2=\"{left}\" y1=\"{top}\" y2=\"{}\" stroke=\"black\"/>\
         <line x1=\"{left}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"black\"/>\
         <text x=\"5\" y=\"{}\">1 s</text><text x=\"5\" y=\"{}\">0</text>\
         <text x=\"{}\" y=\"{}\">{:.0} s</text>\
         <text x=\"{left}\" y=\"{}\">grey: read latency · red: stale reads by lag · shaded: fault windows (+{} s)</text>\n</svg>\n",
        w - 10.0,
        w - 110.0,
        bound_y - 4.0,
        top + plot_h,
        w - 10.0,
        top + plot_h,
        top + plot_h,
        top + 10.0,
        top + plot_h,
        w - 40.0,
        top + plot_h + 15.0,
        end / 1000.0,
        ht - 8.0,
        GRACE.as_secs()
    ));
    svg
}
