//! Sign-ins that end on every node, tried from outside: two blog nodes
//! share a database, Redis (sign-in records, counters) and the Socket.IO
//! Redis adapter. A cookie copied from a browser signed in on node 1 works
//! on node 2 (the control), then is refused there after sign-out on node
//! 1, after a staff user's password is changed, after deactivation; the
//! sockets that cookie opened on node 2 are disconnected within a second
//! of the sign-out on node 1, while another user's socket stays.

use std::time::{Duration, Instant};

use phial::admin::create_user;
use phial::orm::Db;
use phial::socket::testing::SocketClient;
use phial::testing::TestClient;
use phial::{App, Config};
use serde_json::json;

mod common;
use common::TOKEN;

struct Nodes {
    _dir: tempfile::TempDir,
    one: App,
    two: App,
}

async fn nodes() -> Option<Nodes> {
    let redis =
        phial::testing::service_url("Redis", "PHIAL_TEST_REDIS_URL", "redis://127.0.0.1:6379")
            .await?;
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("sign-out-{}-{}", std::process::id(), rand_suffix());
    let node = || {
        let url = format!("sqlite://{}", dir.path().join("blog.sqlite").display());
        blog::create_app(
            Config::testing()
                .set("database.url", url)
                .set("blog.api_token", TOKEN)
                .set("cache.type", "redis")
                .set("cache.urls", [redis.clone()])
                .set("cache.key_prefix", format!("{prefix}:"))
                .set("socket.adapter", "redis")
                .set("socket.redis_url", redis.clone())
                .set("socket.channel_prefix", prefix.clone()),
        )
    };
    let one = node().await.unwrap();
    let two = node().await.unwrap();
    Some(Nodes {
        _dir: dir,
        one,
        two,
    })
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        % 1_000_000
}

/// A browser on `app` carrying `from`'s session cookie.
fn copy_of(from: &TestClient, app: &App) -> TestClient {
    let c = app.test_client();
    c.set_cookie(
        "session",
        &from.cookie("session").expect("a session cookie"),
    );
    c
}

/// Posts the form at `page` (with its CSRF token) to `action`; the status.
async fn submit(http: &TestClient, page: &str, action: &str, fields: &[(&str, &str)]) -> u16 {
    common::submit(http, page, action, fields)
        .await
        .status()
        .as_u16()
}

async fn author_signs_in(app: &App) -> TestClient {
    let http = app.test_client();
    let status = submit(
        &http,
        "/login",
        "/login",
        &[("email", "ada@example.com"), ("password", "s3cret-pass")],
    )
    .await;
    assert_eq!(status, 303, "the author signs in");
    http
}

/// The seeded author Ada, given a password (the API never writes one).
async fn give_ada_a_password(app: &App) {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
    let db = Db::from_state(app.state()).unwrap();
    let ada = blog::entities::author::Entity::find()
        .filter(blog::entities::author::Column::Email.eq("ada@example.com"))
        .one(db.conn())
        .await
        .unwrap()
        .unwrap();
    let mut am: blog::entities::author::ActiveModel = ada.into();
    am.password_hash = Set(phial::password::hash("s3cret-pass").await.unwrap());
    am.update(db.conn()).await.unwrap();
}

async fn patch_title(http: &TestClient, post: i64, title: &str) -> u16 {
    http.patch(&format!("/api/posts/{post}"))
        .json(&json!({"title": title}))
        .send()
        .await
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copied_author_cookie_is_refused_on_another_node_after_sign_out() {
    let Some(n) = nodes().await else { return };
    let (post, _) = common::seed(&n.one, TOKEN).await;
    give_ada_a_password(&n.one).await;
    let browser = author_signs_in(&n.one).await;
    let thief = copy_of(&browser, &n.two);
    assert_eq!(
        patch_title(&thief, post, "control").await,
        200,
        "the copy works on node 2"
    );
    let out = submit(&browser, "/login", "/logout", &[]).await;
    assert_eq!(out, 303);
    assert_eq!(patch_title(&thief, post, "after sign-out").await, 401);
    assert_eq!(patch_title(&browser, post, "after sign-out").await, 401);
    n.one.shutdown().await;
    n.two.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_copy_is_refused_on_another_node_after_a_new_password_or_deactivation() {
    let Some(n) = nodes().await else { return };
    let db = Db::from_state(n.one.state()).unwrap();
    create_user(&db, "root", "correct horse battery", true)
        .await
        .unwrap();
    let eve = create_user(&db, "eve", "eve's long password", false)
        .await
        .unwrap();
    let sign_in = |app: &App, name: &'static str, pw: &'static str| {
        let http = app.test_client();
        async move {
            let status = submit(
                &http,
                "/admin/login",
                "/admin/login",
                &[("username", name), ("password", pw), ("next", "/admin/")],
            )
            .await;
            assert_eq!(status, 303, "{name} signs in");
            http
        }
    };
    let mallory = create_user(&db, "mallory", "mallory's long password", false)
        .await
        .unwrap();
    let root = sign_in(&n.one, "root", "correct horse battery").await;
    for (user, password, change) in [
        // A new password...
        (
            eve.id,
            "eve's long password",
            [
                ("superuser", "false"),
                ("active", "true"),
                ("password", "a brand new password"),
            ],
        ),
        // ...or deactivation.
        (
            mallory.id,
            "mallory's long password",
            [
                ("superuser", "false"),
                ("active", "false"),
                ("password", ""),
            ],
        ),
    ] {
        let name = if user == eve.id { "eve" } else { "mallory" };
        let browser = sign_in(&n.one, name, password).await;
        let copy = copy_of(&browser, &n.two);
        assert_eq!(
            copy.get("/admin/").send().await.status(),
            200,
            "control: the copy opens node 2's admin"
        );
        let page = format!("/admin/access/users/{user}");
        let status = submit(&root, &page, &page, &change).await;
        assert_eq!(status, 303, "the superuser saves {change:?}");
        let refused = copy.get("/admin/").send().await;
        assert_eq!(refused.status(), 303, "{change:?}: {}", refused.text());
        assert!(
            refused
                .header("location")
                .unwrap()
                .starts_with("/admin/login")
        );
        assert_eq!(browser.get("/admin/").send().await.status(), 303, "{name}");
    }
    n.one.shutdown().await;
    n.two.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_on_another_node_are_disconnected_within_a_second_of_sign_out() {
    let Some(n) = nodes().await else { return };
    let (post, _) = common::seed(&n.one, TOKEN).await;
    give_ada_a_password(&n.one).await;
    let db = Db::from_state(n.one.state()).unwrap();
    create_user(&db, "root", "correct horse battery", true)
        .await
        .unwrap();
    // One browser signed in as an author and as staff, on node 1.
    let browser = author_signs_in(&n.one).await;
    let status = submit(
        &browser,
        "/admin/login",
        "/admin/login",
        &[
            ("username", "root"),
            ("password", "correct horse battery"),
            ("next", "/admin/"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    // Its sockets, and a stranger's, on node 2.
    let on_two = copy_of(&browser, &n.two);
    let reader = SocketClient::connect(&on_two, "/live").await.unwrap();
    let joined: serde_json::Value = reader
        .emit_with_ack("join", &json!({"post_id": post}))
        .await
        .unwrap_or_else(|e| panic!("joining post {post} on node 2: {e:?}"));
    assert_eq!(joined, json!({"ok": true, "complete": true}));
    let admin = SocketClient::connect(&on_two, "/phial-admin")
        .await
        .unwrap();
    let ok: serde_json::Value = admin.emit_with_ack("watch", &json!("post")).await.unwrap();
    assert_eq!(ok["ok"], true);
    let stranger = SocketClient::connect(&n.two.test_client(), "/live")
        .await
        .unwrap();
    // The author signs out on node 1: their /live socket goes, the staff
    // sign-in (another realm) and its socket stay.
    let started = Instant::now();
    assert_eq!(submit(&browser, "/login", "/logout", &[]).await, 303);
    let closed = wait_closed(&reader, Duration::from_secs(3)).await;
    let took = started.elapsed();
    assert!(
        closed,
        "the author's socket on node 2 is still connected after {took:?}"
    );
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "MEASURED an author's socket on node 2 disconnected {took:?} after sign-out on node 1"
    );
    assert!(took < Duration::from_secs(1), "disconnected after {took:?}");
    // Staff signs out on node 1: the admin socket goes too.
    let started = Instant::now();
    assert_eq!(submit(&browser, "/admin/", "/admin/logout", &[]).await, 303);
    assert!(wait_closed(&admin, Duration::from_secs(3)).await);
    let took = started.elapsed();
    let _ = writeln!(
        std::io::stderr(),
        "MEASURED a staff socket on node 2 disconnected {took:?} after sign-out on node 1"
    );
    assert!(
        took < Duration::from_secs(1),
        "admin socket disconnected after {took:?}"
    );
    // The stranger was not touched.
    let still: serde_json::Value = stranger
        .emit_with_ack("join", &json!({"post_id": post}))
        .await
        .unwrap();
    assert_eq!(still, json!({"ok": true, "complete": true}));
    // And the copy of the cookie cannot open the admin namespace again.
    let again = SocketClient::connect(&on_two, "/phial-admin").await;
    assert!(
        again.is_err(),
        "a signed-out cookie opened the admin's namespace"
    );
    n.one.shutdown().await;
    n.two.shutdown().await;
}

/// Whether `client`'s connection is closed by the server within `limit`
/// (events still in flight are skipped).
async fn wait_closed(client: &SocketClient, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        match tokio::time::timeout(left, client.recv()).await {
            Ok(Err(phial::socket::testing::ClientError::Closed)) => return true,
            Ok(_) => continue,
            Err(_) => return false,
        }
    }
}
