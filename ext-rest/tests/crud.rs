//! Every operation of a generated resource, on SQLite, PostgreSQL and
//! MariaDB: the happy path, ETags, guards and the policy.

mod common;

use common::{Api, SERIAL, api, bearer};
use http::StatusCode;
use phial_core::changes::Operation as ChangeOp;
use serde_json::{Value, json};

async fn each_backend(mut f: impl AsyncFnMut(Api)) {
    let _serial = SERIAL.lock().await;
    for (name, url) in phial_core::testing::sql_databases().await {
        f(api(name, &url, |c| c).await).await;
    }
}

async fn new_author(api: &Api, name: &str, email: &str) -> Value {
    let res = api
        .client
        .post("/api/authors")
        .header("authorization", &bearer())
        .json(&json!({"name": name, "email": email}))
        .send()
        .await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}: {}",
        api.name,
        res.text()
    );
    res.json()
}

#[tokio::test]
async fn create_get_update_replace_delete() {
    each_backend(async |api: Api| {
        let name = api.name;
        let mut changes = api.app.state().changes().subscribe();
        let res = api
            .client
            .post("/api/authors")
            .header("authorization", &bearer())
            .json(&json!({"name": "Ada", "email": "ada@example.com", "id": 777, "password_hash": "x"}))
            .send()
            .await;
        assert_eq!(res.status(), StatusCode::CREATED, "{name}: {}", res.text());
        let ada: Value = res.json();
        let id = ada["id"].as_i64().unwrap();
        assert_ne!(id, 777, "{name}: the key is read-only");
        assert_eq!(ada, json!({"id": id, "name": "Ada", "email": "ada@example.com"}), "{name}");
        assert_eq!(res.header("location"), Some(format!("/api/authors/{id}").as_str()));
        let created_tag = res.header("etag").unwrap().to_owned();
        let change = changes.recv().await.unwrap();
        assert_eq!((change.table.as_str(), change.op), ("rest_test_author", ChangeOp::Insert));

        // Hidden fields are never written: the hash stayed the default.
        let stored = <common::author::Entity as sea_orm::EntityTrait>::find_by_id(id as i32)
            .one(api.db.conn())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.password_hash, "", "{name}");

        let res = api.client.get(&format!("/api/authors/{id}")).send().await;
        assert_eq!(res.status(), StatusCode::OK, "{name}");
        assert_eq!(res.json::<Value>(), ada);
        let tag = res.header("etag").unwrap().to_owned();
        assert_eq!(tag, created_tag, "{name}: same representation, same tag");
        assert!(tag.starts_with('"') && !tag.starts_with("W/"), "{tag}");

        let res = api
            .client
            .get(&format!("/api/authors/{id}"))
            .header("if-none-match", &tag)
            .send()
            .await;
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED, "{name}");
        assert!(res.bytes().is_empty());

        let res = api
            .client
            .patch(&format!("/api/authors/{id}"))
            .header("authorization", &bearer())
            .header("if-match", &tag)
            .json(&json!({"name": "Ada L."}))
            .send()
            .await;
        assert_eq!(res.status(), StatusCode::OK, "{name}: {}", res.text());
        assert_eq!(res.json::<Value>()["name"], "Ada L.");
        assert_eq!(changes.recv().await.unwrap().op, ChangeOp::Update);

        // The old tag is stale now: someone else's write is not overwritten.
        let res = api
            .client
            .put(&format!("/api/authors/{id}"))
            .header("authorization", &bearer())
            .header("if-match", &tag)
            .json(&json!({"name": "Lost", "email": "lost@example.com"}))
            .send()
            .await;
        assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED, "{name}");
        assert_eq!(res.header("content-type"), Some("application/problem+json"));
        let current = api.client.get(&format!("/api/authors/{id}")).send().await;
        assert_eq!(current.json::<Value>()["name"], "Ada L.", "{name}");

        let res = api
            .client
            .put(&format!("/api/authors/{id}"))
            .header("authorization", &bearer())
            .header("if-match", current.header("etag").unwrap())
            .json(&json!({"name": "Ada Lovelace", "email": "lovelace@example.com"}))
            .send()
            .await;
        assert_eq!(res.status(), StatusCode::OK, "{name}: {}", res.text());
        assert_eq!(
            res.json::<Value>(),
            json!({"id": id, "name": "Ada Lovelace", "email": "lovelace@example.com"})
        );

        let res = api
            .client
            .delete(&format!("/api/authors/{id}"))
            .header("authorization", &bearer())
            .send()
            .await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "{name}: {}", res.text());
        let _update = changes.recv().await.unwrap();
        assert_eq!(changes.recv().await.unwrap().op, ChangeOp::Delete);
        let res = api.client.get(&format!("/api/authors/{id}")).send().await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{name}");
        assert_eq!(res.header("content-type"), Some("application/problem+json"));
        api.app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn lists_page_sort_filter_search_and_walk_cursors() {
    each_backend(async |api: Api| {
        let name = api.name;
        let author = new_author(&api, "Ada", "ada@example.com").await;
        let rows: Vec<Value> = (0..25)
            .map(|i| {
                json!({
                    "author_id": author["id"],
                    "title": format!("post {:02}", i % 10),
                    "body": if i == 7 { "The 100% _special_ one".to_owned() } else { format!("body {i}") },
                    "published": i % 2 == 0,
                })
            })
            .collect();
        let res = api
            .client
            .post("/api/posts/bulk")
            .header("authorization", &bearer())
            .json(&rows)
            .send()
            .await;
        assert_eq!(res.status(), StatusCode::CREATED, "{name}: {}", res.text());
        assert_eq!(res.json::<Value>(), json!({"created": 25}));

        // Signed in (a session): every post.
        api.client.get("/login/1").send().await;
        let page: Value = api.client.get("/api/posts?per_page=10&page=2").send().await.json();
        assert_eq!(page["total"], 25, "{name}");
        assert_eq!(page["page"], 2);
        assert_eq!(page["pages"], 3);
        assert_eq!(page["items"].as_array().unwrap().len(), 10);
        assert_eq!(page["links"]["next"], "/api/posts?per_page=10&page=3");
        assert_eq!(page["links"]["prev"], "/api/posts?per_page=10&page=1");
        assert_eq!(page["links"]["last"], "/api/posts?per_page=10&page=3");
        let past: Value = api.client.get("/api/posts?per_page=10&page=9").send().await.json();
        assert_eq!(past["items"], json!([]), "{name}: a page past the last is empty");
        assert_eq!(past["links"]["last"], "/api/posts?per_page=10&page=3");

        let sorted: Value = api
            .client
            .get("/api/posts?sort=-title,id&per_page=50")
            .send()
            .await
            .json();
        let titles: Vec<&str> = sorted["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["title"].as_str().unwrap())
            .collect();
        let mut expected = titles.clone();
        expected.sort_by(|a, b| b.cmp(a));
        assert_eq!(titles, expected, "{name}");
        assert_eq!(titles[0], "post 09");

        let filtered: Value = api
            .client
            .get("/api/posts?title=post%2003&published=false")
            .send()
            .await
            .json();
        assert_eq!(filtered["total"], 3, "{name}: posts 3, 13 and 23 ({filtered})");
        let ids: Value = api.client.get("/api/posts?id__in=1,2,3&id__ge=2").send().await.json();
        assert_eq!(ids["total"], 2, "{name}");
        let contains: Value = api.client.get("/api/posts?title__contains=OST%2003").send().await.json();
        assert_eq!(contains["total"], 3, "{name}: case-insensitive ({contains})");
        // `%` and `_` are matched as themselves, not as wildcards.
        let special: Value = api.client.get("/api/posts?q=100%25%20_spec").send().await.json();
        assert_eq!(special["total"], 1, "{name}: {special}");
        let none: Value = api.client.get("/api/posts?q=%25%25%25").send().await.json();
        assert_eq!(none["total"], 0, "{name}");
        let nulls: Value = api.client.get("/api/posts?title__is_null=true").send().await.json();
        assert_eq!(nulls["total"], 0, "{name}");

        // A cursor walk sees every row once, in order, across pages.
        let mut seen = Vec::new();
        let mut next = Some("/api/posts?sort=title&per_page=7&cursor=".to_owned());
        while let Some(url) = next {
            let page: Value = api.client.get(&url).send().await.json();
            for item in page["items"].as_array().unwrap() {
                seen.push((item["title"].as_str().unwrap().to_owned(), item["id"].as_i64().unwrap()));
            }
            next = page["links"]["next"].as_str().map(str::to_owned);
            assert!(seen.len() <= 25, "{name}: the walk does not end");
        }
        let mut expected = seen.clone();
        expected.sort();
        assert_eq!(seen, expected, "{name}");
        assert_eq!(seen.len(), 25, "{name}");

        // Anonymous readers see published posts only (the policy's rows).
        api.client.clear_cookies();
        let public: Value = api.client.get("/api/posts?per_page=50").send().await.json();
        assert_eq!(public["total"], 13, "{name}");
        assert!(public["items"].as_array().unwrap().iter().all(|p| p["published"] == true));
        let hidden = api.client.get("/api/posts/2").send().await;
        assert_eq!(hidden.status(), StatusCode::NOT_FOUND, "{name}: unpublished is not there");

        // ETags on lists.
        let res = api.client.get("/api/posts").send().await;
        let tag = res.header("etag").unwrap().to_owned();
        let again = api.client.get("/api/posts").header("if-none-match", &tag).send().await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{name}");
        api.client
            .patch("/api/posts/1")
            .header("authorization", &bearer())
            .json(&json!({"title": "changed"}))
            .send()
            .await;
        let after = api.client.get("/api/posts").header("if-none-match", &tag).send().await;
        assert_eq!(after.status(), StatusCode::OK, "{name}: a write changes the list's tag");
        api.app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn guards_and_the_policy_decide_who_writes() {
    each_backend(async |api: Api| {
        let name = api.name;
        let body = json!({"name": "Eve", "email": "eve@example.com"});
        let res = api.client.post("/api/authors").json(&body).send().await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(res.header("www-authenticate"), Some("Bearer"));
        assert_eq!(res.header("content-type"), Some("application/problem+json"));

        let wrong = api
            .client
            .post("/api/authors")
            .header("authorization", "Bearer nope")
            .json(&body)
            .send()
            .await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{name}");

        // A signed-in session user may write ...
        api.client.get("/login/42").send().await;
        let res = api.client.post("/api/authors").json(&body).send().await;
        assert_eq!(res.status(), StatusCode::CREATED, "{name}: {}", res.text());
        let author: Value = res.json();
        let post = api
            .client
            .post("/api/posts")
            .json(&json!({"author_id": author["id"], "title": "t", "body": "b"}))
            .send()
            .await;
        assert_eq!(
            post.status(),
            StatusCode::CREATED,
            "{name}: {}",
            post.text()
        );
        let post: Value = post.json();
        assert_eq!(post["published"], false, "{name}: the column's default");
        assert!(
            post["created_at"].as_str().unwrap().ends_with('Z'),
            "{post}"
        );

        // ... but deleting posts is for the `api` role (the token) only.
        let url = format!("/api/posts/{}", post["id"]);
        let res = api.client.delete(&url).send().await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{name}");
        api.client.clear_cookies();
        let res = api
            .client
            .delete(&url)
            .header("authorization", &bearer())
            .send()
            .await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "{name}");
        api.app.shutdown().await;
    })
    .await;
}
