//! Every class of bad input gets a problem+json 4xx that names what is
//! wrong — never a 500, never a partial write. Bulk creates are all or
//! nothing.

mod common;

use common::{Api, SERIAL, api, bearer};
use http::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

async fn each_backend(mut f: impl AsyncFnMut(Api)) {
    let _serial = SERIAL.lock().await;
    for (name, url) in phial_core::testing::sql_databases().await {
        f(api(name, &url, |c| c.set("rest.bulk_limit", 10_000)).await).await;
    }
}

/// The problem's status, detail and `(index, field, code)` of each error.
async fn problem(
    res: phial_core::testing::TestResponse,
) -> (u16, String, Vec<(Option<u64>, String, String)>) {
    assert_eq!(
        res.header("content-type"),
        Some("application/problem+json"),
        "{}",
        res.text()
    );
    let body: Value = res.json();
    let errors = body["errors"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|e| {
                    (
                        e["index"].as_u64(),
                        e["field"].as_str().unwrap().to_owned(),
                        e["code"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        body["status"].as_u64(),
        Some(u64::from(res.status().as_u16())),
        "{body}"
    );
    (
        body["status"].as_u64().unwrap() as u16,
        body["detail"].as_str().unwrap().to_owned(),
        errors,
    )
}

fn e(field: &str, code: &str) -> (Option<u64>, String, String) {
    (None, field.to_owned(), code.to_owned())
}

#[tokio::test]
async fn bad_bodies_are_422s_listing_every_field() {
    each_backend(async |api: Api| {
        let name = api.name;
        let post = |body: Value| {
            api.client
                .post("/api/authors")
                .header("authorization", &bearer())
                .json(&body)
                .send()
        };
        let (status, _, errors) = problem(post(json!({"nmae": "x", "email": 5})).await).await;
        assert_eq!(status, 422, "{name}");
        assert_eq!(
            errors,
            [
                e("email", "type"),
                e("name", "required"),
                e("nmae", "unknown")
            ],
            "{name}"
        );
        let (status, detail, errors) =
            problem(post(json!({"name": "x".repeat(41), "email": null})).await).await;
        assert_eq!(status, 422, "{name}");
        assert_eq!(
            errors,
            [e("email", "null"), e("name", "too_long")],
            "{name}"
        );
        assert!(detail.contains("2 fields"), "{detail}");
        let (status, _, _) = problem(post(json!(["not", "an", "object"])).await).await;
        assert_eq!(status, 422, "{name}");

        let res = api
            .client
            .post("/api/authors")
            .header("authorization", &bearer())
            .header("content-type", "application/json")
            .body("{\"name\": ")
            .send()
            .await;
        let (status, detail, _) = problem(res).await;
        assert_eq!(status, 400, "{name}");
        assert!(detail.contains("not valid JSON"), "{detail}");

        // A form post (what another site could make a browser send) is refused.
        let res = api
            .client
            .post("/api/authors")
            .header("authorization", &bearer())
            .form(&[("name", "x"), ("email", "y")])
            .send()
            .await;
        assert_eq!(problem(res).await.0, 415, "{name}");

        // Unique values: 409. A post whose author does not exist: 422.
        assert_eq!(
            post(json!({"name": "a", "email": "same@x"})).await.status(),
            StatusCode::CREATED
        );
        let (status, detail, _) =
            problem(post(json!({"name": "b", "email": "same@x"})).await).await;
        assert_eq!(status, 409, "{name}");
        assert!(detail.contains("email"), "{detail}");
        let res = api
            .client
            .post("/api/posts")
            .header("authorization", &bearer())
            .json(&json!({"author_id": 999, "title": "t", "body": "b"}))
            .send()
            .await;
        let (status, _, errors) = problem(res).await;
        assert_eq!(status, 422, "{name}");
        assert_eq!(errors, [e("author_id", "no_such_row")], "{name}");
        assert_eq!(
            common::post::Entity::find()
                .count(api.db.conn())
                .await
                .unwrap(),
            0,
            "{name}"
        );
        api.app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn bad_queries_and_ids_are_400s_and_404s_that_name_the_parameter() {
    each_backend(async |api: Api| {
        let name = api.name;
        let cases = [
            ("/api/posts?colour=red", "unknown query parameter `colour`"),
            ("/api/posts?body=x", "`body` is not filterable"),
            ("/api/posts?title__like=x", "unknown filter operator `like`"),
            ("/api/posts?sort=body", "cannot sort on `body`"),
            ("/api/posts?per_page=51", "between 1 and 50"),
            ("/api/posts?per_page=0", "between 1 and 50"),
            ("/api/posts?page=0", "counts from 1"),
            ("/api/posts?page=x", "`page` must be a whole number"),
            ("/api/posts?page=1&page=2", "`page` is given twice"),
            (
                "/api/posts?author_id=abc",
                "`author_id` must be a whole number",
            ),
            (
                "/api/posts?published=maybe",
                "`published` must be true or false",
            ),
            (
                "/api/posts?created_at__ge=yesterday",
                "`created_at` must be",
            ),
            (
                "/api/posts?author_id__contains=1",
                "`contains` works on text",
            ),
            ("/api/posts?title__is_null=perhaps", "must be true or false"),
            (
                "/api/posts?cursor=%%%",
                "`cursor` is not one this API gave out",
            ),
            ("/api/posts?cursor=WzFd&page=1", "not both"),
            (
                "/api/posts?sort=title&cursor=WzFd",
                "does not belong to this sort",
            ),
            (
                "/api/posts?cursor=WyJ4Il0",
                "`cursor` is not one this API gave out",
            ),
            ("/api/posts?q=x&q=y", "`q` is given twice"),
            (
                "/api/authors?password_hash=x",
                "unknown query parameter `password_hash`",
            ),
            (
                "/api/posts?page=18446744073709551615&per_page=50",
                "goes up to 1000000000",
            ),
        ];
        for (url, expected) in cases {
            let (status, detail, _) = problem(api.client.get(url).send().await).await;
            assert_eq!(status, 400, "{name} {url}: {detail}");
            assert!(detail.contains(expected), "{name} {url}: {detail}");
        }
        for url in [
            "/api/posts/abc",
            "/api/posts/99",
            "/api/posts/1,2",
            "/api/posts/%FF",
        ] {
            let (status, _, _) = problem(api.client.get(url).send().await).await;
            assert_eq!(status, 404, "{name} {url}");
        }
        let res = api
            .client
            .delete("/api/posts/1")
            .header("authorization", &bearer())
            .send()
            .await;
        assert_eq!(problem(res).await.0, 404, "{name}");
        api.app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn bulk_creates_are_all_or_nothing() {
    each_backend(async |api: Api| {
        let name = api.name;
        let author: Value = api
            .client
            .post("/api/authors")
            .header("authorization", &bearer())
            .json(&json!({"name": "Ada", "email": "ada@example.com"}))
            .send()
            .await
            .json();
        let row =
            |i: usize| json!({"author_id": author["id"], "title": format!("p{i}"), "body": "b"});
        let bulk = |rows: Vec<Value>| {
            api.client
                .post("/api/posts/bulk")
                .header("authorization", &bearer())
                .json(&rows)
                .send()
        };
        let count = async || {
            common::post::Entity::find()
                .count(api.db.conn())
                .await
                .unwrap()
        };

        // Rows that fail validation: every one is named, nothing is written.
        let mut rows: Vec<Value> = (0..100).map(row).collect();
        rows[3]["title"] = json!("x".repeat(101));
        rows[70].as_object_mut().unwrap().remove("body");
        rows[71]["nope"] = json!(1);
        let (status, detail, errors) = problem(bulk(rows).await).await;
        assert_eq!(status, 422, "{name}");
        assert!(detail.contains("no row was created"), "{detail}");
        assert_eq!(
            errors,
            [
                (Some(3), "title".into(), "too_long".into()),
                (Some(70), "body".into(), "required".into()),
                (Some(71), "nope".into(), "unknown".into()),
            ],
            "{name}"
        );
        assert_eq!(count().await, 0, "{name}");

        // A row the database refuses half-way (a missing author): the rows
        // before it are rolled back.
        let mut rows: Vec<Value> = (0..5000).map(row).collect();
        rows[4000]["author_id"] = json!(12345);
        let (status, _, _) = problem(bulk(rows).await).await;
        assert_eq!(status, 422, "{name}");
        assert_eq!(
            count().await,
            0,
            "{name}: nothing of the failed batch stays"
        );

        // Over the limit: refused before anything is read into models.
        let rows: Vec<Value> = (0..10_001).map(row).collect();
        let (status, detail, errors) = problem(bulk(rows).await).await;
        assert_eq!(status, 422, "{name}");
        assert!(detail.contains("more than 10000"), "{detail}");
        assert_eq!(errors, [(None, String::new(), "too_many_rows".to_owned())]);

        // Ten thousand rows in one request.
        let rows: Vec<Value> = (0..10_000).map(row).collect();
        let res = bulk(rows).await;
        assert_eq!(res.status(), StatusCode::CREATED, "{name}: {}", res.text());
        assert_eq!(res.json::<Value>(), json!({"created": 10_000}));
        assert_eq!(count().await, 10_000, "{name}");
        api.app.shutdown().await;
    })
    .await;
}
