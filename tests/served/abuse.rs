//! The abuse run of issue 27 against a real `zkinfer serve` on loopback: honest clients
//! verifying a proof, first alone, then beside hostile ones — bodies trickling in, bodies
//! declared or sent over the limits without the token, maximal batches (real ones, and junk
//! of maximal size), and many idle connections. Reports the server's resident memory (idle,
//! and the peak of each phase, sampled every 20 ms), the honest clients' latency percentiles
//! in each phase, and every status code seen, by client. Bounded: it stops by itself.
//! Run by `service_hostile::abuse_run` (ignored; `benches/abuse_service.sh`).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::json;

const MIB: usize = 1 << 20;

/// What to run against.
pub struct Args {
    /// `http://host:port`.
    pub url: String,
    /// The server's process id, for its memory.
    pub pid: u32,
    /// The model to prove with, and its input file.
    pub model: String,
    pub input: String,
    pub token: String,
    /// Each phase's length.
    pub seconds: f64,
    /// Honest clients, idle connections, slow bodies.
    pub honest: usize,
    pub idle: usize,
    pub slow: usize,
}

pub fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib / 1024.0
}

/// Status codes seen, by client kind (0: the connection closed with no answer).
#[derive(Default)]
struct Seen(Mutex<BTreeMap<String, BTreeMap<u16, u64>>>);

impl Seen {
    fn add(&self, who: &str, status: u16) {
        let mut all = self.0.lock().unwrap();
        *all.entry(who.to_owned())
            .or_default()
            .entry(status)
            .or_default() += 1;
    }
    fn take(&self) -> serde_json::Value {
        json!(std::mem::take(&mut *self.0.lock().unwrap()))
    }
}

fn status_of(reply: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(reply);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// Sends a raw request head declaring `length` bytes (or chunked when `None`), then the body
/// as `send` writes it; the status of the answer.
fn raw(addr: &str, head: &str, length: Option<usize>, send: impl FnOnce(&mut TcpStream)) -> u16 {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return 0;
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let framing = match length {
        Some(n) => format!("content-length: {n}"),
        None => "transfer-encoding: chunked".to_owned(),
    };
    let _ = write!(
        stream,
        "{head}\r\nhost: x\r\ncontent-type: application/json\r\n{framing}\r\n\r\n"
    );
    send(&mut stream);
    let mut reply = vec![0u8; 4096];
    let n = stream.read(&mut reply).unwrap_or(0);
    status_of(&reply[..n])
}

/// Honest clients verifying `bundle` until `stop`; latencies in ms.
fn honest(url: &str, bundle: &str, stop: &AtomicBool, seen: &Seen) -> Vec<f64> {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(120))
        .build();
    let mut latencies = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        let status = match agent
            .post(&format!("{url}/v1/verify"))
            .set("Content-Type", "application/json")
            .send_string(bundle)
        {
            Ok(r) | Err(ureq::Error::Status(_, r)) => {
                let status = r.status();
                let body = r.into_string().unwrap_or_default();
                assert!(status != 200 || body.contains("\"valid\":true"), "{body}");
                status
            }
            Err(_) => 0,
        };
        seen.add("honest verify", status);
        latencies.push(t.elapsed().as_secs_f64() * 1e3);
    }
    latencies
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// One phase: honest clients, and the attackers when `attack`; the report of the phase.
fn phase(a: &Args, bundle: &str, batch: &str, attack: bool) -> serde_json::Value {
    let addr = a.url.trim_start_matches("http://").to_owned();
    let stop = AtomicBool::new(false);
    let seen = Seen::default();
    let deadline = Instant::now() + Duration::from_secs_f64(a.seconds);
    let mut peak = 0f64;
    let latencies: Vec<f64> = std::thread::scope(|s| {
        let clients: Vec<_> = (0..a.honest)
            .map(|_| s.spawn(|| honest(&a.url, bundle, &stop, &seen)))
            .collect();
        if attack {
            attackers(s, a, &addr, batch, &stop, &seen);
        }
        while Instant::now() < deadline {
            peak = peak.max(rss_mib(a.pid));
            std::thread::sleep(Duration::from_millis(20));
        }
        stop.store(true, Ordering::Relaxed);
        clients
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect()
    });
    let mut sorted = latencies;
    sorted.sort_by(f64::total_cmp);
    json!({
        "attacked": attack,
        "peak_rss_mib": peak,
        "honest_requests": sorted.len(),
        "honest_p50_ms": percentile(&sorted, 0.5),
        "honest_p99_ms": percentile(&sorted, 0.99),
        "statuses": seen.take(),
    })
}

fn attackers<'s>(
    s: &'s std::thread::Scope<'s, '_>,
    a: &'s Args,
    addr: &'s str,
    batch: &'s str,
    stop: &'s AtomicBool,
    seen: &'s Seen,
) {
    let go = move || !stop.load(Ordering::Relaxed);
    // Idle connections, reopened whenever the server closes one.
    s.spawn(move || {
        let mut open: Vec<Option<TcpStream>> = (0..a.idle).map(|_| None).collect();
        while go() {
            for slot in &mut open {
                let closed = match slot {
                    None => true,
                    Some(stream) => {
                        let mut buf = [0u8; 512];
                        match stream.read(&mut buf) {
                            Ok(0) => {
                                seen.add("idle connection", 0);
                                true
                            }
                            Ok(n) => {
                                seen.add("idle connection", status_of(&buf[..n]));
                                true
                            }
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
                            Err(_) => {
                                seen.add("idle connection", 0);
                                true
                            }
                        }
                    }
                };
                if closed {
                    *slot = TcpStream::connect(addr).ok().inspect(|s| {
                        s.set_nonblocking(true).unwrap();
                    });
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    // Bodies trickling in, a kilobyte every 100 ms, declaring the maximal 32 MiB.
    for _ in 0..a.slow {
        s.spawn(move || {
            while go() {
                let status = raw(addr, "POST /v1/verify HTTP/1.1", Some(32 * MIB), |w| {
                    let chunk = [b' '; 1024];
                    while go() && w.write_all(&chunk).is_ok() {
                        std::thread::sleep(Duration::from_millis(100));
                        let mut probe = [0u8; 1];
                        w.set_nonblocking(true).unwrap();
                        let answered = w.peek(&mut probe).is_ok_and(|n| n > 0);
                        w.set_nonblocking(false).unwrap();
                        if answered {
                            break;
                        }
                    }
                });
                seen.add("slow body", status);
            }
        });
    }
    // Oversized bodies, without the token: declared (a model of 1 GiB, a proof input of
    // 100 MiB), and sent (40 MiB of a verify body, chunked: no length to refuse up front).
    s.spawn(move || {
        while go() {
            let status = raw(addr, "PUT /v1/models/big HTTP/1.1", Some(1 << 30), |w| {
                let _ = w.write_all(&vec![b' '; MIB]);
            });
            seen.add("oversized: model, no token", status);
            let status = raw(
                addr,
                "POST /v1/models/x/prove HTTP/1.1",
                Some(100 * MIB),
                |_| {},
            );
            seen.add("oversized: prove, no token", status);
        }
    });
    for _ in 0..2 {
        s.spawn(move || {
            while go() {
                let status = raw(addr, "POST /v1/verify HTTP/1.1", None, |w| {
                    let chunk = vec![b' '; MIB];
                    for _ in 0..40 {
                        if write!(w, "{:x}\r\n", chunk.len()).is_err()
                            || w.write_all(&chunk).is_err()
                            || w.write_all(b"\r\n").is_err()
                        {
                            break;
                        }
                    }
                });
                seen.add("oversized: verify, 40 MiB chunked", status);
            }
        });
    }
    // Maximal batches: real bundles, as many as a batch holds; and 30 MiB of junk.
    s.spawn(move || {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(300))
            .build();
        let fields: Vec<String> = (0..2_600_000).map(|i| format!("\"k{i}\":0")).collect();
        let junk = format!("[{{{}}}]", fields.join(","));
        while go() {
            for (who, body) in [
                ("maximal batch", batch),
                ("maximal junk batch", junk.as_str()),
            ] {
                let status = match agent
                    .post(&format!("http://{addr}/v1/verify/batch"))
                    .set("Content-Type", "application/json")
                    .send_string(body)
                {
                    Ok(r) | Err(ureq::Error::Status(_, r)) => r.status(),
                    Err(_) => 0,
                };
                seen.add(who, status);
            }
        }
    });
}

/// The whole run: a proof, a warm-up, the unattacked phase, the attacked one, a short
/// phase after; the report.
pub fn run(a: &Args) -> serde_json::Value {
    let input = std::fs::read_to_string(&a.input).unwrap();
    let before_proof = rss_mib(a.pid);
    let proved = ureq::post(&format!("{}/v1/models/{}/prove", a.url, a.model))
        .set("Authorization", &format!("Bearer {}", a.token))
        .send_string(&input)
        .unwrap();
    let bundle = proved.into_string().unwrap();
    let after_proof = rss_mib(a.pid);
    // As many copies as a batch holds, within the 32 MiB body limit.
    let copies = (32 * MIB / (bundle.len() + 1) - 1).min(zkinfer::serve::MAX_BATCH);
    let batch = format!("[{}]", vec![bundle.as_str(); copies].join(","));
    let short = |seconds| Args {
        seconds,
        url: a.url.clone(),
        model: a.model.clone(),
        input: a.input.clone(),
        token: a.token.clone(),
        ..*a
    };
    // Warm the verifying path, then measure.
    let _ = phase(&short(2.0), &bundle, &batch, false);
    let idle = rss_mib(a.pid);
    let quiet = phase(a, &bundle, &batch, false);
    let attacked = phase(a, &bundle, &batch, true);
    // The server answers honest clients again once the attackers are gone.
    let after = phase(&short(3.0), &bundle, &batch, false);
    json!({
        "bundle_bytes": bundle.len(),
        "batch_bundles": copies,
        "batch_bytes": batch.len(),
        "rss_mib_before_first_proof": before_proof,
        "rss_mib_after_first_proof": after_proof,
        "idle_rss_mib": idle,
        "unattacked": quiet,
        "attacked": attacked,
        "after": after,
    })
}
