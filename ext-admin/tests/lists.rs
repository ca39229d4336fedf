//! A model's list: the dashboard and the app's own page in the menu, rows
//! with their related names, filters in the API's grammar (the admin's
//! first form redirects), mistakes named in a 400, search, sorting and
//! pages.

mod common;

use common::library::{ROOT, library, new_post, seed, sign_in};

#[tokio::test]
async fn a_superuser_lists_searches_filters_sorts_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let (app, db) = library(&None, dir.path(), |c| c).await;
    let (published, draft) = seed(&db).await;
    let http = app.test_client();
    assert_eq!(sign_in(&http, ROOT.0, ROOT.1).await, 303);
    let dash = http.get("/admin/").send().await;
    assert_eq!(dash.status(), 200);
    let dash = dash.text();
    assert!(dash.contains("Posts"), "{dash}");
    // The app's own page is in the menu, and renders in the layout.
    assert!(dash.contains("Statistics"), "{dash}");
    let stats = http.get("/admin/pages/stats").send().await.text();
    assert!(stats.contains("Published posts</dt><dd>1</dd>"), "{stats}");

    let list = http.get("/admin/post/").send().await.text();
    assert!(
        list.contains(&format!("data-key=\"{published}\"")),
        "{list}"
    );
    assert!(list.contains(&format!("data-key=\"{draft}\"")), "{list}");
    assert!(
        list.contains("Ada"),
        "the author's name stands for author_id: {list}"
    );
    let drafts = http.get("/admin/post/?published=false").send().await.text();
    assert!(drafts.contains(&format!("data-key=\"{draft}\"")));
    assert!(!drafts.contains(&format!("data-key=\"{published}\"")));
    // The admin's first filter form redirects to the API's grammar.
    let old = http.get("/admin/post/?f.published=false").send().await;
    assert_eq!(old.status(), 308);
    assert_eq!(
        old.header("location").unwrap(),
        "/admin/post/?published=false"
    );
    // Mistakes are a 400 naming the parameter.
    for (query, reason) in [
        (
            "published=maybe",
            "`published` must be true or false, not `maybe`",
        ),
        ("sort=body", "cannot sort on `body`"),
        ("page=0", "page"),
    ] {
        let bad = http.get(&format!("/admin/post/?{query}")).send().await;
        assert_eq!(bad.status(), 400, "{query}");
        let bad = bad.text();
        assert!(bad.contains(reason), "{query}: {bad}");
    }

    // Search, sorting and pages over more rows.
    for i in 0..30 {
        new_post(&db, &format!("needle {i:02}"), false).await;
    }
    let found = http
        .get("/admin/post/?q=NEEDLE&sort=title")
        .send()
        .await
        .text();
    assert!(found.contains("30 posts"), "{found}");
    let first = found.find("needle 00").expect("sorted by title");
    assert!(found.find("needle 01").unwrap() > first);
    assert!(!found.contains("needle 29"), "25 a page");
    let page2 = http
        .get("/admin/post/?q=needle&sort=title&page=2")
        .send()
        .await
        .text();
    assert!(page2.contains("needle 29") && !page2.contains("needle 00"));
    let desc = http
        .get("/admin/post/?q=needle&sort=-title")
        .send()
        .await
        .text();
    assert!(desc.find("needle 29").unwrap() < desc.find("needle 28").unwrap());
}
