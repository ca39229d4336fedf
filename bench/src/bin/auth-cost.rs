//! Run with: `cargo run --release -p phial-bench --bin auth-cost [N] [REDIS_URL]`
//!
//! What sign-ins and rate limits cost per request, in-process (no sockets,
//! so the figures are stable; the server's work only): an anonymous page in
//! an app without `phial::auth` (the baseline) and with it (a visitor must
//! pay nothing), a signed-in request whose sign-in is checked in the
//! memory store and in Redis (one round trip for the record and the
//! user's epoch; the user is loaded by a loader over memory, so a database
//! query is not counted), and a route under `limit(..)` counting in memory
//! and in Redis. Prints ns per request and the ratio to the baseline; the
//! Redis rows are left out when Redis does not answer.

#![expect(
    clippy::print_stdout,
    reason = "a benchmark reports on standard output"
)]

use std::time::Instant;

use axum::body::Body;
use http::Request;
use phial::auth::{Accounts, Auth, AuthUser, CurrentUser, Remember};
use phial::prelude::*;
use tower::{Service, ServiceExt};

#[derive(Clone)]
struct Member {
    hash: String,
}

impl AuthUser for Member {
    fn auth_id(&self) -> String {
        "1".into()
    }
    fn display_name(&self) -> String {
        "member".into()
    }
    fn password_hash(&self) -> &str {
        &self.hash
    }
}

/// The app, with sign-ins and counters in Redis at `redis` when given
/// (the cache extension on it), else in memory.
async fn app(auth: bool, redis: Option<&str>, hash: &str) -> App {
    let member = Member {
        hash: hash.to_owned(),
    };
    let found = member.clone();
    let mut config = Config::for_profile(Profile::Production).set("secret_key", "b".repeat(48));
    config = match redis {
        Some(url) => config
            .set("cache.type", "redis")
            .set("cache.urls", [url])
            .set(
                "cache.key_prefix",
                format!("auth-cost-{}:", std::process::id()),
            )
            .set("session.store", "cache"),
        None => config.set("session.store", "memory"),
    };
    let mut b = App::builder(config);
    if redis.is_some() {
        b.register(phial::cache::Caching::new());
    }
    b.route("/page", get(|| async { "Hello, World!" })).route(
        "/limited",
        get(|| async { "Hello, World!" }).limit(limit("1000000000/second")),
    );
    if auth {
        b.register(
            Auth::with_loader(move |_app, id: String| {
                let m = member.clone();
                async move { Ok((id == "1").then_some(m)) }
            })
            .finder(move |_app, _name: String| {
                let m = found.clone();
                async move { Ok(Some(m)) }
            }),
        )
        .route(
            "/me",
            get(|CurrentUser(m): CurrentUser<Member>| async move { m.display_name() }),
        )
        .route(
            "/login",
            post(|a: Accounts<Member>, s: Session| async move {
                let m = a.verify_password("member", "password").await?;
                a.login(&s, &m, Remember::No).await?;
                Ok::<_, HttpError>("in")
            }),
        );
    }
    b.build().await.expect("the app builds")
}

/// The session cookie of a signed-in member.
async fn signed_in(app: &App) -> String {
    let c = app.test_client();
    let res = c.post("/login").json(&0).send().await;
    assert_eq!(res.status(), 200, "{}", res.text());
    format!("session={}", c.cookie("session").expect("a session"))
}

/// Mean ns per request over `n` requests to `path` with `cookie`.
async fn ns_per_request(app: &App, path: &'static str, cookie: Option<&str>, n: u32) -> f64 {
    let mut service = app.service();
    let cookie = cookie.map(|c| http::HeaderValue::from_str(c).unwrap());
    let start = Instant::now();
    for _ in 0..n {
        let mut req = Request::get(path).body(Body::empty()).unwrap();
        if let Some(c) = &cookie {
            req.headers_mut().insert(http::header::COOKIE, c.clone());
        }
        let res = service.ready().await.unwrap().call(req).await.unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.status());
        std::hint::black_box(res);
    }
    start.elapsed().as_nanos() as f64 / f64::from(n)
}

const ROUNDS: usize = 7;

struct Row {
    label: String,
    app: App,
    path: &'static str,
    cookie: Option<String>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let redis = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "redis://127.0.0.1:6379".into());
    let hash = phial::password::hash("password").await.unwrap();
    let mut rows = vec![
        Row {
            label: "anonymous page, no auth (baseline)".into(),
            app: app(false, None, &hash).await,
            path: "/page",
            cookie: None,
        },
        Row {
            label: "anonymous page, auth registered".into(),
            app: app(true, None, &hash).await,
            path: "/page",
            cookie: None,
        },
    ];
    let member = app(true, None, &hash).await;
    let cookie = signed_in(&member).await;
    rows.push(Row {
        label: "signed in, CurrentUser, memory store".into(),
        app: member,
        path: "/me",
        cookie: Some(cookie),
    });
    rows.push(Row {
        label: "limit(..), memory counters".into(),
        app: app(false, None, &hash).await,
        path: "/limited",
        cookie: None,
    });
    let probe = app(true, Some(&redis), &hash).await;
    if probe
        .test_client()
        .post("/login")
        .json(&0)
        .send()
        .await
        .status()
        == 200
    {
        let cookie = signed_in(&probe).await;
        rows.push(Row {
            label: "signed in, CurrentUser, Redis store".into(),
            app: probe,
            path: "/me",
            cookie: Some(cookie),
        });
        rows.push(Row {
            label: "limit(..), Redis counters".into(),
            app: app(false, Some(&redis), &hash).await,
            path: "/limited",
            cookie: None,
        });
    } else {
        println!("(Redis at {redis} does not answer: its rows are left out)");
    }
    for r in &rows {
        ns_per_request(&r.app, r.path, r.cookie.as_deref(), n / 10).await;
    }
    let mut samples = vec![Vec::new(); rows.len()];
    for _ in 0..ROUNDS {
        for (i, r) in rows.iter().enumerate() {
            samples[i].push(ns_per_request(&r.app, r.path, r.cookie.as_deref(), n).await);
        }
    }
    let medians: Vec<f64> = samples
        .into_iter()
        .map(|mut s| {
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        })
        .collect();
    println!("{n} requests per round in-process, median of {ROUNDS} interleaved rounds");
    for (r, ns) in rows.iter().zip(&medians) {
        println!(
            "{:<40} {:>9.0} ns/req  {:>5.2}x baseline",
            r.label,
            ns,
            ns / medians[0]
        );
    }
}
