//! Run with: `cargo run --release -p phial-bench --bin layer-cost`
//!
//! What each of Phial's default layers costs per request, in-process (no
//! sockets, so the figures are stable): hello's `/plaintext` through bare
//! axum, through Phial with every optional layer off, with each one turned
//! on alone, and with the defaults. Prints ns per request and the ratio to
//! bare axum.

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
    let mut config = production();
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

async fn ns_per_request<S>(mut service: S, n: u32) -> f64
where
    S: Service<
            Request<Body>,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        >,
{
    let mut run = async |count: u32| {
        let start = Instant::now();
        for _ in 0..count {
            // Static URI bytes, as cheap to clone as hyper's shared buffer.
            let req = Request::get(Uri::from_static("/plaintext"))
                .header("accept", "*/*")
                .body(Body::empty())
                .unwrap();
            let res = service.ready().await.unwrap().call(req).await.unwrap();
            std::hint::black_box(res);
        }
        start.elapsed().as_nanos() as f64 / f64::from(count)
    };
    run(n / 10).await;
    let mut best = f64::MAX;
    for _ in 0..5 {
        best = best.min(run(n).await);
    }
    best
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
    // `layer-cost N security` profiles one stack alone (for perf);
    // `bare`, `off` and `defaults` name the other rows.
    if let Some(only) = std::env::args().nth(2) {
        if only == "bare" {
            let ns = ns_per_request(bare_router(), n).await;
            println!("bare: {ns:.0} ns/req");
            return;
        }
        let key = OFF
            .iter()
            .map(|(k, _)| *k)
            .find(|k| k.starts_with(only.as_str()));
        let router = match key {
            Some(k) => phial_router(&[k], false).await,
            None => phial_router(&[], only == "defaults").await,
        };
        println!("{only}: {:.0} ns/req", ns_per_request(router, n).await);
        return;
    }
    let base = ns_per_request(bare_router(), n).await;
    let mut rows = vec![("bare axum".to_owned(), base)];
    rows.push((
        "phial, optional layers off".into(),
        ns_per_request(phial_router(&[], false).await, n).await,
    ));
    for (key, _) in OFF.iter().filter(|(k, _)| *k != "csrf.enabled") {
        let label = if *key == "session.enabled" {
            "+ session.enabled (+ csrf)".to_owned()
        } else {
            format!("+ {key}")
        };
        rows.push((
            label,
            ns_per_request(phial_router(&[key], false).await, n).await,
        ));
    }
    rows.push((
        "phial defaults".into(),
        ns_per_request(phial_router(&[], true).await, n).await,
    ));
    println!("{n} requests to /plaintext in-process, best of 5 runs");
    println!("{:<30} {:>10} {:>14}", "stack", "ns/req", "axum / stack");
    for (label, ns) in rows {
        println!("{label:<30} {ns:>10.0} {:>14.3}", base / ns);
    }
}
