//! The load: API writers and readers on random nodes, a writer that
//! reads its writes back on the cached HTML index through nginx with its
//! cookie, readers of that index through nginx, and a commenter that uses
//! the post page's form like a browser (session, CSRF token, the 303
//! followed to whichever node nginx picks).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::{Value, json};

use super::Run;
use super::history::{Comment, Failure, Read, Via};
use super::http::{Answer, Body, Jar, csrf_token, form, send};

/// A number below `n`, spread (not secret): std's hasher keys differ
/// with every `RandomState`.
pub(crate) fn random(n: usize) -> usize {
    use std::hash::{BuildHasher, Hasher};
    let h = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (h % n.max(1) as u64) as usize
}

fn version_of(body: &str) -> Option<u64> {
    let v: Value = serde_json::from_str(body).ok()?;
    v["title"].as_str()?.strip_prefix('v')?.parse().ok()
}

/// Each post's version on the index page (`<a href="/posts/ID">vN</a>`).
fn versions_on_index(page: &str) -> Vec<(i64, u64)> {
    page.split("href=\"/posts/")
        .skip(1)
        .filter_map(|rest| {
            let (id, rest) = rest.split_once("\">")?;
            let title = rest.split_once("</a>")?.0;
            Some((id.parse().ok()?, title.strip_prefix('v')?.parse().ok()?))
        })
        .collect()
}

/// A different client address for each request through the trusted
/// proxy: the blog allows ten comments a minute per address, and the
/// suite is many readers, not one.
fn client_address(run: &Run) -> String {
    let n = run.addresses.fetch_add(1, Ordering::Relaxed);
    format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255)
}

fn fail(run: &Run, what: &'static str, status: u16, via: Via) {
    let at = run.now();
    run.history().failures.push(Failure {
        at,
        what,
        status,
        via,
    });
}

/// PATCHes its own posts' titles with increasing versions on random nodes
/// (or through nginx) and reads each write back on another node: with the
/// `Phial-Wrote` header from the API, or — `via` the front — on the cached
/// index page with the cookie the write set.
pub(crate) async fn writer(run: Arc<Run>, posts: Vec<i64>, via: Via) {
    let auth = format!("Bearer {}", run.settings.token);
    let mut versions: HashMap<i64, u64> = posts.iter().map(|p| (*p, 0)).collect();
    let mut jar = Jar::default();
    while !run.stopped() {
        let post = posts[random(posts.len())];
        let next = versions[&post] + 1;
        let node = random(run.settings.ports.len());
        let url = match via {
            Via::Node => run.url(node, &format!("/api/posts/{post}")),
            Via::Front => run.front(&format!("/api/posts/{post}")),
        };
        let res = send(
            &run.http,
            "PATCH",
            &url,
            &[("authorization", auth.clone()), jar.header()],
            Body {
                json: Some(json!({"title": format!("v{next}")})),
                ..Body::default()
            },
        )
        .await;
        jar.keep(&res);
        match res.status {
            200 => {
                let acked = run.now();
                versions.insert(post, next);
                run.history()
                    .acks
                    .entry(post)
                    .or_default()
                    .push((next, acked));
                read_back(&run, post, next, node, via, &res, &jar).await;
            }
            503 if res.body.contains("nothing was saved") => run.history().refused += 1,
            // Counted when it failed: a request that began just before a
            // fault and failed with it belongs to the fault.
            status => fail(&run, "write", status, via),
        }
    }
}

async fn read_back(
    run: &Run,
    post: i64,
    wrote: u64,
    node: usize,
    via: Via,
    res: &Answer,
    jar: &Jar,
) {
    let (seen, where_) = match via {
        Via::Node => {
            let other =
                (node + 1 + random(run.settings.ports.len() - 1)) % run.settings.ports.len();
            let mark = res.mark.clone().unwrap_or_default();
            let back = send(
                &run.http,
                "GET",
                &run.url(other, &format!("/api/posts/{post}")),
                &[("phial-wrote", mark)],
                Body::default(),
            )
            .await;
            if back.status != 200 {
                return;
            }
            (version_of(&back.body), format!("node {}", other + 1))
        }
        Via::Front => {
            let back = send(
                &run.http,
                "GET",
                &run.front("/"),
                &[jar.header()],
                Body::default(),
            )
            .await;
            if back.status != 200 {
                return;
            }
            let seen = versions_on_index(&back.body)
                .into_iter()
                .find(|(p, _)| *p == post)
                .map(|(_, v)| v);
            (seen, "the index page through nginx (cookie)".to_owned())
        }
    };
    let seen = seen.unwrap_or(0);
    if seen < wrote {
        let at = run.now();
        run.history().ryw_violations.push(format!(
            "post {post}: wrote v{wrote}, read v{seen} on {where_} at {at:.0} ms"
        ));
    }
}

/// GETs posts through the API on random nodes.
pub(crate) async fn reader(run: Arc<Run>, posts: Vec<i64>) {
    while !run.stopped() {
        let post = posts[random(posts.len())];
        let node = random(run.settings.ports.len());
        let began = run.now();
        let res = send(
            &run.http,
            "GET",
            &run.url(node, &format!("/api/posts/{post}")),
            &[],
            Body::default(),
        )
        .await;
        let ended = run.now();
        match (res.status, version_of(&res.body)) {
            (200, Some(version)) => run.history().reads.push(Read {
                post,
                began,
                ended,
                version,
                page: false,
                node: node + 1,
            }),
            (200, None) => {}
            (status, _) => fail(&run, "read", status, Via::Node),
        }
    }
}

/// GETs the cached index through nginx and reads every post's version on it.
pub(crate) async fn page_reader(run: Arc<Run>) {
    while !run.stopped() {
        let began = run.now();
        let res = send(&run.http, "GET", &run.front("/"), &[], Body::default()).await;
        let ended = run.now();
        if res.status != 200 {
            fail(&run, "page", res.status, Via::Front);
            continue;
        }
        let mut h = run.history();
        for (post, version) in versions_on_index(&res.body) {
            h.reads.push(Read {
                post,
                began,
                ended,
                version,
                page: true,
                node: 0,
            });
        }
    }
}

/// Comments on the watched post through its page's form, as a browser
/// does (a session, the CSRF token, the 303 followed through nginx), and
/// checks the page it lands on shows the comment.
pub(crate) async fn commenter(run: Arc<Run>, post: i64) {
    let page = format!("/posts/{post}");
    let mut seq = 0;
    let mut jar = Jar::default();
    let mut token = None;
    while !run.stopped() {
        let address = client_address(&run);
        let xff = ("x-forwarded-for", address);
        if token.is_none() {
            let res = send(
                &run.http,
                "GET",
                &run.front(&page),
                &[jar.header(), xff.clone()],
                Body::default(),
            )
            .await;
            jar.keep(&res);
            if res.status != 200 {
                fail(&run, "page", res.status, Via::Front);
                continue;
            }
            token = csrf_token(&res.body);
            continue;
        }
        seq += 1;
        let name = format!("c{seq}");
        let sent = run.now();
        let res = send(
            &run.http,
            "POST",
            &run.front(&format!("{page}/comments")),
            &[jar.header(), xff.clone()],
            Body {
                form: Some(form(&[
                    ("csrf_token", token.as_deref().unwrap_or_default()),
                    ("author_name", &name),
                    ("body", "chaos"),
                ])),
                ..Body::default()
            },
        )
        .await;
        jar.keep(&res);
        match res.status {
            303 => {
                let acked = run.now();
                run.history().comments.push(Comment {
                    name: name.clone(),
                    sent,
                    acked,
                });
                let to = res.location.unwrap_or_else(|| page.clone());
                let back = send(
                    &run.http,
                    "GET",
                    &run.front(&to),
                    &[jar.header(), xff],
                    Body::default(),
                )
                .await;
                jar.keep(&back);
                if back.status == 200 && !back.body.contains(&format!("<b>{name}</b>")) {
                    let at = run.now();
                    run.history().ryw_violations.push(format!(
                        "comment {name} acknowledged, missing from the page it redirected to at {at:.0} ms"
                    ));
                }
            }
            503 if res.body.contains("nothing was saved") => run.history().refused += 1,
            status => {
                fail(&run, "comment", status, Via::Front);
                // Start a new session (the CSRF token is the session's:
                // a Redis failover may lose a session just written).
                token = None;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
}
