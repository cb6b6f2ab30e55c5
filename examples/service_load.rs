//! A bounded load generator for `zkinfer serve`, on loopback: proves one input through the
//! service, then verifies that proof from 1, 4 and 16 concurrent clients (each for a fixed
//! time) and reports latency percentiles and throughput; optionally a soak that samples the
//! server's resident memory.
//!
//! ```text
//! cargo run --release --example service_load -- --url http://127.0.0.1:8080 \
//!     --model digits --input tests/data/digits_mlp.input.json --seconds 20 [--proves 5] \
//!     [--soak-seconds 300 --pid 1234]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a measuring script

use std::time::{Duration, Instant};

use serde_json::json;

struct Args {
    url: String,
    model: String,
    input: String,
    token: Option<String>,
    seconds: f64,
    clients: Vec<usize>,
    proves: usize,
    soak_seconds: f64,
    pid: Option<u32>,
}

fn args() -> Args {
    let mut a = Args {
        url: "http://127.0.0.1:8080".into(),
        model: String::new(),
        input: String::new(),
        token: std::env::var("ZKINFER_TOKEN").ok(),
        seconds: 10.0,
        clients: vec![1, 4, 16],
        proves: 5,
        soak_seconds: 0.0,
        pid: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => a.url = value,
            "--model" => a.model = value,
            "--input" => a.input = value,
            "--token" => a.token = Some(value),
            "--seconds" => a.seconds = value.parse().unwrap(),
            "--clients" => a.clients = value.split(',').map(|c| c.parse().unwrap()).collect(),
            "--proves" => a.proves = value.parse().unwrap(),
            "--soak-seconds" => a.soak_seconds = value.parse().unwrap(),
            "--pid" => a.pid = Some(value.parse().unwrap()),
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(
        !a.model.is_empty() && !a.input.is_empty(),
        "--model and --input are required"
    );
    a
}

fn post(url: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let mut request = ureq::post(url).set("Content-Type", "application/json");
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    match request.send_string(body) {
        Ok(r) | Err(ureq::Error::Status(_, r)) => (r.status(), r.into_string().unwrap()),
        Err(e) => panic!("{url}: {e}"),
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// Verifies `bundle` from `clients` threads for `seconds`; latencies in seconds.
fn verify_load(url: &str, bundle: &str, clients: usize, seconds: f64) -> (Vec<f64>, f64) {
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let mut all: Vec<f64> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..clients)
            .map(|_| {
                s.spawn(|| {
                    let agent = ureq::AgentBuilder::new().build();
                    let mut latencies = Vec::new();
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        let r = agent
                            .post(&format!("{url}/v1/verify"))
                            .set("Content-Type", "application/json")
                            .send_string(bundle)
                            .unwrap();
                        let body = r.into_string().unwrap();
                        assert!(body.contains("\"valid\":true"), "{body}");
                        latencies.push(t.elapsed().as_secs_f64());
                    }
                    latencies
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    (all, elapsed)
}

fn main() {
    let a = args();
    let input = std::fs::read_to_string(&a.input).unwrap();
    let prove_url = format!("{}/v1/models/{}/prove", a.url, a.model);
    // The first proof builds the proving key; the rest measure warm proving.
    let mut prove_s = Vec::new();
    let mut bundle = String::new();
    for i in 0..=a.proves {
        let t = Instant::now();
        let (status, body) = post(&prove_url, a.token.as_deref(), &input);
        assert_eq!(status, 200, "{body}");
        if i > 0 {
            prove_s.push(t.elapsed().as_secs_f64());
        }
        bundle = body;
    }
    prove_s.sort_by(f64::total_cmp);
    let mut report = json!({
        "model": a.model,
        "warm_prove_s_median": prove_s.get(prove_s.len() / 2),
        "proves": prove_s.len(),
        "verify": [],
    });
    for &clients in &a.clients {
        let (lat, elapsed) = verify_load(&a.url, &bundle, clients, a.seconds);
        report["verify"].as_array_mut().unwrap().push(json!({
            "clients": clients,
            "requests": lat.len(),
            "p50_ms": percentile(&lat, 0.5) * 1e3,
            "p99_ms": percentile(&lat, 0.99) * 1e3,
            "per_second": lat.len() as f64 / elapsed,
        }));
    }
    if a.soak_seconds > 0.0 {
        let pid = a.pid.expect("--soak-seconds needs --pid of the server");
        let mut samples = vec![rss_mib(pid)];
        let rounds = (a.soak_seconds / 10.0).ceil() as usize;
        let mut requests = 0;
        for _ in 0..rounds {
            let (status, body) = post(&prove_url, a.token.as_deref(), &input);
            assert_eq!(status, 200, "{body}");
            requests += 1 + verify_load(&a.url, &bundle, 4, 10.0).0.len();
            samples.push(rss_mib(pid));
        }
        report["soak"] =
            json!({ "seconds": rounds * 10, "requests": requests, "rss_mib_every_10s": samples });
    }
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}
