//! Helpers of the service tests: `zkinfer serve` started as a user runs it (the real binary
//! on an ephemeral loopback port), and requests to it over HTTP or over a raw socket (for
//! what a well-behaved client library will not send: a stalled body, an idle connection).
#![allow(dead_code)] // each test file uses its own part

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common;

pub mod abuse;

pub const TOKEN: &str = "test-token-123";

/// A running `zkinfer serve`, killed on drop.
pub struct Served {
    pub child: Child,
    pub base: String,
    /// `host:port`.
    pub addr: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child process killed on drop.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn models_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    common::model()
        .save(&dir.path().join("digits.zkm"))
        .unwrap();
    dir
}

/// `zkinfer serve` on the models of `models` (with `--log off` unless `extra` sets a log).
pub fn serve(models: &Path, extra: &[&str]) -> Served {
    serve_logged(models, extra, false).0
}

/// The flags (each with a value, but the last) that the server before issue 27 lacked.
const NEW_FLAGS: &[&str] = &[
    "--log",
    "--max-connections",
    "--header-timeout",
    "--body-timeout",
    "--in-flight-mib",
    "--model-limit-mib",
    "--allow-unauthenticated",
];

/// The command line of a server on an ephemeral loopback port.
///
/// `ZKINFER_SERVE_OLD=path/to/zkinfer` runs another build of the server instead, without
/// the flags it lacks: how the attack tests were checked to fail on the server before the
/// fixes (TESTING.md).
pub fn command(models: &Path, extra: &[&str]) -> Command {
    let old = std::env::var_os("ZKINFER_SERVE_OLD");
    let mut command = Command::new(old.clone().unwrap_or(env!("CARGO_BIN_EXE_zkinfer").into()));
    command
        .arg("serve")
        .args(["--models"])
        .arg(models)
        .arg("--params-dir")
        .arg(common::cache().path(1).parent().unwrap());
    if !extra.contains(&"--bind") {
        command.args(["--bind", "127.0.0.1:0"]);
    }
    if old.is_some() {
        let mut args = extra.iter();
        while let Some(&arg) = args.next() {
            match arg {
                "--allow-unauthenticated" => {}
                a if NEW_FLAGS.contains(&a) => {
                    args.next();
                }
                a => {
                    command.arg(a);
                }
            }
        }
    } else {
        if !extra.contains(&"--log") {
            command.args(["--log", "off"]);
        }
        command.args(extra);
    }
    command.env_remove("ZKINFER_TOKEN");
    command
}

/// A server, and its standard error when `capture` (else inherited).
pub fn serve_logged(models: &Path, extra: &[&str], capture: bool) -> (Served, Option<ChildStderr>) {
    let mut child = command(models, extra)
        .stdout(Stdio::piped())
        .stderr(if capture {
            Stdio::piped()
        } else {
            Stdio::inherit()
        })
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_owned();
    let addr = base.trim_start_matches("http://").to_owned();
    let stderr = child.stderr.take();
    (Served { child, base, addr }, stderr)
}

pub struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
    pub request_id: Option<String>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// A JSON error of `status` and `kind` whose message contains `words`.
    pub fn error(&self, status: u16, kind: &str, words: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        let v = self.json();
        assert_eq!(v["ok"], false, "{v}");
        assert_eq!(v["error"]["kind"], kind, "{v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{message:?} lacks {words:?}");
    }
}

pub fn call(method: &str, url: &str, token: Option<&str>, body: Option<&str>) -> Reply {
    send(method, url, token, body)
        .unwrap_or_else(|| panic!("{method} {url}: the connection broke before an answer"))
}

/// One request; `None` when the connection broke before any answer.
pub fn send(method: &str, url: &str, token: Option<&str>, body: Option<&str>) -> Option<Reply> {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(300))
        .build();
    let mut request = agent.request(method, url);
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    let result = match body {
        Some(body) => request
            .set("Content-Type", "application/json")
            .send_string(body),
        None => request.call(),
    };
    let response = match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(ureq::Error::Transport(_)) => return None,
    };
    Some(Reply {
        status: response.status(),
        retry_after: response.header("Retry-After").map(str::to_owned),
        request_id: response.header("x-request-id").map(str::to_owned),
        body: response.into_string().unwrap(),
    })
}

impl Served {
    pub fn get(&self, path: &str) -> Reply {
        call("GET", &format!("{}{path}", self.base), None, None)
    }
    pub fn post(&self, path: &str, token: Option<&str>, body: &str) -> Reply {
        call("POST", &format!("{}{path}", self.base), token, Some(body))
    }
    pub fn put(&self, path: &str, token: Option<&str>, body: &str) -> Reply {
        call("PUT", &format!("{}{path}", self.base), token, Some(body))
    }
    pub fn prove(&self) -> Reply {
        let input = std::fs::read_to_string(common::data("digits_mlp.input.json")).unwrap();
        self.post("/v1/models/digits/prove", Some(TOKEN), &input)
    }
    /// A gauge of `/metrics`, as `name{labels} value`.
    pub fn gauge(&self, series: &str) -> f64 {
        let text = self.get("/metrics").body;
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0.0)
    }
    /// Waits until a proof runs; false if none started within the time.
    pub fn proof_running(&self, within: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < within {
            if self.gauge("zkinfer_queue_running{queue=\"prove\"}") >= 1.0 {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }
    /// The server's resident memory, KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
    /// A raw connection to the server.
    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream
    }
}

/// Reads what the server sends until it closes the connection or `within` passes; the
/// status line's code (0 if none came) and the whole text.
pub fn read_reply(stream: &mut TcpStream, within: Duration) -> (u16, String) {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let start = Instant::now();
    while start.elapsed() < within {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                // One answer is enough: stop at the end of its declared body.
                if let Some(text) = complete(&got) {
                    return (status_of(&text), text);
                }
            }
        }
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    (status_of(&text), text)
}

fn complete(got: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(got);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_owned())
        })?
        .parse()
        .ok()?;
    (body.len() >= length).then(|| text.into_owned())
}

fn status_of(text: &str) -> u16 {
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// Writes a request head declaring `length` body bytes.
pub fn head(stream: &mut TcpStream, method: &str, path: &str, token: Option<&str>, length: usize) {
    let auth = token.map_or(String::new(), |t| format!("authorization: Bearer {t}\r\n"));
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
         {auth}content-length: {length}\r\n\r\n"
    )
    .unwrap();
}
