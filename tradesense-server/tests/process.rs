//! Tests of the real binary as a process: start-up refusal without
//! production secrets (or with one key for both), SIGTERM during a slow
//! request, the healthcheck subcommand.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn server() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tradesense-server"));
    command.env_clear().env("RUST_LOG", "info");
    command
}

#[test]
fn production_without_secrets_refuses_to_start_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let output = server()
        .env("ENVIRONMENT", "production")
        .env(
            "JWT_SECRET_KEY",
            "a-jwt-secret-that-is-long-enough-0123456789",
        )
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SECRET_KEY"), "{stderr}");
    assert!(
        !stderr.contains("a-jwt-secret-that-is-long-enough"),
        "{stderr}"
    );

    let output = server()
        .env("ENVIRONMENT", "production")
        .env("SECRET_KEY", "a-secret-that-is-long-enough-0123456789")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("JWT_SECRET_KEY"));
}

#[test]
fn production_with_one_key_for_both_secrets_refuses_to_start_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let same = "one-key-for-sealing-and-signing-0123456789";
    let output = server()
        .env("ENVIRONMENT", "production")
        .env("SECRET_KEY", same)
        .env("JWT_SECRET_KEY", same)
        .env("BIND_ADDR", "127.0.0.1:0")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("t.db").display()),
        )
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stderr.contains("SECRET_KEY"), "{stderr}");
    assert!(stderr.contains("JWT_SECRET_KEY"), "{stderr}");
    for printed in [&stderr, &stdout] {
        assert!(!printed.contains(same), "{printed}");
    }
    // Refused before anything was opened.
    assert!(!dir.path().join("t.db").exists());
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `condition` until it holds or `within` has passed, and says
/// whether it held: how these tests wait for the process to do something
/// (listen, stop listening, exit), never a fixed sleep.
fn wait_until(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn connect(port: u16) -> TcpStream {
    let mut stream = None;
    let up = wait_until(Duration::from_secs(30), || {
        stream = TcpStream::connect(("127.0.0.1", port)).ok();
        stream.is_some()
    });
    assert!(up, "server did not come up on port {port}");
    stream.unwrap()
}

/// Reads one response head (up to the blank line) and no further.
fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = stream.read(&mut byte).expect("a response head");
        assert_eq!(read, 1, "connection closed mid-head: {head:?}");
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

#[test]
fn sigterm_during_a_slow_request_lets_it_finish_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = server()
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("t.db").display()),
        )
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    // A slow client: the request head now, the body after SIGTERM, to a
    // route that reads its body (one that does not answers at once).
    // `Expect: 100-continue` makes the server say when the handler is
    // reading it.
    let body = br#"{"email": "late@example.com", "password": "x"}"#;
    let mut stream = connect(port);
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let head = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nhost: localhost\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\
         expect: 100-continue\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    let interim = read_head(&mut stream);
    assert!(interim.starts_with("HTTP/1.1 100 "), "{interim}");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // The shutdown has begun once the listener is closed.
    let closed = wait_until(Duration::from_secs(15), || {
        TcpStream::connect(("127.0.0.1", port)).is_err()
    });
    assert!(closed, "still listening after SIGTERM");
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 401 "), "{response}");

    let exited = wait_until(Duration::from_secs(15), || {
        child.try_wait().unwrap().is_some()
    });
    assert!(exited, "server did not exit after SIGTERM");
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn healthcheck_subcommand_reports_the_servers_health() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let probe = || {
        server()
            .arg("healthcheck")
            .env("BIND_ADDR", &bind)
            .status()
            .unwrap()
            .success()
    };
    assert!(!probe(), "nothing listens yet");
    let mut child = server()
        .env("BIND_ADDR", &bind)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("t.db").display()),
        )
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    drop(connect(port));
    assert!(probe());
    child.kill().unwrap();
    child.wait().unwrap();
}
