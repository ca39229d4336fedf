//! Signing in to the panel: anonymous visitors are sent to the form, a
//! wrong password is refused, and the sign-ins of one account are
//! throttled after `auth.attempts` failures — even with the right password.

mod common;

use common::library::{ROOT, library, sign_in};

#[tokio::test]
async fn anonymous_visitors_are_sent_to_sign_in_and_wrong_passwords_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _db) = library(&None, dir.path(), |c| c.set("auth.attempts", 3)).await;
    let http = app.test_client();
    let res = http.get("/admin/").send().await;
    assert_eq!(res.status(), 303, "{}", res.text());
    assert!(
        res.header("location")
            .unwrap()
            .starts_with("/admin/login?next=%2Fadmin%2F")
    );
    let html = http.get("/admin/login").send().await.text();
    for field in [
        "name=\"username\"",
        "name=\"password\"",
        "name=\"csrf_token\"",
    ] {
        assert!(html.contains(field), "{field} missing: {html}");
    }
    // Control: the right password signs in (a success clears the
    // account's failures, so it comes first).
    let other = app.test_client();
    assert_eq!(sign_in(&other, ROOT.0, ROOT.1).await, 303);
    assert_eq!(other.get("/admin/post/").send().await.status(), 200);
    assert_eq!(sign_in(&http, ROOT.0, "wrong password").await, 401);
    assert_eq!(http.get("/admin/post/").send().await.status(), 303);
    // Throttled after the limit, even with the right password.
    assert_eq!(sign_in(&http, ROOT.0, "wrong again").await, 401);
    assert_eq!(sign_in(&http, ROOT.0, "and again").await, 401);
    assert_eq!(sign_in(&http, ROOT.0, ROOT.1).await, 429);
}
