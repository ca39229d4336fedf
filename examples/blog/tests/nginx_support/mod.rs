//! nginx in front of `blog` processes, with the shipped
//! `deploy/nginx.conf` (for the tests that need a real proxy).

#![allow(dead_code, reason = "each test file uses part of it")]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::http_support::{self, free_ports, send};

/// nginx with the shipped `deploy/nginx.conf` in front of the nodes (its
/// TLS and port-80 redirect left out, its upstream pointed at this run's
/// ports); stopped when dropped.
pub(crate) struct Proxy {
    pub(crate) port: u16,
    child: std::process::Child,
    dir: tempfile::TempDir,
}

impl Proxy {
    fn config(node_ports: &[u16], listen: u16, dir: &std::path::Path) -> String {
        let shipped = std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/nginx.conf"),
        )
        .unwrap();
        let redirect = shipped
            .find("server {\n    listen 80;")
            .expect("deploy/nginx.conf redirects port 80");
        let end = redirect + shipped[redirect..].find("}\n").unwrap() + 2;
        let mut site = format!("{}{}", &shipped[..redirect], &shipped[end..]);
        let mut replace = |from: &str, to: &str| {
            assert!(site.contains(from), "deploy/nginx.conf has no `{from}`");
            site = site.replace(from, to);
        };
        replace(
            "    listen 443 ssl;\n",
            &format!("    listen 127.0.0.1:{listen};\n"),
        );
        replace("    http2 on;\n", "");
        for (i, port) in node_ports.iter().enumerate() {
            replace(
                &format!("server 127.0.0.1:{} ", 5101 + i),
                &format!("server 127.0.0.1:{port} "),
            );
        }
        let site: String = site
            .lines()
            .filter(|l| !l.contains("ssl_certificate"))
            .map(|l| format!("{l}\n"))
            .collect();
        let d = dir.display();
        format!(
            "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 512; }}\n\
             http {{\naccess_log off;\nclient_body_temp_path {d}/body;\nproxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\nuwsgi_temp_path {d}/uwsgi;\nscgi_temp_path {d}/scgi;\n\
             {site}}}\n"
        )
    }

    pub(crate) async fn start(
        nginx: &std::path::Path,
        node_ports: &[u16],
        http: &http_support::Http,
    ) -> Proxy {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // nginx's workers drop root for `nobody`, who must reach the folder.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let port = free_ports(1)[0];
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, Self::config(node_ports, port, dir.path())).unwrap();
        let child = Command::new(nginx)
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx starts");
        let mut proxy = Proxy { port, child, dir };
        let started = Instant::now();
        loop {
            if let Ok(res) = send(http, "GET", &proxy.url("/healthz"), &[], None).await
                && res.status == 200
            {
                return proxy;
            }
            let exited = proxy.child.try_wait().unwrap();
            assert!(
                exited.is_none() && started.elapsed() < Duration::from_secs(10),
                "nginx did not come up ({exited:?}): {}",
                proxy.errors()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub(crate) fn errors(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}
