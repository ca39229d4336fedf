//! Run with: `cargo run --release -p phial-bench --bin layer-cost`
//!
//! What each of Phial's default layers costs per request, in-process (no
//! sockets, so the figures are stable): hello's `/plaintext` through bare
//! axum, through Phial with every optional layer off, with each one turned
//! on alone, and with the defaults; last, bare axum sending the same
//! headers through tower-http, as a hand-written app would. Prints ns per
//! request and the ratio to bare axum.

#![expect(
    clippy::print_stdout,
    reason = "a benchmark reports on standard output"
)]

use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, Uri};
use phial::{Config, Profile};
use tower::{Service, ServiceExt};

const OFF: [(&str, bool); 6] = [
    ("trace", false),
    ("catch_panics", false),
    ("request_id.enabled", false),
    ("security.enabled", false),
    ("session.enabled", false),
    ("csrf.enabled", false),
];

fn production() -> Config {
    Config::for_profile(Profile::Production).set("secret_key", "b".repeat(48))
}

async fn phial_router(on: &[&str], all_defaults: bool) -> phial::AppService {
    phial_router_with(on, all_defaults, production()).await
}

async fn phial_router_with(
    on: &[&str],
    all_defaults: bool,
    mut config: Config,
) -> phial::AppService {
    if !all_defaults {
        for (key, off) in OFF {
            let enable =
                on.contains(&key) || (key == "csrf.enabled" && on.contains(&"session.enabled"));
            config = config.set(key, if enable { !off } else { off });
        }
    }
    hello::create_app(config)
        .await
        .expect("hello builds")
        .service()
}

/// One stack under test: bare axum or a Phial app (an enum, not a boxed
/// service, so neither pays for a virtual call the other does not).
enum Stack {
    Bare(Router),
    Phial(phial::AppService),
    /// With a log subscriber as production installs it (JSON lines, INFO),
    /// writing to a sink: what the per-request span costs.
    Logged(phial::AppService, tracing::Dispatch),
}

impl Stack {
    async fn ns_per_request(&mut self, n: u32) -> f64 {
        match self {
            Stack::Bare(s) => ns_per_request(s, n).await,
            Stack::Phial(s) => ns_per_request(s, n).await,
            Stack::Logged(s, logs) => {
                // The runtime is current-thread: the default holds for
                // every poll of these requests.
                let _guard = tracing::dispatcher::set_default(logs);
                ns_per_request(s, n).await
            }
        }
    }
}

/// Mean ns per request over `n` requests.
async fn ns_per_request<S>(service: &mut S, n: u32) -> f64
where
    S: Service<
            Request<Body>,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        >,
{
    let start = Instant::now();
    for _ in 0..n {
        // Static URI and header bytes, as cheap to clone as hyper's shared
        // buffer.
        let req = Request::get(Uri::from_static("/plaintext"))
            .header("accept", http::HeaderValue::from_static("*/*"))
            .body(Body::empty())
            .unwrap();
        let res = service.ready().await.unwrap().call(req).await.unwrap();
        std::hint::black_box(res);
    }
    start.elapsed().as_nanos() as f64 / f64::from(n)
}

/// Rounds over every stack in turn, so a slow spell of the machine hits
/// them all alike; each stack's median round is reported.
const ROUNDS: usize = 7;

async fn medians(stacks: &mut [(String, Stack)], n: u32) -> Vec<f64> {
    for (_, stack) in stacks.iter_mut() {
        stack.ns_per_request(n / 10).await; // warm up
    }
    let mut rounds = vec![Vec::with_capacity(ROUNDS); stacks.len()];
    for _ in 0..ROUNDS {
        for (i, (_, stack)) in stacks.iter_mut().enumerate() {
            rounds[i].push(stack.ns_per_request(n).await);
        }
    }
    rounds
        .into_iter()
        .map(|mut r| {
            r.sort_by(f64::total_cmp);
            r[r.len() / 2]
        })
        .collect()
}

fn bare_router() -> Router {
    Router::new().route("/plaintext", get(|| async { "Hello, World!" }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    // `layer-cost N security` profiles one stack alone (for perf or
    // valgrind); `bare`, `off`, `defaults` and `metrics` name the other
    // rows.
    if let Some(only) = std::env::args().nth(2) {
        let mut stack = if only == "bare" {
            Stack::Bare(bare_router())
        } else if only == "metrics" {
            let metered = production().set("metrics.token", "m".repeat(40));
            Stack::Phial(phial_router_with(&[], true, metered).await)
        } else {
            let key = OFF
                .iter()
                .map(|(k, _)| *k)
                .find(|k| k.starts_with(only.as_str()));
            Stack::Phial(match key {
                Some(k) => phial_router(&[k], false).await,
                None => phial_router(&[], only == "defaults").await,
            })
        };
        stack.ns_per_request(n / 10).await;
        println!("{only}: {:.0} ns/req", stack.ns_per_request(n).await);
        return;
    }
    let mut stacks = vec![
        ("bare axum".to_owned(), Stack::Bare(bare_router())),
        (
            "phial, optional layers off".to_owned(),
            Stack::Phial(phial_router(&[], false).await),
        ),
    ];
    for (key, _) in OFF.iter().filter(|(k, _)| *k != "csrf.enabled") {
        let label = if *key == "session.enabled" {
            "+ session.enabled (+ csrf)".to_owned()
        } else {
            format!("+ {key}")
        };
        stacks.push((label, Stack::Phial(phial_router(&[key], false).await)));
    }
    stacks.push((
        "phial defaults".to_owned(),
        Stack::Phial(phial_router(&[], true).await),
    ));
    // Production serves /metrics only with a token (or a bind): set, every
    // request is counted by route and status.
    let metered = production().set("metrics.token", "m".repeat(40));
    stacks.push((
        "phial defaults + metrics".to_owned(),
        Stack::Phial(phial_router_with(&[], true, metered).await),
    ));
    let json = phial::cli::log_subscriber(phial::cli::LogFormat::Json, "info", std::io::sink);
    stacks.push((
        "phial defaults + JSON logs".to_owned(),
        Stack::Logged(phial_router(&[], true).await, tracing::Dispatch::new(json)),
    ));
    stacks.push((
        "axum + same headers (tower-http)".to_owned(),
        Stack::Bare(phial_bench::with_phial_headers(bare_router()).await),
    ));
    let ns = medians(&mut stacks, n).await;
    println!(
        "{n} requests to /plaintext in-process per round, median of {ROUNDS} interleaved rounds"
    );
    println!("{:<34} {:>10} {:>14}", "stack", "ns/req", "axum / stack");
    for ((label, _), ns_i) in stacks.iter().zip(&ns) {
        println!("{label:<34} {ns_i:>10.0} {:>14.3}", ns[0] / ns_i);
    }
}
