//! Signed-cookie sessions (rotation, tampering, expiry), flash messages and
//! CSRF, through the test client's cookie jar.

use phial_core::routing::{get, post};
use phial_core::{App, Config, Session, Templates};

async fn counter(session: Session) -> String {
    let n: u64 = session.get("n").unwrap_or(0) + 1;
    session.insert("n", n).unwrap();
    n.to_string()
}

async fn form(tpl: Templates) -> Result<axum::response::Html<String>, phial_core::HttpError> {
    tpl.render("form.html", ())
}

async fn app_with(config: Config) -> App {
    App::builder(config)
        .template_source("form.html", r#"<form method="post"><input type="hidden" name="csrf_token" value="{{ csrf_token() }}"></form>{% for m in get_flashed_messages(with_categories=true) %}<p class="{{ m[0] }}">{{ m[1] }}</p>{% endfor %}"#)
        .route("/count", get(counter).name("count"))
        .route("/form", get(form).post(|session: Session| async move {
            session.flash_with("ok", "saved");
            "posted"
        }))
        .route("/api", post(|| async { "api" }))
        .route("/hook/in", post(|| async { "hook" }))
        .build()
        .await
        .unwrap()
}

fn config(secret: &str) -> Config {
    Config::testing()
        .set("secret_key", secret)
        .set("csrf.exempt", ["/hook/"])
}

#[tokio::test]
async fn session_data_persists_in_a_signed_http_only_cookie() {
    let app = app_with(config("k1")).await;
    let client = app.test_client();
    let first = client.get("/count").send().await;
    assert_eq!(first.text(), "1");
    let cookie = first.header("set-cookie").unwrap();
    assert!(cookie.starts_with("session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && !cookie.contains("Secure"),
        "{cookie}"
    );
    assert_eq!(first.header("vary"), Some("cookie"));
    assert_eq!(client.get("/count").send().await.text(), "2");
    assert_eq!(client.get("/count").send().await.text(), "3");
}

#[tokio::test]
async fn production_cookies_are_secure() {
    let app = app_with(
        Config::for_profile(phial_core::Profile::Production).set("secret_key", "x".repeat(40)),
    )
    .await;
    let res = app.test_client().get("/count").send().await;
    assert!(res.header("set-cookie").unwrap().contains("Secure"));
}

#[tokio::test]
async fn a_tampered_cookie_starts_a_fresh_session_and_is_replaced() {
    let app = app_with(config("k1")).await;
    let client = app.test_client();
    client.get("/count").send().await;
    client.get("/count").send().await;
    let good = client.cookie("session").unwrap();
    // Flip one character of the payload.
    let mut bytes = good.into_bytes();
    bytes[1] = if bytes[1] == b'A' { b'B' } else { b'A' };
    client.set_cookie("session", std::str::from_utf8(&bytes).unwrap());
    let res = client.get("/count").send().await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text(), "1", "tampered data must not be trusted");
    // Garbage is no worse.
    client.set_cookie("session", "not-a-session");
    let res = client.get("/count").send().await;
    assert_eq!((res.status().as_u16(), res.text()), (200, "1".to_owned()));
}

#[tokio::test]
async fn rotated_keys_accept_old_cookies_and_resign_them() {
    let old = app_with(config("old-key")).await;
    let client = old.test_client();
    client.get("/count").send().await;
    let old_cookie = client.cookie("session").unwrap();

    let rotated = app_with(config("new-key").set("secret_key_fallbacks", ["old-key"])).await;
    let client = rotated.test_client();
    client.set_cookie("session", &old_cookie);
    let res = client.get("/count").send().await;
    assert_eq!(res.text(), "2", "the fallback key verifies the old cookie");
    let resigned = client.cookie("session").unwrap();
    assert_ne!(resigned, old_cookie);

    // Once the old key is retired, the new cookie still works, the old one does not.
    let retired = app_with(config("new-key")).await;
    let client = retired.test_client();
    client.set_cookie("session", &resigned);
    assert_eq!(client.get("/count").send().await.text(), "3");
    client.set_cookie("session", &old_cookie);
    assert_eq!(client.get("/count").send().await.text(), "1");
}

#[tokio::test]
async fn posting_a_form_needs_the_token_from_the_page() {
    let app = app_with(config("k1")).await;
    let client = app.test_client();

    let refused = client.post("/form").form(&[("x", "1")]).send().await;
    assert_eq!(refused.status(), 403);
    let body: serde_json::Value = refused.json();
    assert!(body["reason"].as_str().unwrap().contains("CSRF"), "{body}");

    let page = client.get("/form").send().await;
    let token = page.csrf_token().expect("the form carries a token");
    let missing = client.post("/form").form(&[("x", "1")]).send().await;
    assert!(
        missing.json::<serde_json::Value>()["reason"]
            .as_str()
            .unwrap()
            .starts_with("CSRF token missing")
    );
    let wrong = client
        .post("/form")
        .form(&[("csrf_token", "AAAA")])
        .send()
        .await;
    assert_eq!(wrong.status(), 403);

    let ok = client
        .post("/form")
        .form(&[("csrf_token", token.as_str()), ("x", "1")])
        .send()
        .await;
    assert_eq!(
        (ok.status().as_u16(), ok.text()),
        (200, "posted".to_owned())
    );
    // The flash appears once, on the next page.
    let next = client.get("/form").send().await.text();
    assert!(next.contains(r#"<p class="ok">saved</p>"#), "{next}");
    assert!(!client.get("/form").send().await.text().contains("saved"));
}

#[tokio::test]
async fn tokens_are_masked_differently_each_time_and_all_verify() {
    let app = app_with(config("k1")).await;
    let client = app.test_client();
    let t1 = client.get("/form").send().await.csrf_token().unwrap();
    let t2 = client.get("/form").send().await.csrf_token().unwrap();
    assert_ne!(t1, t2);
    for t in [t1, t2] {
        let res = client.post("/form").header("x-csrf-token", &t).send().await;
        assert_eq!(res.status(), 200, "{}", res.text());
    }
}

#[tokio::test]
async fn a_token_from_another_session_is_refused() {
    let app = app_with(config("k1")).await;
    let alice = app.test_client();
    let mallory = app.test_client();
    let token = mallory.get("/form").send().await.csrf_token().unwrap();
    alice.get("/form").send().await;
    let res = alice
        .post("/form")
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await;
    assert_eq!(res.status(), 403);
    assert!(res.text().contains("CSRF token invalid"), "{}", res.text());
}

#[tokio::test]
async fn a_tampered_session_cookie_fails_the_form_with_a_reason() {
    let app = app_with(config("k1")).await;
    let client = app.test_client();
    let token = client.get("/form").send().await.csrf_token().unwrap();
    client.set_cookie("session", "tampered.value.sig");
    let res = client
        .post("/form")
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await;
    assert_eq!(res.status(), 403);
    assert!(
        res.text().contains("CSRF session token missing"),
        "{}",
        res.text()
    );
}

#[tokio::test]
async fn multipart_forms_carry_the_token_too() {
    let app = app_with(config("k1")).await;
    let client = app.test_client();
    let token = client.get("/form").send().await.csrf_token().unwrap();
    let body = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\nhello\r\n--XyZ--\r\n"
    );
    let res = client
        .post("/form")
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(body)
        .send()
        .await;
    assert_eq!(res.status(), 200, "{}", res.text());
}

#[tokio::test]
async fn json_posts_exempt_paths_and_cross_site_requests() {
    let app = app_with(config("k1")).await;
    let client = app.test_client();
    // JSON cannot be sent cross-site without CORS: not checked.
    let res = client
        .post("/api")
        .json(&serde_json::json!({"a": 1}))
        .send()
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        client
            .post("/hook/in")
            .form(&[("a", "b")])
            .send()
            .await
            .status(),
        200
    );
    let token = client.get("/form").send().await.csrf_token().unwrap();
    let res = client
        .post("/form")
        .header("sec-fetch-site", "cross-site")
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await;
    assert_eq!(res.status(), 403);
    assert!(res.text().contains("cross-site"));
}

#[tokio::test]
async fn unknown_routes_and_methods_get_404_and_405_before_csrf() {
    let app = app_with(config("k1")).await;
    let client = app.test_client();
    let res = client.post("/nowhere").form(&[("a", "b")]).send().await;
    assert_eq!(res.status(), 404);
    let res = client.delete("/count").send().await;
    assert_eq!(res.status(), 405);
    assert!(res.header("allow").unwrap().contains("GET"));
    let body: serde_json::Value = res.json();
    assert_eq!(body["status"], 405);
}

#[tokio::test]
async fn sessions_can_be_turned_off_for_pure_apis() {
    let err = App::builder(Config::testing().set("session.enabled", false))
        .build()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("csrf.enabled"), "{err}");

    let app = app_with(
        config("k1")
            .set("session.enabled", false)
            .set("csrf.enabled", false),
    )
    .await;
    let client = app.test_client();
    let res = client.get("/count").send().await;
    assert_eq!(res.status(), 500);
    assert!(res.text().contains("session.enabled"), "{}", res.text());
    assert!(res.header("set-cookie").is_none());
    assert_eq!(
        client
            .post("/api")
            .form(&[("a", "b")])
            .send()
            .await
            .status(),
        200
    );
}
