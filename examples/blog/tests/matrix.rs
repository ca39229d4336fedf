//! The permission matrix, generated from the app's own metadata: every
//! model the blog exposes × every door it is reached by (REST resources,
//! admin models, socket feeds: `phial::orm::doors::Doors`) × every action
//! the door serves (list, read, create, update, delete, bulk, export,
//! revert, watch) × every kind of caller (anonymous, an author, staff
//! without grants, staff with every grant, a superuser, the API token), on
//! SQLite, PostgreSQL and MariaDB. Each outcome is observed from outside
//! (what a response shows, what the database holds after a write) and
//! compared with what the one decision (`Policies::decide`) answers for
//! that caller, checked against the rows themselves by the database. A
//! model added to the blog, with a resource or an admin view, is covered
//! by this test without a line added to it.

use std::collections::BTreeSet;

use blog::entities::{author, comment, post};
use phial::admin::{assign_role, create_role, create_user};
use phial::orm::Db;
use phial::orm::doors::{Door, DoorKind, Doors};
use phial::orm::meta::{FieldKind, ModelMeta};
use phial::orm::policy::{Action, Caller, Decision, Policies};
use phial::socket::testing::SocketClient;
use phial::testing::{TestClient, TestRequest, TestResponse};
use phial::{App, Config};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Query};
use sea_orm::{ActiveValue::Set, Condition, ConnectionTrait, TransactionTrait};
use serde_json::{Value, json};

const TOKEN: &str = "matrix-token";
const PASSWORD: &str = "correct horse battery";

/// Who calls, as the test sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    Author,
    StaffWithout,
    StaffWith,
    Superuser,
    Token,
}

const EVERYONE: [Who; 6] = [
    Who::Anonymous,
    Who::Author,
    Who::StaffWithout,
    Who::StaffWith,
    Who::Superuser,
    Who::Token,
];

struct Probe {
    who: Who,
    http: TestClient,
    /// The caller the policies see (the test's model of how each door
    /// recognises them).
    caller: Caller,
}

impl Probe {
    /// A request with the probe's credentials (the token as a header;
    /// the others ride on the client's cookies).
    fn req(&self, r: TestRequest) -> TestRequest {
        if self.who == Who::Token {
            r.header("authorization", &format!("Bearer {TOKEN}"))
        } else {
            r
        }
    }

    fn is_staff(&self) -> bool {
        matches!(
            self.who,
            Who::StaffWithout | Who::StaffWith | Who::Superuser
        )
    }
}

/// One line of the matrix that disagreed with the decision.
#[derive(Debug)]
struct Miss(String);

struct Matrix {
    backend: &'static str,
    app: App,
    db: Db,
    policies: Policies,
    misses: Vec<Miss>,
    checked: usize,
    marker: u64,
}

impl Matrix {
    fn expect(&mut self, what: String, expected: bool, seen: bool) {
        self.checked += 1;
        if expected != seen {
            self.misses.push(Miss(format!(
                "{}: {what}: the decision says {}, the door {}",
                self.backend,
                if expected { "yes" } else { "no" },
                if seen { "did" } else { "refused" }
            )));
        }
    }

    fn next_marker(&mut self) -> String {
        self.marker += 1;
        format!("m{}x", self.marker)
    }
}

/// The blog on one database, seeded: Ada and Bob with a published post
/// and a draft each and a comment on every post; staff `root`
/// (superuser), `plain` (no grants), `granted` (every grant on every
/// model with a door).
async fn blog_on(url: String) -> (App, Db) {
    let dir = tempfile::tempdir().unwrap().keep();
    let app = blog::create_app(
        Config::testing()
            .set("database.url", url)
            .set("blog.api_token", TOKEN)
            .set("instance_path", dir.display().to_string())
            .set("rest.max_per_page", 100)
            // Permissions, not throughput: every probe comes from one
            // address (the limits have tests of their own).
            .set("rate_limit.enabled", false),
    )
    .await
    .expect("the blog builds");
    let db = Db::from_state(app.state()).unwrap();
    let hash = phial::password::hash(PASSWORD).await.unwrap();
    let mut posts = Vec::new();
    for (name, email) in [("Ada", "ada@example.com"), ("Bob", "bob@example.com")] {
        let a = db
            .insert(author::ActiveModel {
                name: Set(name.into()),
                email: Set(email.into()),
                password_hash: Set(hash.clone()),
                ..Default::default()
            })
            .await
            .unwrap();
        for published in [true, false] {
            let p = db
                .insert(post::ActiveModel {
                    author_id: Set(a.id),
                    title: Set(format!("{name}'s {published}")),
                    body: Set("b".into()),
                    published: Set(published),
                    created_at: Set(chrono::Utc::now()),
                    ..Default::default()
                })
                .await
                .unwrap();
            posts.push(p.id);
        }
    }
    for p in posts {
        db.insert(comment::ActiveModel {
            post_id: Set(p),
            author_name: Set("Grace".into()),
            body: Set("Nice".into()),
            created_at: Set(chrono::Utc::now()),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let tables: BTreeSet<String> = Doors::of(app.state())
        .into_iter()
        .map(|d| d.table)
        .collect();
    let every: Vec<String> = tables
        .iter()
        .flat_map(|t| ["view", "add", "change", "delete"].map(|p| format!("{t}.{p}")))
        .collect();
    create_user(&db, "root", PASSWORD, true).await.unwrap();
    create_user(&db, "plain", PASSWORD, false).await.unwrap();
    create_user(&db, "granted", PASSWORD, false).await.unwrap();
    create_role(&db, "everything", &every.join(" "))
        .await
        .unwrap();
    assign_role(&db, "granted", "everything").await.unwrap();
    (app, db)
}

async fn submit(
    http: &TestClient,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> TestResponse {
    let token = csrf(http, page).await;
    let mut all: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
    all.extend_from_slice(fields);
    http.post(action).form(&all).send().await
}

/// The session's CSRF token, from `page` or else a page anyone may open.
async fn csrf(http: &TestClient, page: &str) -> String {
    for p in [page, "/admin/", "/admin/login", "/login"] {
        if let Some(t) = http.get(p).send().await.csrf_token() {
            return t;
        }
    }
    panic!("no page with a CSRF token")
}

async fn probe(app: &App, db: &Db, who: Who, tables: &BTreeSet<String>) -> Probe {
    let http = app.test_client();
    let staff = |name: &str| (name.to_owned(), vec![("username", name.to_owned())]);
    let caller = match who {
        Who::Anonymous => Caller::anonymous(),
        Who::Author => {
            let res = submit(
                &http,
                "/login",
                "/login",
                &[("email", "ada@example.com"), ("password", PASSWORD)],
            )
            .await;
            assert_eq!(res.status(), 303, "Ada signs in: {}", res.text());
            let ada = {
                use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
                author::Entity::find()
                    .filter(author::Column::Email.eq("ada@example.com"))
                    .one(db.conn())
                    .await
                    .unwrap()
                    .unwrap()
            };
            Caller::user(ada.id.to_string())
        }
        Who::StaffWithout | Who::StaffWith | Who::Superuser => {
            let (name, _) = staff(match who {
                Who::StaffWithout => "plain",
                Who::StaffWith => "granted",
                _ => "root",
            });
            let res = submit(
                &http,
                "/admin/login",
                "/admin/login",
                &[("username", &name), ("password", PASSWORD)],
            )
            .await;
            assert_eq!(res.status(), 303, "{name} signs in: {}", res.text());
            let mut c = Caller::staff(name.clone());
            match who {
                Who::StaffWith => {
                    c = c.with_role("everything");
                    for t in tables {
                        for a in Action::ALL {
                            c = c.with_grant(t.clone(), a);
                        }
                    }
                }
                Who::Superuser => c = c.with_every_grant(),
                _ => {}
            }
            c
        }
        Who::Token => Action::ALL
            .into_iter()
            .fold(Caller::token("api").with_role("api"), |c, a| {
                c.with_grant("*", a)
            }),
    };
    Probe { who, http, caller }
}

fn pk(meta: &ModelMeta) -> &str {
    meta.primary_key.first().map(String::as_str).unwrap_or("id")
}

/// Every key of `table`, in order.
async fn keys<C: ConnectionTrait>(c: &C, meta: &ModelMeta) -> Vec<i64> {
    let q = Query::select()
        .column(Alias::new(pk(meta)))
        .from(Alias::new(meta.table.as_str()))
        .order_by(Alias::new(pk(meta)), sea_orm::Order::Asc)
        .to_owned();
    let mut out = Vec::new();
    for row in c.query_all(&q).await.unwrap() {
        let k: i64 = row
            .try_get::<i64>("", pk(meta))
            .or_else(|_| row.try_get::<i32>("", pk(meta)).map(i64::from))
            .unwrap();
        out.push(k);
    }
    out
}

/// Whether row `key` of `meta`'s table satisfies `cond` (every row: yes).
async fn inside<C: ConnectionTrait>(
    c: &C,
    meta: &ModelMeta,
    key: i64,
    cond: &Option<Condition>,
) -> bool {
    let mut q = Query::select();
    q.expr(Expr::val(1))
        .from(Alias::new(meta.table.as_str()))
        .and_where(Expr::col(Alias::new(pk(meta))).eq(key));
    if let Some(cond) = cond {
        q.cond_where(cond.clone());
    }
    c.query_one(&q).await.unwrap().is_some()
}

/// The string field a write changes: visible, writable, not unique, not a
/// key (the post's title, the author's name).
fn marker_field(meta: &ModelMeta) -> Option<String> {
    meta.fields
        .iter()
        .find(|f| {
            !f.hidden
                && f.writable()
                && !f.unique
                && !f.primary_key
                && matches!(f.kind, FieldKind::String)
                && meta.foreign_key(&f.name).is_none()
        })
        .map(|f| f.name.clone())
}

/// A string column's value.
async fn text_of<C: ConnectionTrait>(
    c: &C,
    meta: &ModelMeta,
    key: i64,
    field: &str,
) -> Option<String> {
    let q = Query::select()
        .column(Alias::new(field))
        .from(Alias::new(meta.table.as_str()))
        .and_where(Expr::col(Alias::new(pk(meta))).eq(key))
        .to_owned();
    c.query_one(&q)
        .await
        .unwrap()
        .map(|r| r.try_get::<String>("", field).unwrap())
}

async fn set_text<C: ConnectionTrait>(c: &C, meta: &ModelMeta, key: i64, field: &str, value: &str) {
    let q = Query::update()
        .table(Alias::new(meta.table.as_str()))
        .value(Alias::new(field), value)
        .and_where(Expr::col(Alias::new(pk(meta))).eq(key))
        .to_owned();
    c.execute(&q).await.unwrap();
}

/// A copy of row `key` (every column but the key; unique text prefixed,
/// the marker field set to `marker`), made by the database; its key.
async fn clone_row<C: ConnectionTrait>(c: &C, meta: &ModelMeta, key: i64, marker: &str) -> i64 {
    let field = marker_field(meta);
    let cols: Vec<&str> = meta
        .fields
        .iter()
        .filter(|f| !(f.primary_key && f.auto_increment))
        .map(|f| f.name.as_str())
        .collect();
    let mut select = Query::select();
    for col in &cols {
        let f = meta.field(col).unwrap();
        if Some(*col) == field.as_deref() {
            select.expr(Expr::val(marker));
        } else if f.unique && matches!(f.kind, FieldKind::String) {
            select.expr(
                Func::cust(Alias::new("CONCAT"))
                    .arg(Expr::val(marker))
                    .arg(Expr::col(Alias::new(*col))),
            );
        } else {
            select.expr(Expr::col(Alias::new(*col)));
        }
    }
    select
        .from(Alias::new(meta.table.as_str()))
        .and_where(Expr::col(Alias::new(pk(meta))).eq(key));
    let insert = Query::insert()
        .into_table(Alias::new(meta.table.as_str()))
        .columns(cols.iter().map(|c| Alias::new(*c)))
        .select_from(select)
        .unwrap()
        .to_owned();
    c.execute(&insert).await.unwrap();
    *keys(c, meta).await.last().unwrap()
}

async fn remove<C: ConnectionTrait>(c: &C, meta: &ModelMeta, key: i64) {
    let q = Query::delete()
        .from_table(Alias::new(meta.table.as_str()))
        .and_where(Expr::col(Alias::new(pk(meta))).eq(key))
        .to_owned();
    c.execute(&q).await.unwrap();
}

/// Whether a row like a copy of `key` (with the marker) would be inside
/// `cond`: made in a transaction that is rolled back.
async fn copy_inside(db: &Db, meta: &ModelMeta, key: i64, cond: &Option<Condition>) -> bool {
    let tx = db.conn().begin().await.unwrap();
    let copy = clone_row(&tx, meta, key, "oracle").await;
    let yes = inside(&tx, meta, copy, cond).await;
    tx.rollback().await.unwrap();
    yes
}

/// A row as the API token reads it: what a client would send back.
async fn payload(
    m: &Matrix,
    door_meta: &ModelMeta,
    collection: &str,
    key: i64,
    marker: &str,
) -> Value {
    let http = m.app.test_client();
    let row: Value = http
        .get(&format!("{collection}/{key}"))
        .header("authorization", &format!("Bearer {TOKEN}"))
        .send()
        .await
        .json();
    let field = marker_field(door_meta);
    let mut out = serde_json::Map::new();
    for f in door_meta
        .fields
        .iter()
        .filter(|f| f.writable() && !f.hidden)
    {
        let Some(v) = row.get(&f.name) else { continue };
        let v = if Some(&f.name) == field.as_ref() {
            Value::String(marker.to_owned())
        } else if f.unique {
            Value::String(format!("{marker}{}", v.as_str().unwrap_or_default()))
        } else {
            v.clone()
        };
        out.insert(f.name.clone(), v);
    }
    Value::Object(out)
}

fn form_of(v: &Value) -> Vec<(String, String)> {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect()
}

fn decide(m: &Matrix, door: &Door, p: &Probe, action: Action) -> Decision {
    door.decide(&m.policies, &p.caller, action)
}

/// The REST door: list, read, create, bulk, update, delete.
async fn rest(m: &mut Matrix, door: &Door, p: &Probe) {
    let DoorKind::Rest {
        collection,
        actions,
        bulk,
    } = &door.kind
    else {
        return;
    };
    let meta = door.meta.clone().unwrap();
    let all = keys(m.db.conn(), &meta).await;
    let t = &door.table;
    let who = p.who;
    if actions.contains(&Action::List) {
        let d = decide(m, door, p, Action::List);
        let mut expected = BTreeSet::new();
        if d.allowed {
            for k in &all {
                if inside(m.db.conn(), &meta, *k, &d.rows).await {
                    expected.insert(*k);
                }
            }
        }
        let res = p
            .req(p.http.get(&format!("{collection}?per_page=100")))
            .send()
            .await;
        let mut seen = BTreeSet::new();
        if res.status() == 200 {
            let body: Value = res.json();
            for item in body["items"].as_array().unwrap() {
                seen.insert(item[pk(&meta)].as_i64().unwrap());
                for h in &d.hidden {
                    m.expect(
                        format!("REST list {t} hides `{h}` from {who:?}"),
                        true,
                        item.get(h).is_none(),
                    );
                }
            }
        }
        m.expect(
            format!("REST list {t} as {who:?}: status {}", res.status()),
            d.allowed,
            res.status() == 200,
        );
        m.checked += 1;
        if expected != seen {
            m.misses.push(Miss(format!(
                "{}: REST list {t} as {who:?}: rows {seen:?}, the decision {expected:?}",
                m.backend
            )));
        }
    }
    if actions.contains(&Action::Read) {
        let d = decide(m, door, p, Action::Read);
        for k in &all {
            let expected = d.allowed && inside(m.db.conn(), &meta, *k, &d.rows).await;
            let res = p.req(p.http.get(&format!("{collection}/{k}"))).send().await;
            m.expect(
                format!("REST read {t} {k} as {who:?} ({})", res.status()),
                expected,
                res.status() == 200,
            );
            if res.status() == 200 {
                let row: Value = res.json();
                for h in &d.hidden {
                    m.expect(
                        format!("REST read {t} hides `{h}` from {who:?}"),
                        true,
                        row.get(h).is_none(),
                    );
                }
            }
        }
    }
    let field = marker_field(&meta);
    if actions.contains(&Action::Change)
        && let Some(field) = &field
    {
        let d = decide(m, door, p, Action::Change);
        let read = decide(m, door, p, Action::Read);
        for k in &all {
            let before = text_of(m.db.conn(), &meta, *k, field).await.unwrap();
            let value = m.next_marker();
            // The row after the change would be the same row but this text.
            let expected = d.allowed
                && inside(m.db.conn(), &meta, *k, &read.rows).await
                && inside(m.db.conn(), &meta, *k, &d.rows).await;
            let res = p
                .req(p.http.patch(&format!("{collection}/{k}")))
                .json(&json!({ field.as_str(): value }))
                .send()
                .await;
            let after = text_of(m.db.conn(), &meta, *k, field).await.unwrap();
            m.expect(
                format!("REST update {t} {k} as {who:?} ({})", res.status()),
                expected,
                after == value,
            );
            set_text(m.db.conn(), &meta, *k, field, &before).await;
        }
    }
    if actions.contains(&Action::Delete) {
        let d = decide(m, door, p, Action::Delete);
        let read = decide(m, door, p, Action::Read);
        for k in &all {
            let marker = m.next_marker();
            let copy = clone_row(m.db.conn(), &meta, *k, &marker).await;
            let expected = d.allowed
                && inside(m.db.conn(), &meta, copy, &read.rows).await
                && inside(m.db.conn(), &meta, copy, &d.rows).await;
            let res = p
                .req(p.http.delete(&format!("{collection}/{copy}")))
                .send()
                .await;
            let gone = !inside(m.db.conn(), &meta, copy, &None).await;
            m.expect(
                format!(
                    "REST delete {t} (a copy of {k}) as {who:?} ({})",
                    res.status()
                ),
                expected,
                gone,
            );
            if !gone {
                remove(m.db.conn(), &meta, copy).await;
            }
        }
    }
    if actions.contains(&Action::Create) && field.is_some() {
        let d = decide(m, door, p, Action::Create);
        for k in &all {
            for (how, url, wrap) in [
                ("create", collection.clone(), false),
                ("bulk create", format!("{collection}/bulk"), true),
            ] {
                if wrap && !bulk {
                    continue;
                }
                let marker = m.next_marker();
                let body = payload(m, &meta, collection, *k, &marker).await;
                let expected = d.allowed && copy_inside(&m.db, &meta, *k, &d.rows).await;
                let body = if wrap { json!([body]) } else { body };
                let res = p.req(p.http.post(&url)).json(&body).send().await;
                let made = made_with(&m.db, &meta, &marker).await;
                m.expect(
                    format!(
                        "REST {how} {t} like {k} as {who:?} ({}: {})",
                        res.status(),
                        res.text()
                    ),
                    expected,
                    made.is_some(),
                );
                if let Some(made) = made {
                    remove(m.db.conn(), &meta, made).await;
                }
            }
        }
    }
}

/// The row whose marker field holds `marker`, if one was made.
async fn made_with(db: &Db, meta: &ModelMeta, marker: &str) -> Option<i64> {
    let field = marker_field(meta)?;
    let q = Query::select()
        .column(Alias::new(pk(meta)))
        .from(Alias::new(meta.table.as_str()))
        .and_where(Expr::col(Alias::new(field.as_str())).eq(marker))
        .to_owned();
    let row = db.conn().query_one(&q).await.unwrap()?;
    Some(
        row.try_get::<i64>("", pk(meta))
            .or_else(|_| row.try_get::<i32>("", pk(meta)).map(i64::from))
            .unwrap(),
    )
}

/// The admin is a staff surface: staff see a model there with its view
/// grant, and then do what the decision allows.
fn admin_allows(m: &Matrix, door: &Door, p: &Probe, action: Action) -> Decision {
    let mut d = decide(m, door, p, action);
    let sees = p.is_staff()
        && p.caller.granted(&door.table, Action::List)
        && p.caller.granted(&door.table, Action::Read);
    d.allowed = d.allowed && sees;
    d
}

/// Keys of `slug`'s rows linked from an admin page.
fn linked_keys(html: &str, url: &str) -> BTreeSet<i64> {
    // Templates escape `/` in attributes.
    let html = html.replace("&#x2f;", "/");
    let mut out = BTreeSet::new();
    let needle = format!("href=\"{url}");
    let mut rest = html.as_str();
    while let Some(at) = rest.find(&needle) {
        rest = &rest[at + needle.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if !digits.is_empty() && rest[digits.len()..].starts_with("/\"") {
            out.insert(digits.parse().unwrap());
        }
    }
    out
}

/// The admin door: list, export, read, update, delete, bulk delete and
/// actions, create, revert.
async fn admin(m: &mut Matrix, door: &Door, p: &Probe, root: &Probe) {
    let DoorKind::Admin {
        url,
        actions,
        export,
        bulk,
    } = &door.kind
    else {
        return;
    };
    let meta = door.meta.clone().unwrap();
    let all = keys(m.db.conn(), &meta).await;
    let t = &door.table;
    let who = p.who;
    let d = admin_allows(m, door, p, Action::List);
    let mut expected = BTreeSet::new();
    if d.allowed {
        for k in &all {
            if inside(m.db.conn(), &meta, *k, &d.rows).await {
                expected.insert(*k);
            }
        }
    }
    let res = p.req(p.http.get(url)).send().await;
    let seen = if res.status() == 200 {
        linked_keys(&res.text(), url)
    } else {
        BTreeSet::new()
    };
    m.expect(
        format!("admin list {t} as {who:?} ({})", res.status()),
        d.allowed,
        res.status() == 200,
    );
    m.checked += 1;
    if seen != expected {
        m.misses.push(Miss(format!(
            "{}: admin list {t} as {who:?}: rows {seen:?}, the decision {expected:?}",
            m.backend
        )));
    }
    if *export {
        let res = p.req(p.http.get(&format!("{url}export.csv"))).send().await;
        let mut seen = BTreeSet::new();
        if res.status() == 200 {
            let text = res.text();
            let mut lines = text.lines();
            let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
            let at = header.iter().position(|h| *h == pk(&meta)).unwrap();
            for line in lines {
                if let Some(v) = line.split(',').nth(at).and_then(|v| v.parse().ok()) {
                    seen.insert(v);
                }
            }
        }
        m.expect(
            format!("admin export {t} as {who:?} ({})", res.status()),
            d.allowed,
            res.status() == 200,
        );
        m.checked += 1;
        if seen != expected {
            m.misses.push(Miss(format!(
                "{}: admin export {t} as {who:?}: rows {seen:?}, the decision {expected:?}",
                m.backend
            )));
        }
    }
    let read = admin_allows(m, door, p, Action::Read);
    for k in &all {
        let expected = read.allowed && inside(m.db.conn(), &meta, *k, &read.rows).await;
        let res = p.req(p.http.get(&format!("{url}{k}/"))).send().await;
        m.expect(
            format!("admin read {t} {k} as {who:?} ({})", res.status()),
            expected,
            res.status() == 200,
        );
    }
    let Some(field) = marker_field(&meta) else {
        return;
    };
    let rest_door = Doors::of(m.app.state())
        .into_iter()
        .find(|d| d.table == *t && matches!(d.kind, DoorKind::Rest { .. }));
    let collection = match rest_door.map(|d| d.kind) {
        Some(DoorKind::Rest { collection, .. }) => Some(collection),
        _ => None,
    };
    if actions.contains(&Action::Change) {
        let d = admin_allows(m, door, p, Action::Change);
        for k in &all {
            let Some(collection) = &collection else { break };
            let before = text_of(m.db.conn(), &meta, *k, &field).await.unwrap();
            let value = m.next_marker();
            let expected = d.allowed
                && inside(m.db.conn(), &meta, *k, &read.rows).await
                && inside(m.db.conn(), &meta, *k, &d.rows).await;
            // The whole form, as the row is, with the one field changed.
            let mut body = payload(m, &meta, collection, *k, &value).await;
            for (name, v) in body.as_object_mut().unwrap().iter_mut() {
                if meta.field(name).is_some_and(|f| f.unique) {
                    *v = Value::String(text_of(m.db.conn(), &meta, *k, name).await.unwrap());
                }
            }
            let form = form_of(&body);
            let fields: Vec<(&str, &str)> =
                form.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            let res = submit(
                &p.http,
                &format!("{url}{k}/edit"),
                &format!("{url}{k}/edit"),
                &fields,
            )
            .await;
            let after = text_of(m.db.conn(), &meta, *k, &field).await.unwrap();
            m.expect(
                format!("admin update {t} {k} as {who:?} ({})", res.status()),
                expected,
                after == value,
            );
            set_text(m.db.conn(), &meta, *k, &field, &before).await;
        }
    }
    if actions.contains(&Action::Delete) {
        let d = admin_allows(m, door, p, Action::Delete);
        for k in &all {
            for how in ["delete", "bulk delete"] {
                let marker = m.next_marker();
                let copy = clone_row(m.db.conn(), &meta, *k, &marker).await;
                let expected = d.allowed
                    && inside(m.db.conn(), &meta, copy, &read.rows).await
                    && inside(m.db.conn(), &meta, copy, &d.rows).await;
                let key = copy.to_string();
                let res = if how == "delete" {
                    submit(
                        &p.http,
                        &format!("{url}{copy}/delete"),
                        &format!("{url}{copy}/delete"),
                        &[],
                    )
                    .await
                } else {
                    submit(
                        &p.http,
                        url,
                        &format!("{url}bulk"),
                        &[
                            ("action", "delete"),
                            ("_selected", &key),
                            ("confirm", "yes"),
                        ],
                    )
                    .await
                };
                let gone = !inside(m.db.conn(), &meta, copy, &None).await;
                m.expect(
                    format!(
                        "admin {how} {t} (a copy of {k}) as {who:?} ({})",
                        res.status()
                    ),
                    expected,
                    gone,
                );
                if !gone {
                    remove(m.db.conn(), &meta, copy).await;
                }
            }
        }
    }
    for (name, needs) in bulk {
        let d = admin_allows(m, door, p, *needs);
        let guard = if needs.writes() {
            *needs
        } else {
            Action::Change
        };
        let wd = decide(m, door, p, guard);
        for k in &all {
            // A copy the action changes when root runs it (else the row
            // tells nothing: publishing a published post).
            let marker = m.next_marker();
            let probe_copy = clone_row(m.db.conn(), &meta, *k, &marker).await;
            let snapshot = row_text(&m.db, &meta, probe_copy).await;
            let key = probe_copy.to_string();
            submit(
                &root.http,
                url,
                &format!("{url}bulk"),
                &[("action", name), ("_selected", &key)],
            )
            .await;
            let changes = row_text(&m.db, &meta, probe_copy).await != snapshot;
            remove(m.db.conn(), &meta, probe_copy).await;
            if !changes {
                continue;
            }
            let marker = m.next_marker();
            let copy = clone_row(m.db.conn(), &meta, *k, &marker).await;
            let snapshot = row_text(&m.db, &meta, copy).await;
            let expected = d.allowed
                && inside(m.db.conn(), &meta, copy, &read.rows).await
                && inside(m.db.conn(), &meta, copy, &wd.rows).await;
            let key = copy.to_string();
            let res = submit(
                &p.http,
                url,
                &format!("{url}bulk"),
                &[("action", name), ("_selected", &key)],
            )
            .await;
            let changed = row_text(&m.db, &meta, copy).await != snapshot;
            m.expect(
                format!(
                    "admin bulk `{name}` on {t} (a copy of {k}) as {who:?} ({})",
                    res.status()
                ),
                expected,
                changed,
            );
            remove(m.db.conn(), &meta, copy).await;
        }
    }
    if actions.contains(&Action::Create)
        && let Some(collection) = &collection
    {
        let d = admin_allows(m, door, p, Action::Create);
        for k in &all {
            let marker = m.next_marker();
            let body = payload(m, &meta, collection, *k, &marker).await;
            let expected = d.allowed && copy_inside(&m.db, &meta, *k, &d.rows).await;
            let form = form_of(&body);
            let fields: Vec<(&str, &str)> =
                form.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            let res = submit(&p.http, &format!("{url}new"), &format!("{url}new"), &fields).await;
            let made = made_with(&m.db, &meta, &marker).await;
            m.expect(
                format!("admin create {t} like {k} as {who:?} ({})", res.status()),
                expected,
                made.is_some(),
            );
            if let Some(made) = made {
                remove(m.db.conn(), &meta, made).await;
            }
        }
    }
    // Revert: root changes a copy through the admin (an entry); the
    // caller reverts it.
    if actions.contains(&Action::Change)
        && let Some(collection) = &collection
    {
        let d = admin_allows(m, door, p, Action::Change);
        for k in &all {
            let original = m.next_marker();
            let copy = clone_row(m.db.conn(), &meta, *k, &original).await;
            let changed = m.next_marker();
            let body = payload(m, &meta, collection, copy, &changed).await;
            let form = form_of(&body);
            let mut fields: Vec<(&str, &str)> =
                form.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            let copy_url = format!("{url}{copy}/edit");
            fields.retain(|(n, _)| !meta.field(n).is_some_and(|f| f.unique));
            let res = submit(&root.http, &copy_url, &copy_url, &fields).await;
            assert_eq!(res.status(), 303, "root edits: {}", res.text());
            let entry = {
                use sea_orm::{EntityTrait, QueryOrder};
                phial::admin::log::Entity::find()
                    .order_by_desc(phial::admin::log::Column::Id)
                    .one(m.db.conn())
                    .await
                    .unwrap()
                    .unwrap()
            };
            let expected = d.allowed
                && read.allowed
                && inside(m.db.conn(), &meta, copy, &read.rows).await
                && inside(m.db.conn(), &meta, copy, &d.rows).await;
            let res = submit(
                &p.http,
                url,
                &format!("/admin/log/{}/revert", entry.id),
                &[],
            )
            .await;
            let now = text_of(m.db.conn(), &meta, copy, &field).await.unwrap();
            m.expect(
                format!(
                    "admin revert on {t} (a copy of {k}) as {who:?} ({})",
                    res.status()
                ),
                expected,
                now == original,
            );
            remove(m.db.conn(), &meta, copy).await;
        }
    }
}

/// A row as text (every column), to tell whether it changed.
async fn row_text(db: &Db, meta: &ModelMeta, key: i64) -> String {
    let mut q = Query::select();
    for f in &meta.fields {
        let col = Alias::new(f.name.as_str());
        q.expr_as(
            Func::cust(Alias::new("COALESCE"))
                .arg(Expr::col(col.clone()).cast_as(Alias::new(cast_text(db))))
                .arg(Expr::val("∅")),
            col,
        );
    }
    q.from(Alias::new(meta.table.as_str()))
        .and_where(Expr::col(Alias::new(pk(meta))).eq(key));
    let Some(row) = db.conn().query_one(&q).await.unwrap() else {
        return String::new();
    };
    meta.fields
        .iter()
        .map(|f| row.try_get::<String>("", &f.name).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("|")
}

fn cast_text(db: &Db) -> &'static str {
    match db.conn().get_database_backend() {
        sea_orm::DbBackend::MySql => "CHAR",
        _ => "TEXT",
    }
}

/// A socket feed door: `watch` answers what the decision says.
async fn feed(m: &mut Matrix, door: &Door, p: &Probe) {
    let DoorKind::Feed { namespace, grants } = &door.kind else {
        return;
    };
    // Sockets recognise sessions, not bearer tokens: the token's socket is
    // anonymous.
    let caller = if p.who == Who::Token {
        Caller::anonymous()
    } else {
        p.caller.clone()
    };
    let d = m.policies.decide(&caller, &door.table, Action::List);
    let expected = d.allowed && (!grants || caller.granted(&door.table, Action::List));
    let fresh;
    let http = if p.who == Who::Token {
        fresh = m.app.test_client();
        &fresh
    } else {
        &p.http
    };
    let seen = match SocketClient::connect(http, namespace).await {
        Err(_) => false,
        Ok(s) => {
            let answer: Value = s.emit_with_ack("watch", &json!(door.table)).await.unwrap();
            answer["ok"] == true
        }
    };
    m.expect(
        format!("watch {} on {namespace} as {:?}", door.table, p.who),
        expected,
        seen,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_door_answers_what_the_decision_says_on_every_database() {
    for (backend, url) in phial::testing::sql_databases().await {
        let url = fresh_database(backend, url).await;
        let (app, db) = blog_on(url).await;
        let doors = Doors::of(app.state());
        let tables: BTreeSet<String> = doors.iter().map(|d| d.table.clone()).collect();
        assert!(
            ["post", "author", "comment"]
                .iter()
                .all(|t| tables.contains(*t)),
            "{backend}: every model has doors: {tables:?}"
        );
        let mut probes = Vec::new();
        for who in EVERYONE {
            probes.push(probe(&app, &db, who, &tables).await);
        }
        let root = probe(&app, &db, Who::Superuser, &tables).await;
        let mut m = Matrix {
            backend,
            policies: app.state().get::<Policies>().cloned().unwrap(),
            app,
            db,
            misses: Vec::new(),
            checked: 0,
            marker: 0,
        };
        let started = std::time::Instant::now();
        for door in &doors {
            for p in &probes {
                match door.kind {
                    DoorKind::Rest { .. } => rest(&mut m, door, p).await,
                    DoorKind::Admin { .. } => admin(&mut m, door, p, &root).await,
                    DoorKind::Feed { .. } => feed(&mut m, door, p).await,
                }
            }
        }
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!(
                "MEASURED matrix {backend}: {} doors, {} callers, {} outcomes checked in {:?}\n",
                doors.len(),
                probes.len(),
                m.checked,
                started.elapsed()
            )
            .as_bytes(),
        );
        assert!(
            m.misses.is_empty(),
            "{} of {} outcomes differ:\n{}",
            m.misses.len(),
            m.checked,
            m.misses
                .iter()
                .map(|x| x.0.clone())
                .collect::<Vec<_>>()
                .join("\n")
        );
        m.app.shutdown().await;
    }
}

/// SQLite: a file of its own; a server: a database of its own, made now.
async fn fresh_database(backend: &str, url: Option<String>) -> String {
    let Some(url) = url else {
        let dir = tempfile::tempdir().unwrap().keep();
        return format!("sqlite://{}", dir.join("matrix.sqlite").display());
    };
    let name = format!("blog_matrix_{}", std::process::id());
    let (server, _) = url.rsplit_once('/').unwrap();
    let admin_db = if backend == "PostgreSQL" {
        "postgres"
    } else {
        "test"
    };
    let conn = sea_orm::Database::connect(format!("{server}/{admin_db}"))
        .await
        .unwrap();
    conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
        .await
        .unwrap();
    conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    conn.close().await.unwrap();
    format!("{server}/{name}")
}
