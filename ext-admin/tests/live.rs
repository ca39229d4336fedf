//! Live pages: the panel's Socket.IO namespace refuses a visitor who is
//! not signed in, lets staff watch the models they may view (and no
//! other), and tells them of each write with the row's key.

mod common;

use common::library::{ROOT, live_library, seed, sign_in};
use phial_admin::{assign_role, create_role, create_user};
use phial_socket::testing::SocketClient;
use serde_json::{Value, json};

#[tokio::test]
async fn live_pages_watch_only_what_staff_may_view() {
    let dir = tempfile::tempdir().unwrap();
    let (app, db) = live_library(dir.path()).await;
    seed(&db).await;
    let http = app.test_client();
    // Not signed in to the admin: refused at connect (by the panel, not
    // for want of the namespace; the control connects below).
    let refused = SocketClient::connect(&http, "/phial-admin").await.err();
    let reason = format!("{:?}", refused.expect("refused"));
    assert!(!reason.contains("Invalid namespace"), "{reason}");
    create_user(&db, "viewer", ROOT.1, false).await.unwrap();
    create_role(&db, "readers", "lib_post.view").await.unwrap();
    assign_role(&db, "viewer", "readers").await.unwrap();
    assert_eq!(sign_in(&http, "viewer", ROOT.1).await, 303);
    let live = SocketClient::connect(&http, "/phial-admin").await.unwrap();
    let ok: Value = live
        .emit_with_ack("watch", &json!("lib_post"))
        .await
        .unwrap();
    assert_eq!(ok["ok"], true, "{ok}");
    let refused: Value = live
        .emit_with_ack("watch", &json!("lib_comment"))
        .await
        .unwrap();
    assert!(
        refused["error"].is_string(),
        "no lib_comment.view grant: {refused}"
    );
    // A write through the app's `Db` reaches the watcher.
    let id = {
        use phial_orm::Db;
        use sea_orm::Set;
        let written = Db::insert(
            &db,
            common::library::post::ActiveModel {
                author_id: Set(1),
                title: Set("fresh".into()),
                body: Set("b".into()),
                published: Set(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        written.id
    };
    let event = live.recv_event("changed").await.unwrap();
    let change: Value = event.arg(0);
    assert_eq!(change["table"], "lib_post");
    assert_eq!(change["keys"], json!([id]));
}
