//! The API's document is valid OpenAPI 3.1 and describes the generated
//! resources and the app's own endpoint; the docs UI is served by the app
//! with no outside request; and a fuzzer driven by the document finds no
//! failing check against the running server.

mod common;

use std::process::Command;

use common::{SERIAL, TOKEN, api};
use http::StatusCode;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn the_document_describes_every_resource_and_validates_as_openapi_3_1() {
    let _serial = SERIAL.lock().await;
    let api = api("SQLite", &None, |c| c).await;
    let res = api.client.get("/api/openapi.json").send().await;
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for path in [
        "/api/authors",
        "/api/authors/{id}",
        "/api/authors/bulk",
        "/api/posts",
        "/api/posts/{id}",
        "/api/posts/bulk",
        "/api/stats",
    ] {
        assert!(paths.contains(&path), "{path} missing from {paths:?}");
    }
    let schemas = &doc["components"]["schemas"];
    assert!(
        schemas["Authors"]["properties"]
            .get("password_hash")
            .is_none(),
        "hidden fields stay out"
    );
    assert!(
        schemas["AuthorsCreate"]["properties"]
            .get("password_hash")
            .is_none()
    );
    assert_eq!(
        schemas["Posts"]["properties"]["created_at"]["readOnly"],
        true
    );
    assert_eq!(
        schemas["PostsCreate"]["required"],
        serde_json::json!(["author_id", "title", "body"])
    );
    assert_eq!(
        schemas["AuthorsCreate"]["properties"]["name"]["maxLength"],
        40
    );
    assert_eq!(schemas["PostsCreate"]["additionalProperties"], false);
    assert!(
        schemas.get("Stats").is_some(),
        "the app's own schemas are merged"
    );
    let list = &doc["paths"]["/api/posts"]["get"];
    let params: Vec<&str> = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for p in [
        "page",
        "per_page",
        "cursor",
        "sort",
        "q",
        "title__contains",
        "published",
        "created_at__ge",
    ] {
        assert!(params.contains(&p), "{p} missing from {params:?}");
    }
    assert!(!params.contains(&"body"), "`body` is not filterable");
    for code in ["200", "304", "400", "401"] {
        assert!(list["responses"].get(code).is_some(), "list answers {code}");
    }

    let Some(validator) = phial_core::testing::tool("openapi-spec-validator") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, res.bytes()).unwrap();
    let out = Command::new(validator).arg(&file).output().unwrap();
    assert!(
        out.status.success(),
        "openapi-spec-validator: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    api.app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_docs_ui_is_served_by_the_app_and_calls_nothing_outside() {
    let _serial = SERIAL.lock().await;
    let api = api("SQLite", &None, |c| c).await;
    let res = api.client.get("/api/docs").send().await;
    assert!(res.status().is_redirection());
    assert_eq!(res.header("location"), Some("/api/docs/"));
    let index = api.client.get("/api/docs/").send().await;
    assert_eq!(index.status(), StatusCode::OK);
    assert!(
        index
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let html = index.text();
    // Every file the page loads comes from the app.
    let mut assets = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for part in html.split(attr).skip(1) {
            let url = part.split('"').next().unwrap();
            assert!(!url.contains("://"), "the page loads {url} from outside");
            assets.push(url.trim_start_matches("./").to_owned());
        }
    }
    assert!(assets.iter().any(|a| a.ends_with(".js")), "{assets:?}");
    for asset in &assets {
        let res = api.client.get(&format!("/api/docs/{asset}")).send().await;
        assert_eq!(res.status(), StatusCode::OK, "{asset}");
    }
    let init = api
        .client
        .get("/api/docs/swagger-initializer.js")
        .send()
        .await
        .text();
    assert!(init.contains("/api/openapi.json"), "{init}");
    assert!(
        init.contains("\"validatorUrl\": \"none\"") || init.contains("\"validatorUrl\":\"none\""),
        "{init}"
    );
    let missing = api.client.get("/api/docs/nope.js").send().await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    api.app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fuzzer_driven_by_the_document_finds_no_failing_check() {
    let _serial = SERIAL.lock().await;
    let Some(schemathesis) = phial_core::testing::tool("schemathesis") else {
        return;
    };
    let api = api("SQLite", &None, |c| c).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = api.app.router();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::task::spawn_blocking(move || {
        let config = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemathesis.toml");
        Command::new(schemathesis)
            .current_dir(dir.path())
            .args(["--config-file", config])
            .args(["run", &format!("http://{addr}/api/openapi.json")])
            .args(["-H", &format!("Authorization: Bearer {TOKEN}")])
            .args([
                "--checks",
                "all",
                "--max-examples",
                "30",
                "--seed",
                "1",
                "--workers",
                "1",
            ])
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    server.abort();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{report}"
    );
    // The summary (operations, phases, cases) in the test log.
    eprintln!(
        "{}",
        report
            .lines()
            .skip_while(|l| !l.contains("SUMMARY"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    api.app.shutdown().await;
}
