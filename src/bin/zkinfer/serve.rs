//! `zkinfer serve`: the service's flags, turned into a [`ServeConfig`], and the runtime that
//! serves until a signal.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use zkinfer::serve::{ServeConfig, Server};
use zkinfer::ParamsCache;

use crate::common::Result;

/// The flags of `zkinfer serve`.
#[derive(Clone, Debug, clap::Args)]
pub(crate) struct ServeFlags {
    /// A folder of compiled models (`*.zkm`), each served under its file stem.
    #[arg(long, value_name = "DIR")]
    models: Option<PathBuf>,
    /// Address to listen on (loopback by default; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: std::net::SocketAddr,
    /// Proofs run at once (each already uses every core).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    max_proofs: u32,
    /// Proofs that may wait for a slot; beyond it the server answers 503 with Retry-After.
    #[arg(long, default_value_t = 16)]
    proof_queue: usize,
    /// Verifications run at once (default: the number of cores).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    max_verifications: Option<u32>,
    /// Verifications that may wait for a slot.
    #[arg(long, default_value_t = 256)]
    verify_queue: usize,
    /// Memory for keys, MiB (an estimate per key; least recently used evicted first).
    #[arg(long, default_value_t = 8192, value_name = "MIB")]
    key_memory_mib: u64,
    /// A request's time limit in seconds, waiting included.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86400))]
    timeout: u64,
    /// The largest prove or verify request body, MiB.
    #[arg(long, default_value_t = 32, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..=4096))]
    body_limit_mib: u64,
    /// The largest model a registration may send, MiB (read one at a time, behind the token).
    #[arg(long, default_value_t = 512, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..=16384))]
    model_limit_mib: u64,
    /// Prove and verify bodies held at once, all requests together, MiB (at least the body
    /// limit); a body that finds it spent waits until its deadline, then gets 503.
    #[arg(long, default_value_t = 64, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..=65536))]
    in_flight_mib: u64,
    /// Seconds a client has to send a whole request body (else 408).
    #[arg(long, default_value_t = 30, value_name = "S", value_parser = clap::value_parser!(u64).range(1..=3600))]
    body_timeout: u64,
    /// Seconds a connection has to send a request head, or may stay idle between requests.
    #[arg(long, default_value_t = 10, value_name = "S", value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout: u64,
    /// Connections served at once; one more is answered 503 and closed.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_connections: u32,
    /// Require `Authorization: Bearer TOKEN` to prove and to register models.
    #[arg(long, env = "ZKINFER_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Listen beyond loopback with no token (refused otherwise).
    #[arg(long)]
    allow_unauthenticated: bool,
    /// The access log on standard error: one line per request, `human`, `json` or `off`.
    #[arg(long, default_value = "human", value_name = "FORMAT")]
    log: zkinfer::serve::LogFormat,
    /// Build every model's proving key at start (else at its first proof).
    #[arg(long)]
    warm_provers: bool,
}

impl ServeFlags {
    /// The service's configuration, parameters from `cache`.
    fn config(self, cache: &ParamsCache) -> Result<ServeConfig> {
        let defaults = ServeConfig::default();
        Ok(ServeConfig {
            bind: self.bind,
            models_dir: self.models,
            params: cache.clone(),
            max_proofs: self.max_proofs as usize,
            proof_queue: self.proof_queue,
            max_verifications: self
                .max_verifications
                .map_or(defaults.max_verifications, |n| n as usize),
            verify_queue: self.verify_queue,
            key_memory: self.key_memory_mib.saturating_mul(1 << 20),
            request_timeout: Duration::from_secs(self.timeout),
            body_limit: usize::try_from(self.body_limit_mib << 20)?,
            model_limit: usize::try_from(self.model_limit_mib << 20)?,
            in_flight_bodies: usize::try_from(self.in_flight_mib << 20)?,
            body_timeout: Duration::from_secs(self.body_timeout),
            header_timeout: Duration::from_secs(self.header_timeout),
            max_connections: self.max_connections as usize,
            token: self.token.filter(|t| !t.is_empty()),
            allow_unauthenticated: self.allow_unauthenticated,
            warm_provers: self.warm_provers,
        })
    }
}

/// Serves with `flags` until Ctrl-C or SIGTERM.
pub(crate) fn run(flags: ServeFlags, cache: &ParamsCache) -> Result<()> {
    zkinfer::serve::init_log(flags.log)?;
    let config = flags.config(cache)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let started = Instant::now();
        // Listening from the start, so that each signal is seen once (see ShutdownSignals).
        let mut signals = zkinfer::serve::ShutdownSignals::new();
        let server = Server::start(config).await?;
        eprintln!("models loaded and keys built in {:.2} s", started.elapsed().as_secs_f64());
        out!("listening on http://{}", server.local_addr());
        std::io::stdout().flush()?;
        server
            .run(async move {
                signals.next().await;
                eprintln!("shutting down: finishing the requests in flight (signal again to stop at once)");
                tokio::spawn(async move {
                    signals.next().await;
                    std::process::exit(130);
                });
            })
            .await?;
        eprintln!("stopped");
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}
