//! Calls from other origins: preflights answered for listed origins only
//! (before the route's methods are looked at), credentials for origins
//! listed by name and never for `*`, a blueprint's own policy, the session
//! cookie sent from another origin still needing its CSRF token, and bad
//! settings refused at build.

use phial_core::cors::Cors;
use phial_core::csrf::CsrfToken;
use phial_core::routing::{MethodRoutes, get};
use phial_core::{App, Blueprint, Config, Session};

async fn ok() -> &'static str {
    "ok"
}

fn api_routes() -> MethodRoutes {
    // A JSON API, like REST's: the handlers take JSON only.
    MethodRoutes::json_api(
        axum::routing::get(ok).post(ok).delete(ok),
        [http::Method::GET, http::Method::POST, http::Method::DELETE],
    )
}

async fn app(config: Config) -> App {
    App::builder(config)
        .route("/api/posts", api_routes())
        .route(
            "/token",
            get(|t: CsrfToken, s: Session| async move {
                s.insert("seen", true).unwrap();
                t.0
            }),
        )
        .blueprint(
            Blueprint::new("partner")
                .url_prefix("/partner")
                .route("/feed", get(ok))
                .cors(Cors::new().origin("https://partner.example")),
        )
        .build()
        .await
        .unwrap()
}

fn listed() -> Config {
    Config::testing()
        .set("cors.origins", ["https://app.example", "*"])
        .set("cors.credentials", true)
}

#[tokio::test]
async fn preflights_are_answered_for_allowed_origins_with_credentials_for_named_ones() {
    let app = app(listed()).await;
    let c = app.test_client();
    let preflight = |origin: &str| {
        c.request(http::Method::OPTIONS, "/api/posts")
            .header("origin", origin)
            .header("access-control-request-method", "DELETE")
            .header(
                "access-control-request-headers",
                "content-type, x-csrf-token",
            )
    };
    let named = preflight("https://app.example").send().await;
    assert_eq!(
        named.status(),
        200,
        "a preflight is not a 405: {}",
        named.text()
    );
    assert_eq!(
        named.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(
        named.header("access-control-allow-credentials"),
        Some("true")
    );
    let methods = named.header("access-control-allow-methods").unwrap();
    assert!(methods.contains("DELETE"), "{methods}");
    assert_eq!(named.header("access-control-max-age"), Some("600"));
    // `*` lets any page read, never with the user's cookies.
    let any = preflight("https://elsewhere.example").send().await;
    assert_eq!(
        any.header("access-control-allow-origin"),
        Some("https://elsewhere.example")
    );
    assert_eq!(any.header("access-control-allow-credentials"), None);
}

#[tokio::test]
async fn without_cors_settings_other_origins_get_no_allowance() {
    let app = app(Config::testing()).await;
    let res = app
        .test_client()
        .request(http::Method::OPTIONS, "/api/posts")
        .header("origin", "https://app.example")
        .header("access-control-request-method", "DELETE")
        .send()
        .await;
    assert_eq!(res.status(), 405);
    assert_eq!(res.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn a_blueprint_answers_by_its_own_policy() {
    let app = app(Config::testing().set("cors.origins", ["https://app.example"])).await;
    let c = app.test_client();
    let from = |origin: &str| c.get("/partner/feed").header("origin", origin);
    let partner = from("https://partner.example").send().await;
    assert_eq!(
        partner.header("access-control-allow-origin"),
        Some("https://partner.example")
    );
    let app_origin = from("https://app.example").send().await;
    assert_eq!(
        app_origin.header("access-control-allow-origin"),
        None,
        "the blueprint's policy replaces the app's"
    );
    let elsewhere = c
        .get("/api/posts")
        .header("origin", "https://app.example")
        .send()
        .await;
    assert_eq!(
        elsewhere.header("access-control-allow-origin"),
        Some("https://app.example")
    );
}

#[tokio::test]
async fn a_cross_origin_call_with_the_session_cookie_needs_the_csrf_token() {
    let app = app(listed()).await;
    let c = app.test_client();
    let token = c.get("/token").send().await.text();
    let call = || {
        c.post("/api/posts")
            .header("origin", "https://app.example")
            .header("host", "api.example")
            .json(&serde_json::json!({"title": "x"}))
    };
    let refused = call().send().await;
    assert_eq!(refused.status(), 403, "{}", refused.text());
    assert!(refused.text().contains("CSRF"), "{}", refused.text());
    let accepted = call().header("x-csrf-token", &token).send().await;
    assert_eq!(accepted.status(), 200, "{}", accepted.text());
    // Same origin, or no cookie (a bearer-token client): no token needed.
    let same = c
        .post("/api/posts")
        .header("origin", "http://api.example")
        .header("host", "api.example")
        .json(&0)
        .send()
        .await;
    assert_eq!(same.status(), 200, "{}", same.text());
    let cookieless = call().without_cookies().send().await;
    assert_eq!(cookieless.status(), 200, "{}", cookieless.text());
}

#[tokio::test]
async fn bad_settings_stop_the_build_and_star_with_credentials_is_reported() {
    let err = App::builder(Config::testing().set("cors.origins", ["app.example/path"]))
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cors.origins[0]") && err.contains("not an origin"),
        "{err}"
    );
    let (out, buf) = phial_core::cli::Output::buffer();
    let (err, _) = phial_core::cli::Output::buffer();
    let factory = |config: Config| async move { Ok(App::builder(config).build().await?) };
    phial_core::cli::run_with(factory, listed(), ["app", "check", "--deploy"], out, err).await;
    let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("WARNING cors.origins") && text.contains("only the origins listed by name"),
        "{text}"
    );
}
