//! The release `blog` binary deploys alone: copied by itself into an empty
//! folder, it serves its pages, static files and error pages from what was
//! compiled in, and makes its SQLite file in `instance/` there.
//!
//! The test builds `blog --release` (into its own target folder, kept
//! between runs) the first time, which takes a few minutes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds the release binary into a target folder of its own (the one the
/// test runs from is locked by the running `cargo test`).
fn release_blog() -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(format!("{}-release", dir.to_string_lossy())),
        None => workspace().join("target/release-alone"),
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "blog",
            "--target-dir",
        ])
        .arg(&target)
        .current_dir(workspace())
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo build --release -p blog failed");
    target.join("release/blog")
}

fn get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: x\r\naccept: text/html\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_release_binary_alone_serves_pages_static_files_and_errors_and_makes_its_database_here() {
    let built = release_blog();
    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("blog");
    std::fs::copy(&built, &binary).unwrap();
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "the folder holds the binary only"
    );

    let mut cmd = Command::new(&binary);
    cmd.args(["run", "--bind", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped());
    for (key, _) in std::env::vars() {
        if key.starts_with("PHIAL_") {
            cmd.env_remove(key);
        }
    }
    let mut server = Server(cmd.spawn().expect("the binary starts"));
    let mut lines = BufReader::new(server.0.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("the server logs its address before it exits")
            .unwrap();
        if let Some(rest) = line.split("serving on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});

    let index = get(&addr, "/");
    assert!(index.starts_with("HTTP/1.1 200"), "{index}");
    assert!(
        index.contains("/static/blog.css"),
        "the page comes from the embedded templates: {index}"
    );
    let css = get(&addr, "/static/blog.css");
    let source =
        std::fs::read_to_string(workspace().join("examples/blog/static/blog.css")).unwrap();
    assert!(css.starts_with("HTTP/1.1 200"), "{css}");
    assert!(css.to_ascii_lowercase().contains("etag:"), "{css}");
    assert!(css.contains(source.trim()), "the file's bytes: {css}");
    // A blueprint's own folders (`phial::folder!`) are compiled in too.
    let about = get(&addr, "/pages/about");
    assert!(
        about.starts_with("HTTP/1.1 200") && about.contains("About this blog"),
        "{about}"
    );
    let pages_css = get(&addr, "/pages/static/pages.css");
    assert!(
        pages_css.starts_with("HTTP/1.1 200") && pages_css.contains(".about"),
        "{pages_css}"
    );
    let missing = get(&addr, "/posts/999999");
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    let template_404 =
        std::fs::read_to_string(workspace().join("examples/blog/templates/errors/404.html"))
            .unwrap();
    assert!(template_404.contains("Back to the posts"));
    assert!(
        missing.contains("Back to the posts"),
        "the 404 page is the blog's own template: {missing}"
    );
    assert!(
        dir.path().join("instance/app.sqlite").is_file(),
        "the SQLite file is made in the working directory's instance/"
    );
}
