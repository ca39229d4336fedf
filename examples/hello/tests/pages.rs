//! The hello app as a browser and an API client see it.

use phial::{App, Config};

async fn app() -> App {
    hello::create_app(Config::testing())
        .await
        .expect("the app builds")
}

#[tokio::test]
async fn the_home_page_is_a_template_with_urls_built_by_name() {
    let res = app().await.test_client().get("/").send().await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
    let html = res.text();
    assert!(html.contains("<h1>Hello from Phial</h1>"), "{html}");
    assert!(
        html.contains(r#"<link rel="stylesheet" href="/static/style.css">"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<a href="/guestbook">Guestbook</a>"#),
        "{html}"
    );
}

#[tokio::test]
async fn plaintext_and_json() {
    let client = app().await.test_client();
    let res = client.get("/plaintext").send().await;
    assert_eq!(
        (res.status().as_u16(), res.text()),
        (200, "Hello, World!".to_owned())
    );
    assert!(
        res.header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    let res = client.get("/json").send().await;
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(
        res.json::<serde_json::Value>(),
        serde_json::json!({"message": "Hello, World!"})
    );
}

#[tokio::test]
async fn the_stylesheet_is_served_with_validators() {
    let client = app().await.test_client();
    let res = client.get("/static/style.css").send().await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.header("content-type"), Some("text/css"));
    assert!(res.text().contains("font-family"));
    let etag = res.header("etag").unwrap().to_owned();
    assert_eq!(
        client
            .get("/static/style.css")
            .header("if-none-match", &etag)
            .send()
            .await
            .status(),
        304
    );
    assert_eq!(
        client.get("/static/../Cargo.toml").send().await.status(),
        404
    );
}

#[tokio::test]
async fn the_guestbook_counts_visits_signs_with_csrf_and_flashes() {
    let client = app().await.test_client();
    let page = client.get("/guestbook").send().await;
    assert!(
        page.text().contains("visited this page 1 time."),
        "{}",
        page.text()
    );
    let token = page.csrf_token().expect("the form has a CSRF token");
    assert!(
        client
            .get("/guestbook")
            .send()
            .await
            .text()
            .contains("visited this page 2 times.")
    );

    let signed = client
        .post("/guestbook")
        .form(&[
            ("csrf_token", token.as_str()),
            ("name", "Ada <script>"),
            ("message", "Hi!"),
        ])
        .send()
        .await;
    assert_eq!(signed.status(), 303);
    assert_eq!(signed.header("location"), Some("/guestbook"));

    let after = client.get("/guestbook").send().await.text();
    assert!(
        after.contains("Thanks for signing, Ada &lt;script&gt;!"),
        "{after}"
    );
    assert!(
        after.contains("<li><b>Ada &lt;script&gt;</b>: Hi!</li>"),
        "{after}"
    );
    assert!(after.contains("visited this page 3 times."), "{after}");
    // Flashed once only.
    assert!(
        !client
            .get("/guestbook")
            .send()
            .await
            .text()
            .contains("Thanks for signing")
    );
}

#[tokio::test]
async fn the_guestbook_refuses_forged_and_invalid_posts() {
    let client = app().await.test_client();
    let forged = client
        .post("/guestbook")
        .form(&[("name", "x"), ("message", "y")])
        .send()
        .await;
    assert_eq!(forged.status(), 403);
    assert!(forged.text().contains("CSRF"));

    let token = client.get("/guestbook").send().await.csrf_token().unwrap();
    let empty = client
        .post("/guestbook")
        .header("accept", "text/html")
        .form(&[
            ("csrf_token", token.as_str()),
            ("name", ""),
            ("message", "y"),
        ])
        .send()
        .await;
    assert_eq!(empty.status(), 422);
    assert!(
        empty
            .text()
            .contains("<li><b>name</b>: must be 1 to 40 characters</li>"),
        "{}",
        empty.text()
    );

    let missing = client
        .post("/guestbook")
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await;
    assert_eq!(missing.status(), 422);
    let body: serde_json::Value = missing.json();
    assert!(
        body["fields"]["name"].is_array() || body["fields"]["message"].is_array(),
        "{body}"
    );
}

#[tokio::test(start_paused = true)]
async fn together_awaits_both_sources_at_once() {
    let client = app().await.test_client();
    let start = tokio::time::Instant::now();
    let res = client.get("/together").send().await;
    // With the clock paused, time moves only to the next timer: two 20 ms
    // waits run concurrently take 20 ms of virtual time, in sequence 40.
    assert_eq!(start.elapsed(), std::time::Duration::from_millis(20));
    let body: serde_json::Value = res.json();
    assert_eq!(body["weather"], "sunny");
    assert_eq!(body["quote"], "Simple is better than complex.");
}

#[tokio::test]
async fn unknown_pages_and_methods() {
    let client = app().await.test_client();
    let res = client
        .get("/missing")
        .header("accept", "text/html")
        .send()
        .await;
    assert_eq!(res.status(), 404);
    // (Escaped as templates escape: `/` is `&#x2f;`.)
    assert!(res.text().contains("no route for GET &#x2f;missing"));
    let res = client.put("/json").send().await;
    assert_eq!(res.status(), 405);
}
