//! One query layer: the admin's list and the REST API read the same query
//! string the same way. For every operator (and search, sort and pages) a
//! filtered admin list and `/api/...` with the same query return the same
//! rows, and those are the rows the filter means (checked against the
//! rows in Rust), on SQLite, PostgreSQL and MariaDB. Then a fuzzer sends
//! both surfaces random query strings — unknown fields and operators,
//! huge numbers, bad cursors, dates, wildcards, control characters — and
//! none is answered with a server error.

use chrono::NaiveDateTime;
use phial_admin::{Admin, ModelView, create_user};
use phial_core::testing::{TestClient, TestResponse};
use phial_core::{App, Config};
use phial_migrate::Migrate;
use phial_orm::{Db, Orm};
use phial_rest::{Resource, Rest};
use sea_orm::{ActiveValue::Set, ConnectionTrait};
use serde_json::Value;

mod common;

mod gadget {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "admin_gadget")]
    #[expect(unreachable_pub, reason = "sea-orm's derive makes public items")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        #[sea_orm(column_type = "String(StringLen::N(40))")]
        pub name: String,
        pub qty: i32,
        pub price: f64,
        pub active: bool,
        pub made_at: DateTime,
        #[sea_orm(column_type = "String(StringLen::N(40))", nullable)]
        pub note: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    #[expect(unreachable_pub, reason = "sea-orm's derive makes public items")]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

const PASSWORD: &str = "correct horse battery";
const FIELDS: [&str; 6] = ["name", "qty", "price", "active", "made_at", "note"];

/// A row as written: (name, qty, price, active, made_at, note).
type Written = (
    &'static str,
    i32,
    f64,
    bool,
    &'static str,
    Option<&'static str>,
);

const ROWS: [Written; 8] = [
    ("alpha", 1, 1.5, true, "2026-12-01T09:00:00", None),
    (
        "beta",
        2,
        2.5,
        false,
        "2026-12-02T00:00:00",
        Some("fragile"),
    ),
    ("gamma", 3, 3.0, true, "2026-12-02T12:30:00", Some("")),
    ("delta", 3, 9.25, false, "2026-12-02T23:59:59", None),
    (
        "Epsilon",
        5,
        0.5,
        true,
        "2026-12-03T00:00:00",
        Some("50%_off"),
    ),
    (
        "zeta",
        8,
        12.0,
        true,
        "2026-12-04T08:00:00",
        Some("Fragile too"),
    ),
    ("eta", -2, 2.5, false, "2025-01-31T10:00:00", None),
    ("theta", 13, 100.0, true, "2027-06-01T18:45:00", Some("x")),
];

type Row = (
    i32,
    &'static str,
    i32,
    f64,
    bool,
    NaiveDateTime,
    Option<&'static str>,
);

fn rows() -> Vec<Row> {
    ROWS.iter()
        .enumerate()
        .map(|(i, (n, q, p, a, m, note))| {
            let m = NaiveDateTime::parse_from_str(m, "%Y-%m-%dT%H:%M:%S").unwrap();
            (i as i32 + 1, *n, *q, *p, *a, m, *note)
        })
        .collect()
}

async fn app(url: &Option<String>, dir: &std::path::Path) -> App {
    let mut config = Config::testing()
        .set("instance_path", dir.display().to_string())
        .set("migrate.auto_upgrade", false)
        .set("session.store", "memory")
        .set("rest.cache", false);
    if let Some(url) = url {
        config = config.set("database.url", url);
    }
    let app = App::builder(config)
        .register(Orm::new())
        .register(Migrate::new())
        .register(
            Rest::new().resource(
                Resource::<gadget::Entity>::new()
                    .path("gadgets")
                    .filterable(FIELDS)
                    .sortable(["name", "qty", "price", "made_at"])
                    .searchable(["name", "note"]),
            ),
        )
        .register(
            Admin::new().model(
                ModelView::<gadget::Entity>::new()
                    .list(["id", "name", "qty", "price", "active", "made_at", "note"])
                    .filters(FIELDS)
                    .sortable(["name", "qty", "price", "made_at"])
                    .search(["name", "note"])
                    .per_page(100),
            ),
        )
        .build()
        .await
        .unwrap();
    let db = Db::from_state(app.state()).unwrap();
    common::fresh_tables(&db, gadget::Entity).await;
    for (_, name, qty, price, active, made_at, note) in rows() {
        db.insert(gadget::ActiveModel {
            name: Set(name.into()),
            qty: Set(qty),
            price: Set(price),
            active: Set(active),
            made_at: Set(made_at),
            note: Set(note.map(str::to_owned)),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    create_user(&db, "root", PASSWORD, true).await.unwrap();
    app
}

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn signed_in(app: &App) -> TestClient {
    common::signed_in(app, "root", PASSWORD).await
}

/// The keys of the rows an admin list page shows, in order.
fn admin_keys(res: &TestResponse) -> Vec<i32> {
    let html = res.text();
    html.split("data-key=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next()?.parse().ok())
        .collect()
}

fn api_keys(res: &TestResponse) -> Vec<i32> {
    let body: Value = res.json();
    body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|r| r["id"].as_i64().unwrap() as i32)
        .collect()
}

type Case = (&'static str, fn(&Row) -> bool);

fn day(r: &Row) -> String {
    r.5.format("%Y-%m-%d").to_string()
}

/// Every operator on every kind of field, with what it means.
fn cases() -> Vec<Case> {
    vec![
        ("name=alpha", |r| r.1 == "alpha"),
        ("name__eq=beta", |r| r.1 == "beta"),
        ("name__ne=beta", |r| r.1 != "beta"),
        ("name__contains=PS", |r| r.1.to_lowercase().contains("ps")),
        ("name__in=alpha,gamma,nobody", |r| {
            ["alpha", "gamma"].contains(&r.1)
        }),
        // (Lower case on both sides: how upper case sorts is the
        // database's collation.)
        ("name__ge=t", |r| r.1 >= "t"),
        ("qty=3", |r| r.2 == 3),
        ("qty__ne=3", |r| r.2 != 3),
        ("qty__lt=3", |r| r.2 < 3),
        ("qty__le=3", |r| r.2 <= 3),
        ("qty__gt=3", |r| r.2 > 3),
        ("qty__ge=3", |r| r.2 >= 3),
        ("qty__in=1,5,-2", |r| [1, 5, -2].contains(&r.2)),
        ("qty__ge=2&qty__le=5", |r| (2..=5).contains(&r.2)),
        ("price__ge=2.5", |r| r.3 >= 2.5),
        ("price__lt=2.5", |r| r.3 < 2.5),
        ("price__in=2.5,100", |r| r.3 == 2.5 || r.3 == 100.0),
        ("active=true", |r| r.4),
        ("active__eq=false", |r| !r.4),
        ("active__ne=true", |r| !r.4),
        ("made_at=2026-12-02", |r| day(r) == "2026-12-02"),
        ("made_at__ne=2026-12-02", |r| day(r) != "2026-12-02"),
        ("made_at__le=2026-12-02", |r| {
            day(r).as_str() <= "2026-12-02"
        }),
        ("made_at__lt=2026-12-02", |r| day(r).as_str() < "2026-12-02"),
        ("made_at__gt=2026-12-02", |r| day(r).as_str() > "2026-12-02"),
        ("made_at__ge=2026-12-02", |r| {
            day(r).as_str() >= "2026-12-02"
        }),
        ("made_at__in=2026-12-01,2026-12-03", |r| {
            ["2026-12-01", "2026-12-03"].contains(&day(r).as_str())
        }),
        ("made_at__lt=2026-12-02T12:30:00", |r| {
            r.5 < NaiveDateTime::parse_from_str("2026-12-02T12:30:00", "%Y-%m-%dT%H:%M:%S").unwrap()
        }),
        ("note__is_null=true", |r| r.6.is_none()),
        ("note__is_null=false", |r| r.6.is_some()),
        ("note__contains=fragile", |r| {
            r.6.is_some_and(|n| n.to_lowercase().contains("fragile"))
        }),
        ("note__contains=%25_", |r| {
            r.6.is_some_and(|n| n.contains("%_"))
        }),
        ("q=fragile", |r| {
            r.1.contains("fragile") || r.6.is_some_and(|n| n.to_lowercase().contains("fragile"))
        }),
        ("q=ETA&active=false", |r| r.1.contains("eta") && !r.4),
    ]
}

/// Cases whose order is the point: the same order on both surfaces.
const SORTS: [(&str, &[i32]); 4] = [
    ("sort=-qty", &[8, 6, 5, 3, 4, 2, 1, 7]),
    ("sort=price,-name", &[5, 1, 7, 2, 3, 4, 6, 8]),
    ("sort=made_at&qty__ge=3", &[3, 4, 5, 6, 8]),
    ("sort=-qty,name&per_page=3&page=2", &[4, 3, 2]),
];

#[tokio::test]
async fn the_admin_and_the_api_answer_one_query_string_alike() {
    let _one_at_a_time = SERIAL.lock().await;
    for (db_name, url) in phial_core::testing::sql_databases().await {
        let dir = tempfile::tempdir().unwrap();
        let app = app(&url, dir.path()).await;
        let admin = signed_in(&app).await;
        let api = app.test_client();
        let all = rows();
        let mut checked = 0;
        for (query, means) in cases() {
            let mut want: Vec<i32> = all.iter().filter(|r| means(r)).map(|r| r.0).collect();
            want.sort();
            let a = admin
                .get(&format!("/admin/admin_gadget/?{query}"))
                .send()
                .await;
            assert_eq!(a.status(), 200, "{db_name} admin {query}: {}", a.text());
            let r = api
                .get(&format!("/api/gadgets?{query}&per_page=100"))
                .send()
                .await;
            assert_eq!(r.status(), 200, "{db_name} api {query}: {}", r.text());
            let (mut from_admin, mut from_api) = (admin_keys(&a), api_keys(&r));
            from_admin.sort();
            from_api.sort();
            assert_eq!(from_api, want, "{db_name} api {query}");
            assert_eq!(from_admin, want, "{db_name} admin {query}");
            checked += 1;
        }
        for (query, want) in SORTS {
            let a = admin
                .get(&format!("/admin/admin_gadget/?{query}"))
                .send()
                .await;
            let sep = if query.contains("per_page") {
                ""
            } else {
                "&per_page=100"
            };
            let r = api.get(&format!("/api/gadgets?{query}{sep}")).send().await;
            assert_eq!(a.status(), 200, "{db_name} admin {query}: {}", a.text());
            assert_eq!(api_keys(&r), want, "{db_name} api {query}");
            assert_eq!(admin_keys(&a), want, "{db_name} admin {query}");
            checked += 1;
        }
        // The same mistakes, the same reasons.
        for (query, reason) in [
            ("qty__near=3", "unknown filter operator `near`"),
            ("qty=three", "`qty` must be a whole number, not `three`"),
            (
                "active=maybe",
                "`active` must be true or false, not `maybe`",
            ),
            ("sort=active", "cannot sort on `active`"),
            ("page=0", "`page` counts from 1"),
            ("page=99999999999", "`page` goes up to 1000000000"),
            ("colour=red", "unknown query parameter `colour`"),
            ("qty__contains=3", "`contains` works on text"),
            (
                "note__is_null=perhaps",
                "`note__is_null` must be true or false",
            ),
        ] {
            let a = admin
                .get(&format!("/admin/admin_gadget/?{query}"))
                .send()
                .await;
            let r = api.get(&format!("/api/gadgets?{query}")).send().await;
            assert_eq!(a.status(), 400, "{db_name} admin {query}");
            assert_eq!(r.status(), 400, "{db_name} api {query}");
            assert!(
                a.text().contains(reason),
                "{db_name} admin {query}: {}",
                a.text()
            );
            assert!(
                r.text().contains(reason),
                "{db_name} api {query}: {}",
                r.text()
            );
        }
        let long: Vec<String> = (0..101).map(|i| i.to_string()).collect();
        let query = format!("qty__in={}", long.join(","));
        for (surface, path) in [("admin", "/admin/admin_gadget/"), ("api", "/api/gadgets")] {
            let client = if surface == "admin" { &admin } else { &api };
            let res = client.get(&format!("{path}?{query}")).send().await;
            assert_eq!(res.status(), 400, "{db_name} {surface}");
            assert!(
                res.text().contains("at most 100"),
                "{db_name} {surface}: {}",
                res.text()
            );
        }
        // Control: a hundred values are taken.
        let query = format!("qty__in={}", long[..100].join(","));
        let res = api.get(&format!("/api/gadgets?{query}")).send().await;
        assert_eq!(res.status(), 200, "{db_name}: {}", res.text());
        let mut io = std::io::stderr();
        let _ = std::io::Write::write_fmt(
            &mut io,
            format_args!("one_grammar: {db_name}: {checked} queries alike on both surfaces\n"),
        );
    }
}

/// A small, seeded generator (xorshift): the same run can be replayed
/// with `PHIAL_FUZZ_SEED`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

fn fuzz_query(rng: &mut Rng) -> String {
    const KEYS: [&str; 14] = [
        "name", "qty", "price", "active", "made_at", "note", "id", "colour", "page", "per_page",
        "cursor", "sort", "q", "_partial",
    ];
    const OPS: [&str; 12] = [
        "",
        "__eq",
        "__ne",
        "__lt",
        "__le",
        "__gt",
        "__ge",
        "__contains",
        "__in",
        "__is_null",
        "__near",
        "__",
    ];
    const VALUES: [&str; 30] = [
        "",
        "0",
        "-1",
        "1",
        "3",
        "2.5",
        "1e400",
        "NaN",
        "-0",
        "true",
        "false",
        "yes",
        "18446744073709551615",
        "18446744073709551616",
        "9223372036854775807",
        "-9223372036854775808",
        "400000000000000000",
        "2026-12-02",
        "2026-13-45",
        "2026-12-02T12:30:00",
        "9999-12-31T23:59:59",
        "%",
        "_",
        "\\",
        "'; DROP TABLE x; --",
        "%00",
        "%0d%0a",
        "a,b,,c",
        "WzEsMl0",
        "-qty,name,-",
    ];
    let mut parts = Vec::new();
    for _ in 0..(1 + rng.next() % 4) {
        let key = rng.pick(&KEYS);
        let op = if ["page", "per_page", "cursor", "sort", "q", "_partial"].contains(&key) {
            ""
        } else {
            rng.pick(&OPS)
        };
        let value = if rng.next().is_multiple_of(5) {
            // A cursor that decodes to JSON of the wrong shape.
            ["WyJhIl0", "eyJhIjoxfQ", "W251bGwsbnVsbF0", "WzEsMiwzLDRd"][(rng.next() % 4) as usize]
                .to_owned()
        } else {
            let mut v = rng.pick(&VALUES).to_owned();
            if op == "__in" {
                v = format!("{v},{}", rng.pick(&VALUES));
            }
            v
        };
        let value = if value.contains('%') && !value.starts_with("%0") {
            value.replace('%', "%25")
        } else {
            value
        };
        parts.push(format!(
            "{key}{op}={}",
            value.replace(' ', "+").replace(',', "%2C")
        ));
    }
    parts.join("&")
}

#[tokio::test]
async fn random_query_strings_never_reach_a_server_error() {
    let _one_at_a_time = SERIAL.lock().await;
    let seed = std::env::var("PHIAL_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x9e37_79b9_7f4a_7c15_u64);
    for (db_name, url) in phial_core::testing::sql_databases().await {
        let dir = tempfile::tempdir().unwrap();
        let app = app(&url, dir.path()).await;
        let admin = signed_in(&app).await;
        let api = app.test_client();
        let mut rng = Rng(seed);
        let (mut ok, mut refused) = (0, 0);
        for _ in 0..400 {
            let query = fuzz_query(&mut rng);
            for (surface, client, path) in [
                ("admin", &admin, "/admin/admin_gadget/"),
                ("admin csv", &admin, "/admin/admin_gadget/export.csv"),
                ("api", &api, "/api/gadgets"),
            ] {
                let res = client.get(&format!("{path}?{query}")).send().await;
                let status = res.status().as_u16();
                assert!(
                    status < 500,
                    "{db_name} {surface} ?{query} (seed {seed}): {status} {}",
                    res.text()
                );
                match status {
                    200 | 308 => ok += 1,
                    400 => {
                        refused += 1;
                        assert!(
                            res.text().len() > 20,
                            "{db_name} {surface} ?{query}: a reason"
                        );
                    }
                    other => panic!("{db_name} {surface} ?{query}: {other} {}", res.text()),
                }
            }
        }
        assert!(
            ok > 50 && refused > 50,
            "{db_name}: {ok} served, {refused} refused"
        );
        let mut io = std::io::stderr();
        let _ = std::io::Write::write_fmt(
            &mut io,
            format_args!(
                "one_grammar fuzz: {db_name}: {} requests, {ok} served, {refused} refused with a reason, 0 server errors (seed {seed})\n",
                ok + refused
            ),
        );
    }
}

#[tokio::test]
async fn csv_export_walks_every_row_once_in_order_by_keyset() {
    let _one_at_a_time = SERIAL.lock().await;
    for (db_name, url) in phial_core::testing::sql_databases().await {
        let dir = tempfile::tempdir().unwrap();
        let app = app(&url, dir.path()).await;
        let db = Db::from_state(app.state()).unwrap();
        // 1,242 rows in all, their `qty` repeating: pages of 500 break
        // inside runs of equal values, where only the key orders rows.
        for chunk in 0..4 {
            let values: Vec<String> = (0..1234 / 4 + 1)
                .map(|i| {
                    let n = chunk * 1000 + i;
                    format!(
                        "('n{n}', {}, 1.0, TRUE, '2026-12-05 10:00:00', NULL)",
                        n % 7
                    )
                })
                .collect();
            db.conn()
                .execute_unprepared(&format!(
                    "INSERT INTO admin_gadget (name, qty, price, active, made_at, note) VALUES {}",
                    values.join(",")
                ))
                .await
                .unwrap();
        }
        let admin = signed_in(&app).await;
        let res = admin
            .get("/admin/admin_gadget/export.csv?sort=-qty&qty__ge=0")
            .send()
            .await;
        assert_eq!(res.status(), 200, "{db_name}: {}", res.text());
        let text = res.text();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let (id_at, qty_at) = (
            header.iter().position(|h| *h == "id").unwrap(),
            header.iter().position(|h| *h == "qty").unwrap(),
        );
        let got: Vec<(i32, i32)> = lines
            .map(|l| {
                let cells: Vec<&str> = l.split(',').collect();
                (
                    cells[qty_at].parse().unwrap(),
                    cells[id_at].parse().unwrap(),
                )
            })
            .collect();
        let mut want = got.clone();
        want.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        assert_eq!(got, want, "{db_name}: in the list's order");
        let mut ids: Vec<i32> = got.iter().map(|(_, id)| *id).collect();
        ids.sort();
        ids.dedup();
        let expected = rows().iter().filter(|r| r.2 >= 0).count() + 4 * (1234 / 4 + 1);
        assert_eq!(ids.len(), expected, "{db_name}: every row once");
        assert_eq!(got.len(), expected, "{db_name}: no row twice");
    }
}
