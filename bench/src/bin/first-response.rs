//! Run with: `first-response http://127.0.0.1:5301/field/plaintext -- blog run --bind 127.0.0.1:5301`
//!
//! Start-to-first-response for `scripts/bench-field.sh`: starts the
//! command, asks the URL every millisecond until it answers 200, prints the
//! milliseconds from starting the command to that answer, then stops the
//! command with SIGTERM (a gunicorn master takes its workers with it) and
//! waits for it. A server that exits or does not answer within 30 s is an
//! error.

#![expect(clippy::print_stdout, reason = "the figure is the tool's output")]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// One GET; true when the status line says 200.
fn answers(host: &str, path: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(host) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(url), Some(dash)) = (args.first(), args.iter().position(|a| a == "--")) else {
        eprintln!("usage: first-response URL -- COMMAND [ARGS...]");
        return ExitCode::from(2);
    };
    let Some(rest) = url.strip_prefix("http://") else {
        eprintln!("the URL must start with http:// (got `{url}`)");
        return ExitCode::from(2);
    };
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let Some((program, program_args)) = args[dash + 1..].split_first() else {
        eprintln!("no command after `--`");
        return ExitCode::from(2);
    };
    let started = Instant::now();
    let mut child = match Command::new(program)
        .args(program_args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot start `{program}`: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut outcome = Err("no answer within 30 s".to_owned());
    while started.elapsed() < Duration::from_secs(30) {
        if answers(host, path) {
            outcome = Ok(started.elapsed());
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            outcome = Err(format!("`{program}` exited before answering ({status})"));
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    match outcome {
        Ok(elapsed) => {
            println!("{:.1}", elapsed.as_secs_f64() * 1000.0);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
