//! A list's `total` is counted only up to `rest.count_limit`: past it a
//! list says `total_estimated: true` (the database's estimate, with a
//! `last` link by it, or the limit, with none), so a page costs the same
//! at any table size; a filter that narrows the table to a few rows is still counted
//! exactly. On SQLite, PostgreSQL and MariaDB.

mod common;

use common::{Api, SERIAL, api, bearer};
use http::StatusCode;
use serde_json::{Value, json};

const LIMIT: u64 = 5;
const ROWS: u64 = 12;

async fn each_backend(mut f: impl AsyncFnMut(Api)) {
    let _serial = SERIAL.lock().await;
    for (name, url) in phial_core::testing::sql_databases().await {
        f(api(name, &url, |c| c.set("rest.count_limit", LIMIT)).await).await;
    }
}

async fn list(api: &Api, query: &str) -> Value {
    let res = api.client.get(&format!("/api/authors{query}")).send().await;
    assert_eq!(res.status(), StatusCode::OK, "{}: {}", api.name, res.text());
    res.json()
}

#[tokio::test]
async fn totals_past_the_count_limit_are_estimates() {
    each_backend(async |api: Api| {
        let name = api.name;
        // Control: under the limit every list is counted exactly.
        let empty = list(&api, "").await;
        assert_eq!(empty["total"], 0, "{name}");
        assert_eq!(empty["total_estimated"], false, "{name}");

        for i in 0..ROWS {
            let res = api
                .client
                .post("/api/authors")
                .header("authorization", &bearer())
                .json(&json!({"name": format!("author {i:02}"), "email": format!("a{i}@example.com")}))
                .send()
                .await;
            assert_eq!(res.status(), StatusCode::CREATED, "{name}: {}", res.text());
        }

        // The whole table, past the limit: not counted in full.
        let all = list(&api, "?per_page=4").await;
        assert_eq!(all["total_estimated"], true, "{name}: {all}");
        let total = all["total"].as_u64().unwrap();
        assert!(
            (LIMIT..=ROWS).contains(&total),
            "{name}: the estimate or the limit, not a made-up number: {total}"
        );
        assert_eq!(all["items"].as_array().unwrap().len(), 4, "{name}");
        // With the database's estimate (above the limit) there is a last
        // page, by the estimate; with the limit alone there is none.
        assert_eq!(
            all["links"].get("last").is_some(),
            total > LIMIT,
            "{name}: a last page only when the estimate says where: {all}"
        );
        assert!(all["links"]["next"].is_string(), "{name}: {all}");

        // Every row is still reachable: the pages are not cut at the limit.
        let mut seen = 0;
        let mut next = Some("/api/authors?per_page=4".to_owned());
        while let Some(url) = next {
            let page: Value = api.client.get(&url).send().await.json();
            seen += page["items"].as_array().unwrap().len() as u64;
            next = page["links"]["next"].as_str().map(str::to_owned);
        }
        assert_eq!(seen, ROWS, "{name}: every row is listed");

        // A filter that narrows the table to a few rows is counted exactly.
        let few = list(&api, "?name__in=author%2001,author%2002,author%2003").await;
        assert_eq!(few["total"], 3, "{name}: {few}");
        assert_eq!(few["total_estimated"], false, "{name}");
        assert!(few["links"]["last"].is_string(), "{name}: {few}");

        // A filter that matches more than the limit says so...
        let many = list(&api, "?name__contains=author&per_page=4").await;
        assert_eq!(many["total"], LIMIT, "{name}: {many}");
        assert_eq!(many["total_estimated"], true, "{name}");
        // ...unless its page ends the list: then the page is the count.
        let whole = list(&api, "?name__contains=author&per_page=20").await;
        assert_eq!(whole["total"], ROWS, "{name}: {whole}");
        assert_eq!(whole["total_estimated"], false, "{name}");
    })
    .await;
}
