//! Tests of the real binary as a process: start-up refusal without
//! production secrets (or with one key for both), and SIGTERM during a
//! slow request.

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

fn connect(port: u16) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => return stream,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(err) => panic!("server did not come up: {err}"),
        }
    }
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

    // A slow client: the request head and half of its body now, the rest
    // after SIGTERM.
    let mut stream = connect(port);
    stream
        .write_all(b"POST /health HTTP/1.1\r\nhost: localhost\r\ncontent-length: 4\r\n\r\nab")
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(300));
    stream.write_all(b"cd").unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 405"), "{response}");

    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "server did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
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
