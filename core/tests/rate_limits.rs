//! Rate limits as a client sees them: the allowance, then 429 with
//! `Retry-After` and the `RateLimit` headers; per address (behind a trusted
//! proxy, per forwarded address), per blueprint, per user, by method; a
//! rate that does not parse stops the build naming the route.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use phial_core::identity::{Identity, IdentityError, Resolver, SignedIn};
use phial_core::rate_limit::limit;
use phial_core::routing::{get, post};
use phial_core::{App, AppState, Blueprint, ClientAddr, Config, Session};

async fn ok() -> &'static str {
    "ok"
}

async fn whoami(ClientAddr(ip): ClientAddr) -> String {
    ip.to_string()
}

#[tokio::test]
async fn an_address_gets_its_allowance_then_429_with_when_to_come_back() {
    let app = App::builder(Config::testing())
        .route("/send", post(ok).limit(limit("3/minute")))
        .build()
        .await
        .unwrap();
    let c = app.test_client();
    for left in [2, 1, 0] {
        let res = c
            .post("/send")
            .from_addr("198.51.100.1")
            .json(&0)
            .send()
            .await;
        assert_eq!(res.status(), 200, "{}", res.text());
        assert_eq!(res.header("ratelimit-policy"), Some(r#""/send";q=3;w=60"#));
        let state = res.header("ratelimit").unwrap();
        assert!(
            state.starts_with(&format!(r#""/send";r={left};t="#)),
            "{state}"
        );
    }
    let refused = c
        .post("/send")
        .from_addr("198.51.100.1")
        .json(&0)
        .send()
        .await;
    assert_eq!(refused.status(), 429);
    let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=20).contains(&wait), "retry after {wait} s");
    let body: serde_json::Value = refused.json();
    assert!(
        body.to_string().contains("at most 3 per minute"),
        "the reason names the limit: {body}"
    );
    // Another client is not held back.
    let other = c
        .post("/send")
        .from_addr("198.51.100.2")
        .json(&0)
        .send()
        .await;
    assert_eq!(other.status(), 200);
    // IPv6 clients count by their /64.
    for i in 0..3 {
        let res = c
            .post("/send")
            .from_addr(&format!("2001:db8:1:2::{i}"))
            .json(&0)
            .send()
            .await;
        assert_eq!(res.status(), 200);
    }
    let same_net = c
        .post("/send")
        .from_addr("2001:db8:1:2::99")
        .json(&0)
        .send()
        .await;
    assert_eq!(same_net.status(), 429, "one /64 is one client");
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_allowance() {
    let app = App::builder(Config::testing().set("server.trusted_proxies", ["10.0.0.0/8"]))
        .route("/send", post(ok).limit(limit("1/minute")))
        .route("/whoami", get(whoami))
        .build()
        .await
        .unwrap();
    let c = app.test_client();
    let via = |client: &'static str| {
        c.post("/send")
            .from_addr("10.0.0.5")
            .header("x-forwarded-for", client)
            .json(&0)
    };
    assert_eq!(via("203.0.113.1").send().await.status(), 200);
    assert_eq!(via("203.0.113.1").send().await.status(), 429);
    assert_eq!(
        via("203.0.113.2").send().await.status(),
        200,
        "another client behind the same proxy is not locked out"
    );
    // A client that writes the header itself, not through the proxy, is
    // its own address.
    let forged = c
        .get("/whoami")
        .from_addr("192.0.2.7")
        .header("x-forwarded-for", "203.0.113.2")
        .send()
        .await;
    assert_eq!(forged.text(), "192.0.2.7");
    let proxied = c
        .get("/whoami")
        .from_addr("10.0.0.5")
        .header("x-forwarded-for", "6.6.6.6, 203.0.113.9")
        .send()
        .await;
    assert_eq!(proxied.text(), "203.0.113.9", "the hop the proxy added");
}

#[tokio::test]
async fn a_blueprint_shares_one_allowance_and_methods_narrow_what_counts() {
    let bp = Blueprint::new("api")
        .url_prefix("/api")
        .route("/a", get(ok))
        .route("/b", get(ok))
        .limit(limit("2/minute"));
    let app = App::builder(Config::testing())
        .blueprint(bp)
        .route(
            "/form",
            get(ok)
                .post(ok)
                .limit(limit("1/minute").methods([http::Method::POST])),
        )
        .build()
        .await
        .unwrap();
    let c = app.test_client();
    assert_eq!(c.get("/api/a").send().await.status(), 200);
    assert_eq!(c.get("/api/b").send().await.status(), 200);
    assert_eq!(c.get("/api/a").send().await.status(), 429);
    for _ in 0..5 {
        assert_eq!(
            c.get("/form").send().await.status(),
            200,
            "GET is not counted"
        );
    }
    // The limit is counted before the CSRF check (the cheaper refusal
    // first): a POST without a token is a 403, and counts.
    let first = c.post("/form").send().await;
    assert_eq!(first.status(), 403, "{}", first.text());
    let second = c.post("/form").send().await;
    assert_eq!(second.status(), 429, "{}", second.text());
}

/// A resolver that signs in whoever sends `x-user`.
struct HeaderUsers;

impl Resolver for HeaderUsers {
    fn resolve<'a>(
        &'a self,
        _app: &'a AppState,
        session: &'a Session,
    ) -> BoxFuture<'a, Result<Identity, IdentityError>> {
        let user: Option<String> = session.get("user");
        Box::pin(async move {
            Ok(match user {
                Some(u) => Identity::new(vec![SignedIn::new("user".into(), u.clone(), u, "-", 0)]),
                None => Identity::anonymous(),
            })
        })
    }

    fn refers(&self, session: &Session) -> bool {
        session.contains("user")
    }
}

#[tokio::test]
async fn by_user_counts_each_signed_in_user_apart_whatever_their_address() {
    let app = App::builder(Config::testing())
        .insert::<Arc<dyn Resolver>>(Arc::new(HeaderUsers))
        .route(
            "/as/{name}",
            get(|session: Session, axum::extract::Path(name): axum::extract::Path<String>| async move {
                session.insert("user", name).unwrap();
                "signed in"
            }),
        )
        .route("/post", get(ok).limit(limit("1/minute").by_user()))
        .build()
        .await
        .unwrap();
    let ada = app.test_client();
    ada.get("/as/ada").send().await;
    let bob = app.test_client();
    bob.get("/as/bob").send().await;
    assert_eq!(ada.get("/post").send().await.status(), 200);
    assert_eq!(ada.get("/post").send().await.status(), 429);
    assert_eq!(
        bob.get("/post").send().await.status(),
        200,
        "same address, another user"
    );
    assert_eq!(
        ada.get("/post")
            .from_addr("192.0.2.50")
            .send()
            .await
            .status(),
        429,
        "a new address does not reset a user's allowance"
    );
}

#[tokio::test]
async fn a_rate_that_does_not_parse_stops_the_build_naming_the_route() {
    let err = App::builder(Config::testing())
        .route("/send", post(ok).limit(limit("ten a minute")))
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("/send") && err.contains("`ten a minute` is not a rate"),
        "{err}"
    );
    let err = App::builder(Config::testing().set("server.trusted_proxies", ["proxy.lan"]))
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("server.trusted_proxies[0]"), "{err}");
}
