//! A proving and verifying service over HTTP (`zkinfer serve`): keys built once per model
//! and kept warm, CPU-bound work behind bounded queues, JSON in and out.
//!
//! halo2_proofs 0.4 cannot serialise keys, so a one-shot CLI call rebuilds them every time
//! (seconds for LeNet-5, where the verification itself takes milliseconds). Inference nodes
//! that prove every answer and verifiers that check streams of proofs run a long-lived
//! process instead: this one.
//!
//! | Endpoint | |
//! |---|---|
//! | `POST /v1/models/{id}/prove?clamp=false` | one input sample (any input format) → proof bundle (token) |
//! | `POST /v1/verify` | proof bundle → `{valid, outputs, outputs_float, argmax}` or `{valid: false, error}` |
//! | `POST /v1/verify/batch` | array of bundles → `{valid, results: [...]}` |
//! | `GET /v1/models`, `GET /v1/models/{id}` | the models; one model's inspection |
//! | `PUT /v1/models/{id}?replace=false` | register a compiled model (the `.zkm` JSON) (token) |
//! | `GET /healthz`, `GET /metrics` | liveness; Prometheus text |
//!
//! Under hostile clients every resource a request can hold is bounded before the request
//! is trusted: connections (`serve/conn.rs`: a limit, and a timeout for each request head), bodies
//! (`serve/body.rs`: the token checked before a byte is read, a size limit, a deadline for the
//! whole body, a byte budget shared by all bodies in flight), CPU-bound work (the queues),
//! and nothing is computed per unauthenticated request that could be computed once at
//! registration. Every request is one line of the access log (`serve/log.rs`).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use zkinfer::serve::{Server, ServeConfig};
//! let config = ServeConfig { models_dir: Some("models".into()), ..ServeConfig::default() };
//! let server = Server::start(config).await?;
//! println!("listening on http://{}", server.local_addr());
//! server.run(zkinfer::serve::shutdown_signal()).await?;
//! # Ok(()) }
//! ```

mod api;
mod body;
mod conn;
pub mod keys;
mod log;
mod metrics;
pub mod models;
pub mod queue;
mod scan;
mod verify;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use api::DEFAULT_TIMEOUT;
use body::BodyReader;
use conn::ConnLimits;
use keys::KeyCache;
pub use log::{init_log, LogFormat};
use metrics::Metrics;
use models::Models;
use queue::Queue;
pub use verify::MAX_BATCH;

use crate::ParamsCache;

/// Batches that may wait for the batch slot.
const BATCH_QUEUE: usize = 8;

/// How a service runs.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Where to listen; `127.0.0.1:8080` by default (loopback: expose it on purpose).
    pub bind: SocketAddr,
    /// A folder whose `*.zkm` models are loaded at start, each named by its file stem.
    pub models_dir: Option<PathBuf>,
    /// Cached IPA parameters.
    pub params: ParamsCache,
    /// Proofs run at once (each uses every core through rayon; default 1).
    pub max_proofs: usize,
    /// Proofs that may wait for a slot; beyond it, 503 with `Retry-After`.
    pub proof_queue: usize,
    /// Verifications (and key builds of registrations) run at once (default: the cores).
    pub max_verifications: usize,
    /// Verifications that may wait.
    pub verify_queue: usize,
    /// Estimated bytes of keys kept in memory, least recently used evicted first.
    pub key_memory: u64,
    /// A request's time limit, from arrival (waiting included) to answer.
    pub request_timeout: Duration,
    /// The largest body of a prove or verify request.
    pub body_limit: usize,
    /// The largest model a registration may send. Registration bodies (behind the token)
    /// held at once are bounded by this limit too, apart from the in-flight budget of the
    /// others: one maximal model at a time.
    pub model_limit: usize,
    /// Bytes of prove and verify bodies held at once, across all requests (at least
    /// `body_limit`); a body that finds it spent waits, until its deadline.
    pub in_flight_bodies: usize,
    /// The time a client has to send a whole body (else 408).
    pub body_timeout: Duration,
    /// Connections served at once; one more is answered 503 and closed.
    pub max_connections: usize,
    /// The time a connection has to send a request head, and may stay idle between requests.
    pub header_timeout: Duration,
    /// When set, proving and registering need `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// Listen on an address beyond loopback with no token (refused otherwise: anyone who can
    /// reach it could register models and spend its CPU on proofs).
    pub allow_unauthenticated: bool,
    /// Build every model's proving key at start too (else on its first proof).
    pub warm_provers: bool,
}

impl Default for ServeConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            models_dir: None,
            params: ParamsCache::from_env(),
            max_proofs: 1,
            proof_queue: 16,
            max_verifications: cores,
            verify_queue: 256,
            key_memory: 8 << 30,
            request_timeout: DEFAULT_TIMEOUT,
            body_limit: 32 << 20,
            model_limit: 512 << 20,
            in_flight_bodies: 64 << 20,
            body_timeout: Duration::from_secs(30),
            max_connections: 256,
            header_timeout: Duration::from_secs(10),
            token: None,
            allow_unauthenticated: false,
            warm_provers: false,
        }
    }
}

/// What every request handler shares.
#[derive(Debug)]
struct Shared {
    config: ServeConfig,
    models: Models,
    keys: Arc<KeyCache>,
    proofs: Queue,
    verifications: Queue,
    /// Batches apart from single verifications: one at a time, on half the cores
    /// (`verify::on_batch_pool`), so that a maximal batch — a thousand verifications anyone
    /// may ask for — cannot take the slots and cores of single ones.
    batches: Queue,
    bodies: BodyReader,
    model_bodies: BodyReader,
    metrics: Metrics,
    shutdown: watch::Receiver<bool>,
}

/// A started service: models loaded, keys built, the socket bound.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
}

/// Why a service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A model of the models folder did not load.
    #[error("{0}")]
    Models(String),
    /// The configuration is unsafe or cannot work.
    #[error("{0}")]
    Config(String),
    /// The server failed while running.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

impl Server {
    /// Loads the models (building their verifying keys, and proving keys with
    /// `warm_provers`) and binds the socket.
    pub async fn start(config: ServeConfig) -> Result<Self, ServeError> {
        check(&config)?;
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|source| ServeError::Bind {
                addr: config.bind,
                source,
            })?;
        let keys = Arc::new(KeyCache::new(config.params.clone(), config.key_memory));
        let (shutdown, watching) = watch::channel(false);
        let shared = Arc::new(Shared {
            proofs: Queue::new(config.max_proofs, config.proof_queue),
            verifications: Queue::new(config.max_verifications, config.verify_queue),
            batches: Queue::new(1, config.verify_queue.min(BATCH_QUEUE)),
            bodies: BodyReader::new(config.in_flight_bodies, config.body_timeout),
            model_bodies: BodyReader::large_only(config.model_limit, config.body_timeout),
            models: Models::default(),
            metrics: Metrics::new(),
            shutdown: watching,
            keys,
            config,
        });
        let loading = shared.clone();
        tokio::task::spawn_blocking(move || load(&loading))
            .await
            .map_err(|e| ServeError::Models(format!("loading the models failed: {e}")))??;
        Ok(Self {
            listener,
            shared,
            shutdown,
        })
    }

    /// The bound address (with the port the system chose when the port was 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or(self.shared.config.bind)
    }

    /// Serves until `signal` completes, then shuts down gracefully: no new connections,
    /// requests waiting for a slot refused (503), running proofs and verifications finished
    /// and answered.
    pub async fn run(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let app = router(self.shared.clone());
        let shutdown = self.shutdown;
        let stop = async move {
            signal.await;
            let _ = shutdown.send(true);
        };
        let config = &self.shared.config;
        let limits = ConnLimits {
            max_connections: config.max_connections,
            header_timeout: config.header_timeout,
        };
        conn::serve(self.listener, app, limits, stop).await?;
        Ok(())
    }
}

/// Refuses a configuration that exposes the service by accident or cannot serve a request.
fn check(config: &ServeConfig) -> Result<(), ServeError> {
    if !config.bind.ip().is_loopback() && config.token.is_none() && !config.allow_unauthenticated {
        return Err(ServeError::Config(format!(
            "refusing to listen on {} (beyond loopback) with no token: anyone who reaches it \
             could register models and spend its CPU on proofs. Set a token, or allow it \
             explicitly (--allow-unauthenticated)",
            config.bind
        )));
    }
    let largest = BodyReader::new(config.in_flight_bodies, config.body_timeout).largest();
    if config.body_limit > largest {
        return Err(ServeError::Config(format!(
            "the body limit ({} bytes) exceeds three quarters of the in-flight body limit ({} \
             bytes; a quarter is kept for small bodies): such a body could never be read",
            config.body_limit, config.in_flight_bodies
        )));
    }
    Ok(())
}

fn load(shared: &Shared) -> Result<(), ServeError> {
    let config = &shared.config;
    if let Some(dir) = &config.models_dir {
        let loaded = shared
            .models
            .load_dir(dir, &shared.keys, &config.params)
            .map_err(ServeError::Models)?;
        if config.warm_provers {
            for model in loaded {
                shared
                    .keys
                    .get::<crate::Prover>(&model.key, &model.model)
                    .map_err(|e| ServeError::Models(format!("model '{}': {e}", model.id)))?;
            }
        }
    }
    Ok(())
}

/// The routes. Handlers read their bodies themselves (through [`BodyReader`]), after the
/// token and every cheap check, so no body limit layer is needed here.
fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthz", get(api::healthz))
        .route("/metrics", get(api::metrics))
        .route("/v1/models", get(api::list_models))
        .route("/v1/models/{id}", get(api::model_info).put(api::register))
        .route("/v1/models/{id}/prove", post(api::prove))
        .route("/v1/verify", post(verify::verify))
        .route("/v1/verify/batch", post(verify::verify_batch))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            log::track,
        ))
        .with_state(shared)
}

/// Completes on Ctrl-C, or on SIGTERM where there is one: the signal a service manager sends
/// to stop a service. Pass it to [`Server::run`].
pub async fn shutdown_signal() {
    ShutdownSignals::new().next().await;
}

/// Ctrl-C and SIGTERM as one stream, listened to from its creation: each signal completes
/// exactly one [`ShutdownSignals::next`], so a server can stop gracefully on the first and
/// at once on the second (a listener created after the first could otherwise see it too).
#[derive(Debug)]
pub struct ShutdownSignals {
    #[cfg(unix)]
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl ShutdownSignals {
    /// Starts listening (inside a tokio runtime).
    pub fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let streams = signal(SignalKind::interrupt())
                .and_then(|int| Ok((int, signal(SignalKind::terminate())?)))
                .ok();
            Self { streams }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    /// The next Ctrl-C or SIGTERM.
    pub async fn next(&mut self) {
        #[cfg(unix)]
        if let Some((int, term)) = &mut self.streams {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

impl Default for ShutdownSignals {
    fn default() -> Self {
        Self::new()
    }
}
