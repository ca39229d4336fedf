//! Sign-in as an attacker would try it: a burst from one address is
//! refused before any hashing (429 + Retry-After), the owner still signs in
//! from another address, growing delays instead of a lock, a legitimate
//! crowd behind one address is not held back by its own successes, unknown
//! names cost a hash like known ones, oversized input is refused before any
//! work, and the counts are shared by two nodes on one Redis.

mod common;

use std::time::{Duration, Instant};

use common::{add_member, app, config, reason};
use phial_core::testing::TestClient;

async fn attempt(
    c: &TestClient,
    from: &str,
    name: &str,
    password: &str,
) -> phial_core::testing::TestResponse {
    c.post("/login")
        .from_addr(from)
        .json(&serde_json::json!({"name": name, "password": password}))
        .send()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_is_refused_before_hashing_and_the_owner_still_signs_in() {
    let dir = tempfile::tempdir().unwrap();
    // A first delay longer than the test, so its last check cannot outlast it.
    let app = app(config(dir.path(), None).set("auth.delay_secs", 60)).await;
    add_member(&app, "ada@example.com", "correct horse").await;
    let attacker = app.test_client();
    let burst: Vec<_> = (0..40)
        .map(|i| {
            let c = attacker.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                let res =
                    attempt(&c, "203.0.113.66", "ada@example.com", &format!("guess {i}")).await;
                (
                    res.status(),
                    res.header("retry-after").map(str::to_owned),
                    started.elapsed(),
                )
            })
        })
        .collect();
    let mut refused = 0;
    let mut wrong = 0;
    for task in burst {
        let (status, retry, took) = task.await.unwrap();
        match status.as_u16() {
            429 => {
                refused += 1;
                let secs: u64 = retry.expect("Retry-After on 429").parse().unwrap();
                assert!(secs >= 1);
                assert!(
                    took < Duration::from_millis(500),
                    "refused at once, took {took:?}"
                );
            }
            401 => wrong += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(wrong <= 5, "{wrong} passwords were checked (5 allowed)");
    assert!(refused >= 35, "{refused} of 40 refused before hashing");
    // The owner, from an address with no failures, is let in meanwhile.
    let owner = app.test_client();
    let res = attempt(&owner, "198.51.100.20", "ada@example.com", "correct horse").await;
    assert_eq!(res.status(), 200, "{}", reason(&res));
    // The attacker's next guess waits, even with the right password.
    let res = attempt(
        &attacker,
        "203.0.113.66",
        "ada@example.com",
        "correct horse",
    )
    .await;
    assert_eq!(res.status(), 429, "{}", reason(&res));
}

#[tokio::test]
async fn delays_grow_and_a_crowd_behind_one_address_is_not_held_back_by_its_successes() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(config(dir.path(), None)
        .set("auth.attempts", 2)
        .set("auth.attempts_per_address", 3)
        .set("auth.delay_secs", 1))
    .await;
    for i in 0..6 {
        add_member(&app, &format!("user{i}@example.com"), "right password").await;
    }
    let c = app.test_client();
    // Six people behind one NAT sign in in a row: successes do not add up.
    for i in 0..6 {
        let res = attempt(
            &c,
            "192.0.2.1",
            &format!("user{i}@example.com"),
            "right password",
        )
        .await;
        assert_eq!(res.status(), 200, "user{i}: {}", reason(&res));
    }
    // Failures do: two free for a name, then a 1 s delay, then 2 s.
    for _ in 0..2 {
        assert_eq!(
            attempt(&c, "192.0.2.9", "user0@example.com", "wrong")
                .await
                .status(),
            401
        );
    }
    let first = attempt(&c, "192.0.2.9", "user0@example.com", "wrong").await;
    assert_eq!(first.status(), 429);
    assert_eq!(first.header("retry-after"), Some("1"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        attempt(&c, "192.0.2.9", "user0@example.com", "wrong")
            .await
            .status(),
        401
    );
    let second = attempt(&c, "192.0.2.9", "user0@example.com", "wrong").await;
    assert_eq!(second.status(), 429);
    assert_eq!(second.header("retry-after"), Some("2"), "the delay doubled");
}

#[tokio::test]
async fn unknown_names_cost_a_hash_and_oversized_input_costs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(config(dir.path(), None)
        .set("auth.attempts_per_address", 100)
        .set("auth.attempts", 100))
    .await;
    add_member(&app, "ada@example.com", "correct horse").await;
    let c = app.test_client();
    let time = |name: &'static str, from: &'static str| {
        let c = c.clone();
        async move {
            let started = Instant::now();
            let res = attempt(&c, from, name, "not the password").await;
            assert_eq!(res.status(), 401, "{}", reason(&res));
            started.elapsed()
        }
    };
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..3 {
        known.push(time("ada@example.com", "192.0.2.30").await);
        unknown.push(time("nobody@example.com", "192.0.2.31").await);
    }
    known.sort();
    unknown.sort();
    let (k, u) = (known[1], unknown[1]);
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "MEASURED a wrong password: median {k:?} for a known name, {u:?} for an unknown one"
    );
    assert!(
        u.as_secs_f64() > k.as_secs_f64() * 0.5 && k.as_secs_f64() > u.as_secs_f64() * 0.5,
        "median known {k:?} vs unknown {u:?}: the time must not tell which names exist"
    );
    // A megabyte of password is refused before any hashing.
    let started = Instant::now();
    let res = attempt(&c, "192.0.2.32", "ada@example.com", &"x".repeat(1 << 20)).await;
    assert_eq!(res.status(), 422, "{}", reason(&res));
    assert!(res.text().contains("longer than 1024"), "{}", res.text());
    let refused_in = started.elapsed();
    let _ = writeln!(
        std::io::stderr(),
        "MEASURED a 1 MiB password refused (422) in {refused_in:?}"
    );
    assert!(refused_in < k / 2, "refused in {refused_in:?}");
    let res = attempt(&c, "192.0.2.32", &"n".repeat(300), "x").await;
    assert_eq!(res.status(), 422, "{}", reason(&res));
}

#[tokio::test]
async fn two_nodes_on_one_redis_count_attempts_together() {
    let Some(url) =
        phial_core::testing::service_url("Redis", "PHIAL_TEST_REDIS_URL", "redis://127.0.0.1:6379")
            .await
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("auth-test-{}-{}:", std::process::id(), line!());
    let node = |dir: &std::path::Path| {
        config(dir, None)
            .set("cache.type", "redis")
            .set("cache.urls", [url.clone()])
            .set("cache.key_prefix", prefix.clone())
            .set("auth.attempts", 2)
    };
    // The cache extension is what shares the counters.
    let a = common::app_with_cache(node(dir.path())).await;
    let b = common::app_with_cache(node(dir.path())).await;
    add_member(&a, "ada@example.com", "correct horse").await;
    let (ca, cb) = (a.test_client(), b.test_client());
    assert_eq!(
        attempt(&ca, "203.0.113.7", "ada@example.com", "x")
            .await
            .status(),
        401
    );
    assert_eq!(
        attempt(&cb, "203.0.113.7", "ada@example.com", "y")
            .await
            .status(),
        401
    );
    let third = attempt(&ca, "203.0.113.7", "ada@example.com", "z").await;
    assert_eq!(
        third.status(),
        429,
        "node A knows node B's attempt: {}",
        reason(&third)
    );
}
