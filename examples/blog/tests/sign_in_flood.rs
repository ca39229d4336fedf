//! Sign-in cannot be turned into a weapon, tried against a separate blog
//! process (its memory read from `/proc`): 200 sign-ins sent at once from
//! one address are refused before hashing but for a handful, the process
//! grows by less than 300 MiB (scrypt takes 128 MiB a run), and the owner
//! signs in from another address meanwhile. Then through nginx with the
//! shipped config and `server.trusted_proxies`: attackers behind the proxy,
//! even forging `X-Forwarded-For`, do not lock out another client behind it.

use std::net::IpAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod http_support;
use http_support::{Http, client_from, csrf_token, send};
mod nginx_support;
use nginx_support::Proxy;

/// The blog binary serving on a free port, in development (its demo
/// author `ada@example.com` / `ada`), trusting a proxy on loopback.
struct Blog {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Blog {
    async fn start() -> Blog {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("blog.log");
        // Port 0: the blog says which port it got (no race for a free one).
        let child = Command::new(env!("CARGO_BIN_EXE_blog"))
            .args(["run", "--bind", "127.0.0.1:0"])
            .current_dir(dir.path())
            .env("PHIAL_ENV", "development")
            // Its own database and instance folder (a debug build's root is
            // the crate's folder, which every test's process would share).
            .env("PHIAL_INSTANCE_PATH", dir.path())
            .env(
                "PHIAL_DATABASE__URL",
                format!("sqlite://{}", dir.path().join("blog.sqlite").display()),
            )
            .env("PHIAL_SERVER__TRUSTED_PROXIES", "[\"127.0.0.1/32\"]")
            .env("RUST_LOG", "info")
            .env("PHIAL_LOG_FORMAT", "text")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("the blog starts");
        let mut blog = Blog {
            child,
            port: 0,
            _dir: dir,
        };
        let http = http_support::client();
        let started = Instant::now();
        while blog.port == 0 {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(port) = text
                .split("serving on http://127.0.0.1:")
                .nth(1)
                .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|p| p.parse().ok())
            {
                blog.port = port;
            }
            assert!(
                blog.child.try_wait().unwrap().is_none(),
                "the blog exited: {text}"
            );
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no port in: {text}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        loop {
            if let Ok(r) = send(&http, "GET", &blog.url("/readyz"), &[], None).await
                && r.status == 200
            {
                return blog;
            }
            assert!(
                blog.child.try_wait().unwrap().is_none(),
                "the blog exited: {}",
                std::fs::read_to_string(blog._dir.path().join("blog.log")).unwrap_or_default()
            );
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the blog did not come up"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Resident memory in MiB.
    fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    }
}

impl Drop for Blog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A browser at `base`: the sign-in form's cookie and token.
async fn form(http: &Http, base: &str) -> (String, String) {
    let page = send(http, "GET", &format!("{base}/login"), &[], None)
        .await
        .unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    let cookie = page.session_cookie().expect("the form sets a session");
    let token = csrf_token(&page.body).expect("the form has a CSRF token");
    (cookie, token)
}

/// Sends one sign-in; its status.
async fn sign_in(
    http: &Http,
    base: &str,
    (cookie, token): &(String, String),
    password: &str,
    extra: &[(&str, &str)],
) -> u16 {
    let body = format!(
        "csrf_token={}&email=ada%40example.com&password={password}",
        token
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    );
    let mut headers = vec![("cookie", cookie.as_str())];
    headers.extend_from_slice(extra);
    send(
        http,
        "POST",
        &format!("{base}/login"),
        &headers,
        Some(("application/x-www-form-urlencoded", body)),
    )
    .await
    .map(|r| r.status)
    .unwrap_or(0)
}

fn loopback(n: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, n])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_sign_ins_at_once_cost_bounded_memory_and_lock_out_nobody_else() {
    let blog = Blog::start().await;
    let base = blog.url("");
    let attacker = client_from(loopback(1));
    let session = form(&attacker, &base).await;
    let before = blog.rss_mib();
    // Peak memory, sampled while the flood runs.
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let pid = blog.child.id();
    let sampler = tokio::spawn(async move {
        let mut peak: f64 = 0.0;
        loop {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            if let Some(kib) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            {
                peak = peak.max(kib / 1024.0);
            }
            if stop_rx.try_recv().is_ok() {
                return peak;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let flood: Vec<_> = (0..200)
        .map(|i| {
            let (http, base, session) = (attacker.clone(), base.clone(), session.clone());
            tokio::spawn(
                async move { sign_in(&http, &base, &session, &format!("guess{i}"), &[]).await },
            )
        })
        .collect();
    // The owner, from another address, meanwhile.
    let owner = client_from(loopback(2));
    let owner_session = form(&owner, &base).await;
    let owner_status = sign_in(&owner, &base, &owner_session, "ada", &[]).await;
    let mut statuses = Vec::new();
    for task in flood {
        statuses.push(task.await.unwrap());
    }
    let _ = stop_tx.send(());
    let peak = sampler.await.unwrap();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let growth = peak - before;
    let line = format!(
        "200 sign-ins from one address: {refused} refused before hashing (429), {checked} \
         passwords checked (401), others {:?}; resident memory {before:.0} MiB before, peak \
         {peak:.0} MiB (+{growth:.0} MiB); the owner from another address: {owner_status}",
        statuses
            .iter()
            .filter(|s| **s != 429 && **s != 401)
            .collect::<Vec<_>>()
    );
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "MEASURED {line}");
    assert_eq!(
        owner_status, 303,
        "the owner signs in during the attack: {line}"
    );
    assert!(refused >= 195, "{line}");
    assert_eq!(refused + checked, 200, "{line}");
    assert!(growth < 300.0, "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_nginx_attackers_do_not_lock_out_another_client_of_the_proxy() {
    let Some(nginx) = phial::testing::tool("nginx") else {
        return;
    };
    let blog = Blog::start().await;
    let probe = http_support::client();
    let proxy = Proxy::start(&nginx, &[blog.port, blog.port, blog.port], &probe).await;
    let base = proxy.url("");
    // Attackers behind the proxy, some forging the header it appends to.
    let attacker = client_from(loopback(3));
    let session = form(&attacker, &base).await;
    let mut statuses = Vec::new();
    for i in 0..12 {
        let forged = format!("203.0.113.{i}");
        let extra = [("x-forwarded-for", forged.as_str())];
        let headers: &[(&str, &str)] = if i % 2 == 0 { &extra } else { &[] };
        statuses.push(sign_in(&attacker, &base, &session, &format!("guess{i}"), headers).await);
    }
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert!(
        refused >= 6,
        "the attacker is throttled behind the proxy, forged header or not: {statuses:?}\n{}",
        proxy.errors()
    );
    // Another client behind the same proxy signs in.
    let other = client_from(loopback(4));
    let other_session = form(&other, &base).await;
    let status = sign_in(&other, &base, &other_session, "ada", &[]).await;
    assert_eq!(
        status,
        303,
        "another client of the proxy is not locked out: {}",
        proxy.errors()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_blog_login_takes_as_long_for_an_unknown_email_as_for_a_wrong_password() {
    let blog = Blog::start().await;
    let base = blog.url("");
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..5u8 {
        for (email, times) in [
            ("ada%40example.com", &mut known),
            ("nobody%40example.com", &mut unknown),
        ] {
            // A fresh address each time: this is about timing, not throttling.
            let http = client_from(loopback(20 + i * 2 + u8::from(email.starts_with('n'))));
            let (cookie, token) = form(&http, &base).await;
            let body = format!("csrf_token={token}&email={email}&password=wrong");
            let started = Instant::now();
            let res = send(
                &http,
                "POST",
                &format!("{base}/login"),
                &[("cookie", cookie.as_str())],
                Some(("application/x-www-form-urlencoded", body)),
            )
            .await
            .unwrap();
            assert_eq!(res.status, 401, "{}", res.body);
            times.push(started.elapsed());
        }
    }
    known.sort();
    unknown.sort();
    let (k, u) = (known[2], unknown[2]);
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "MEASURED the blog's /login, a wrong password: median {k:?} for a known email, {u:?} for an unknown one"
    );
    assert!(
        u.as_secs_f64() > k.as_secs_f64() * 0.5 && k.as_secs_f64() > u.as_secs_f64() * 0.5,
        "the time tells which emails have accounts: {k:?} vs {u:?}"
    );
}
