//! One node, in-process: namespaces, acks, rooms, emits from HTTP handlers,
//! connect-time auth from the session cookie, the origin check and config
//! errors — through the Rust test client.

use std::time::Duration;

use phial_core::{App, Config};
use phial_socket::testing::{ClientError, SocketClient};
use phial_socket::{Socket, SocketRef};
use serde_json::json;

mod common;

use common::{app, app_with};

#[tokio::test]
async fn events_acks_and_state_in_handlers() {
    let app = app().await;
    let client = SocketClient::connect(&app.test_client(), "/live")
        .await
        .unwrap();
    let hello = client.recv().await.unwrap();
    assert_eq!(hello.name, "hello");
    assert_eq!(hello.arg::<String>(0), "welcome");
    let sum: i64 = client.emit_with_ack("add", &[40, 2]).await.unwrap();
    assert_eq!(sum, 42);
    client.disconnect().await;
    app.shutdown().await;
}

#[tokio::test]
async fn rooms_reach_their_members_only() {
    let app = app().await;
    let http = app.test_client();
    let a = SocketClient::connect(&http, "/live").await.unwrap();
    let b = SocketClient::connect(&http, "/live").await.unwrap();
    let joined: String = a.emit_with_ack("join", "kitchen").await.unwrap();
    assert_eq!(joined, "kitchen");
    b.emit(
        "say",
        &json!({"room": "kitchen", "text": "dinner is ready"}),
    )
    .await
    .unwrap();
    let said = a.recv_event("said").await.unwrap();
    assert_eq!(said.arg::<String>(0), "dinner is ready");
    // b is not in the room: after a round trip it has seen only its hello.
    let _: i64 = b.emit_with_ack("add", &[1, 1]).await.unwrap();
    assert_eq!(b.recv().await.unwrap().name, "hello");
    assert_eq!(b.try_recv().await, None);
    app.shutdown().await;
}

#[tokio::test]
async fn an_http_handler_emits_to_a_room() {
    let app = app().await;
    let http = app.test_client();
    let reader = SocketClient::connect(&http, "/live").await.unwrap();
    let _: String = reader.emit_with_ack("join", "news").await.unwrap();
    let outsider = SocketClient::connect(&http, "/live").await.unwrap();
    assert_eq!(http.get("/announce").send().await.text(), "sent");
    let e = reader.recv_event("headline").await.unwrap();
    assert_eq!(e.arg::<String>(0), "from a view");
    let _: i64 = outsider.emit_with_ack("add", &[0, 0]).await.unwrap();
    assert_eq!(outsider.recv().await.unwrap().name, "hello");
    assert_eq!(outsider.try_recv().await, None);
    app.shutdown().await;
}

#[tokio::test]
async fn a_protected_namespace_refuses_anonymous_clients_with_a_reason() {
    let app = app().await;
    let http = app.test_client();
    match SocketClient::connect(&http, "/private").await {
        Err(ClientError::Refused(reason)) => assert!(reason.contains("sign in"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // The same client signs in over HTTP; its cookie now carries the user.
    assert_eq!(http.get("/login").send().await.status(), 200);
    let client = SocketClient::connect(&http, "/private").await.unwrap();
    let you = client.recv_event("you").await.unwrap();
    assert_eq!(you.arg::<i64>(0), 7);
    // An empty id left in the session is nobody (`Session::user_id`, the
    // rule REST's guard reads too).
    let careless = app.test_client();
    careless.get("/logout-badly").send().await;
    assert!(matches!(
        SocketClient::connect(&careless, "/private").await,
        Err(ClientError::Refused(_))
    ));
    // A tampered cookie is no user.
    let forged = app.test_client();
    let cookie = http.cookie("session").expect("a session cookie");
    forged.set_cookie("session", &format!("{cookie}x"));
    assert!(matches!(
        SocketClient::connect(&forged, "/private").await,
        Err(ClientError::Refused(_))
    ));
    app.shutdown().await;
}

#[tokio::test]
async fn browsers_on_other_origins_are_refused_unless_listed() {
    let app =
        app_with(Config::testing().set("socket.allowed_origins", ["https://app.example.com"]))
            .await;
    let http = app.test_client();
    let refused = SocketClient::connect_to(
        &http,
        "/socket.io",
        "/live",
        None,
        &[("origin", "https://evil.example"), ("host", "localhost")],
    )
    .await
    .unwrap_err();
    match refused {
        ClientError::Http { status, body } => {
            assert_eq!(status, 403);
            assert!(body.contains("socket.allowed_origins"), "{body}");
        }
        other => panic!("expected a 403, got {other:?}"),
    }
    // The app's own origin and a listed one connect; the listed one gets
    // CORS headers so the browser hands the answers to the page.
    for origin in ["http://localhost", "https://app.example.com"] {
        let c = SocketClient::connect_to(
            &http,
            "/socket.io",
            "/live",
            None,
            &[("origin", origin), ("host", "localhost")],
        )
        .await
        .unwrap();
        assert_eq!(c.recv().await.unwrap().name, "hello");
    }
    let res = http
        .get("/socket.io/?EIO=4&transport=polling")
        .header("origin", "https://app.example.com")
        .send()
        .await;
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(res.header("access-control-allow-credentials"), Some("true"));
    app.shutdown().await;
}

#[tokio::test]
async fn bad_socket_config_fails_the_start_naming_the_key() {
    for (key, value, expect) in [
        (
            "socket.transports",
            json!(["carrier-pigeon"]),
            "socket.transports",
        ),
        ("socket.path", json!("socket.io"), "socket.path"),
        ("socket.adapter", json!("redis"), "socket.redis_url"),
        (
            "socket.allowed_origins",
            json!(["example.com"]),
            "socket.allowed_origins",
        ),
        (
            "socket.address_map",
            json!({"10.0.0.5:6379": "127.0.0.1"}),
            "socket.address_map",
        ),
    ] {
        let err = App::builder(Config::testing().set(key, value))
            .register(Socket::new().ns("/", async |_s: SocketRef| {}))
            .build()
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(expect), "{key}: {err}");
    }
    let err = App::builder(Config::testing().set("socket.adapter", "carrier"))
        .register(Socket::new())
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("socket") && err.contains("adapter"), "{err}");
}

#[tokio::test]
async fn shutdown_closes_open_connections() {
    let app = app().await;
    let client = SocketClient::connect(&app.test_client(), "/live")
        .await
        .unwrap()
        .with_timeout(Duration::from_secs(5));
    assert_eq!(client.recv().await.unwrap().name, "hello");
    app.shutdown().await;
    // The server closed the session: the client sees the end, not a hang.
    assert!(matches!(client.recv().await, Err(ClientError::Closed)));
}

#[tokio::test]
async fn the_browser_client_is_served_by_the_app() {
    let app = app().await;
    let http = app.test_client();
    let res = http.get("/socket.io/socket.io.min.js").send().await;
    assert_eq!(res.status(), 200);
    assert!(
        res.header("content-type")
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(res.text().contains("Socket.IO v4.8.1"));
    let etag = res.header("etag").unwrap().to_owned();
    let again = http
        .get("/socket.io/socket.io.min.js")
        .header("if-none-match", &etag)
        .send()
        .await;
    assert_eq!(again.status(), 304);
    app.shutdown().await;
}

async fn deploy_report(app: &App) -> String {
    let (out, buf) = phial_core::cli::Output::buffer();
    app.clone()
        .run_cli(["app", "check", "--deploy"], out)
        .await
        .unwrap();
    String::from_utf8(buf.lock().unwrap().clone()).unwrap()
}

#[tokio::test]
async fn check_deploy_warns_about_any_origin() {
    let open = app_with(Config::testing().set("socket.allowed_origins", ["*"])).await;
    let report = deploy_report(&open).await;
    assert!(report.contains("socket.allowed_origins"), "{report}");
    let closed = app().await;
    let report = deploy_report(&closed).await;
    assert!(!report.contains("socket."), "{report}");
}
