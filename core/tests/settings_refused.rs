//! Settings that would fail silently or unsafely are refused when the app
//! is built (or flagged), with the key at fault; user code that renders
//! errors cannot take a request down.

mod common;

use phial_core::routing::get;
use phial_core::{App, Config, HttpError, Profile};

fn production() -> Config {
    Config::for_profile(Profile::Production).set("secret_key", "s".repeat(48))
}

async fn build_error(config: Config) -> String {
    App::builder(config)
        .build()
        .await
        .expect_err("the app must refuse these settings")
        .to_string()
}

#[tokio::test]
async fn same_site_none_without_secure_is_refused_and_unknown_values_name_the_key() {
    let err = build_error(Config::testing().set("session.same_site", "None")).await;
    assert!(
        err.contains("session.same_site") && err.contains("session.secure = true"),
        "{err}"
    );
    let err = build_error(Config::testing().set("session.same_site", "sometimes")).await;
    assert!(
        err.contains("session.same_site") && err.contains("sometimes"),
        "{err}"
    );

    let app = App::builder(
        Config::testing()
            .set("session.same_site", "none")
            .set("session.secure", true),
    )
    .route(
        "/",
        get(|s: phial_core::Session| async move {
            s.insert("k", 1).unwrap();
            "ok"
        }),
    )
    .build()
    .await
    .unwrap();
    let res = app.test_client().get("/").send().await;
    let cookie = res.header("set-cookie").unwrap();
    assert!(
        cookie.contains("SameSite=None") && cookie.contains("Secure"),
        "{cookie}"
    );
}

#[tokio::test]
async fn weak_fallback_keys_are_refused_in_production_like_the_key() {
    for (fallback, why) in [
        ("short", "shorter than 32"),
        (
            phial_core::config::DEVELOPMENT_SECRET_KEY,
            "development default",
        ),
    ] {
        let err = build_error(production().set("secret_key_fallbacks", [fallback])).await;
        assert!(
            err.contains("secret_key_fallbacks[0]") && err.contains(why),
            "{err}"
        );
    }
    let strong = production().set("secret_key_fallbacks", ["o".repeat(40)]);
    App::builder(strong).build().await.unwrap();
    // Outside production a short fallback is allowed (development keys).
    App::builder(Config::testing().set("secret_key_fallbacks", ["old"]))
        .build()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_non_ascii_security_header_is_a_config_error_not_a_panic() {
    let err = build_error(Config::testing().set(
        "security.content_security_policy",
        "default-src 'self' café.example",
    ))
    .await;
    assert!(
        err.contains("security.content_security_policy") && err.contains("printable ASCII"),
        "{err}"
    );
    let err = build_error(Config::testing().set("security.referrer_policy", "no\nreferrer")).await;
    assert!(err.contains("security.referrer_policy"), "{err}");
}

#[tokio::test]
async fn a_panicking_error_handler_gives_a_plain_500_and_the_app_keeps_serving() {
    let app = App::builder(Config::testing())
        .route(
            "/missing",
            get(|| async { HttpError::not_found("nothing here") }),
        )
        .route("/fine", get(|| async { "fine" }))
        .error_handler(http::StatusCode::NOT_FOUND, |_ctx| {
            panic!("the 404 handler is broken");
        })
        .build()
        .await
        .unwrap();
    let res = app.test_client().get("/missing").send().await;
    assert_eq!(res.status(), 500);
    assert!(
        res.text().contains("500") && !res.text().contains("broken"),
        "{}",
        res.text()
    );
    assert!(
        res.header("x-content-type-options").is_some() && res.header("x-request-id").is_some(),
        "the core headers are still added"
    );
    assert_eq!(app.test_client().get("/fine").send().await.text(), "fine");
}

#[tokio::test]
async fn debug_decides_whether_a_500_shows_its_reason() {
    async fn build(debug: bool) -> Result<App, phial_core::BuildErrors> {
        App::builder(Config::testing().set("debug", debug))
            .route(
                "/boom",
                get(|| async { HttpError::internal("db password wrong for user x") }),
            )
            .build()
            .await
    }
    let on = build(true).await.unwrap();
    let text = on.test_client().get("/boom").send().await.text();
    assert!(text.contains("db password wrong"), "{text}");
    let off = build(false).await.unwrap();
    let text = off.test_client().get("/boom").send().await.text();
    assert!(
        !text.contains("db password") && text.contains("logged"),
        "{text}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn development_on_a_public_address_warns_loudly_and_fails_the_deploy_check() {
    let app = App::builder(Config::for_profile(Profile::Development))
        .build()
        .await
        .unwrap();
    let serve_on = |addr: &'static str| {
        let app = app.clone();
        async move {
            let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
            app.serve_with(listener, std::future::ready(()))
                .await
                .unwrap();
        }
    };
    let ((), text) = common::logs_of(serve_on("0.0.0.0:0")).await;
    assert!(
        text.contains("WARN") && text.contains("reachable beyond this machine"),
        "{text}"
    );
    let ((), text) = common::logs_of(serve_on("127.0.0.1:0")).await;
    assert!(
        !text.contains("reachable beyond"),
        "loopback is fine: {text}"
    );

    let public =
        App::builder(Config::for_profile(Profile::Development).set("server.bind", "0.0.0.0:5000"))
            .build()
            .await
            .unwrap();
    let (out, buf) = phial_core::cli::Output::buffer();
    public
        .run_cli(["app", "check", "--deploy"], out)
        .await
        .unwrap();
    let report = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
    assert!(report.contains("ERROR   server.bind"), "{report}");
}
