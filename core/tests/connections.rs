//! Connections that cannot be held hostage, tried over real sockets: a
//! thousand silent connections are closed within the header timeout while
//! another client is served, a client trickling one header line at a time
//! is cut off, an idle kept-alive connection closes after its own timeout,
//! and one address cannot take more than its share of connections while
//! another address still gets in.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use phial_core::routing::get;
use phial_core::{App, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// Serves an app on a free loopback port until the returned sender drops.
async fn serve(config: Config) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let app = App::builder(config)
        .route("/", get(|| async { "hello" }))
        .build()
        .await
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        app.serve_with(listener, async move {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    (addr, stop)
}

/// One request on a new connection; the body.
async fn get_page(addr: SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

/// Waits until the server closes `s` (reads EOF or a reset), at most `limit`.
async fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline.into(), s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // A 408 or the like before the close.
            Ok(Ok(_)) => continue,
        }
    }
}

fn timeouts(header: u64, keep_alive: u64) -> Config {
    Config::testing()
        .set("server.header_read_timeout_secs", header)
        .set("server.keep_alive_timeout_secs", keep_alive)
        .set("server.max_connections_per_address", 5000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_silent_connections_are_closed_while_others_are_served() {
    let (addr, _stop) = serve(timeouts(2, 2)).await;
    let mut silent = Vec::new();
    for _ in 0..1000 {
        silent.push(TcpStream::connect(addr).await.unwrap());
    }
    let opened = Instant::now();
    // Meanwhile a real client is served at once.
    let started = Instant::now();
    assert!(get_page(addr).await.ends_with("hello"));
    let served = started.elapsed();
    assert!(
        served < Duration::from_millis(500),
        "served in {served:?} beside 1000 silent connections"
    );
    let mut all_closed = true;
    for s in &mut silent {
        all_closed &=
            closed_within(s, Duration::from_secs(6).saturating_sub(opened.elapsed())).await;
    }
    assert!(
        all_closed,
        "every silent connection closed by the header timeout"
    );
    let took = opened.elapsed();
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "MEASURED 1000 silent connections: another client served in {served:?}; all closed {took:?} after opening (header timeout 2 s)"
    );
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(6),
        "closed after {took:?} (timeout 2 s)"
    );
}

#[tokio::test]
async fn a_client_trickling_headers_is_cut_off_at_the_header_timeout() {
    let (addr, _stop) = serve(timeouts(1, 30)).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    s.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    let mut cut = false;
    for i in 0..20 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if s.write_all(format!("x-slow-{i}: 1\r\n").as_bytes())
            .await
            .is_err()
        {
            cut = true;
            break;
        }
        if started.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    cut |= closed_within(&mut s, Duration::from_secs(3)).await;
    assert!(cut, "the trickle was let go on for {:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn an_idle_kept_alive_connection_gets_the_keep_alive_timeout() {
    let (addr, _stop) = serve(timeouts(10, 1)).await;
    // A new, silent connection waits for the header timeout (10 s)...
    let mut fresh = TcpStream::connect(addr).await.unwrap();
    // ...while one that already had its answer waits only 1 s for the next.
    let mut kept = TcpStream::connect(addr).await.unwrap();
    kept.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = kept.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).ends_with("hello"));
    let idle = Instant::now();
    assert!(closed_within(&mut kept, Duration::from_secs(4)).await);
    let waited = idle.elapsed();
    assert!(
        waited >= Duration::from_millis(800) && waited < Duration::from_secs(4),
        "kept-alive connection closed after {waited:?}"
    );
    assert!(
        !closed_within(&mut fresh, Duration::from_millis(200)).await,
        "a new connection still has its header timeout"
    );
}

#[tokio::test]
async fn one_address_gets_its_share_of_connections_and_another_still_gets_in() {
    let (addr, _stop) = serve(
        Config::testing()
            .set("server.max_connections_per_address", 5)
            .set("server.header_read_timeout_secs", 30),
    )
    .await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    // The server counts a connection once it accepted it: wait until the
    // fifth is being served (a request on it is answered).
    let mut probe = held.pop().unwrap();
    probe
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    assert!(probe.read(&mut buf).await.unwrap() > 0);
    held.push(probe);
    let mut sixth = TcpStream::connect(addr).await.unwrap();
    assert!(
        closed_within(&mut sixth, Duration::from_secs(2)).await,
        "the sixth connection from one address is closed at once"
    );
    // Another loopback address is another client.
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut other = socket.connect(addr).await.unwrap();
    other
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut page = String::new();
    other.read_to_string(&mut page).await.unwrap();
    assert!(page.ends_with("hello"), "{page}");
    // A slot freed is a slot to take again.
    drop(held.pop());
    let mut again = None;
    for _ in 0..50 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut page = String::new();
        let _ = s.read_to_string(&mut page).await;
        if page.ends_with("hello") {
            again = Some(page);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(again.is_some(), "a closed connection gives its slot back");
}
