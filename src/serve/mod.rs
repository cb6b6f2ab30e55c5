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
mod error;
pub mod keys;
mod log;
mod metrics;
pub mod models;
pub mod queue;
mod scan;
mod shared;
mod verify;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

use body::BodyReader;
use conn::ConnLimits;
use keys::KeyCache;
pub use log::{init_log, LogFormat, LogInitError};
use metrics::Metrics;
use models::Models;
use queue::Queue;
use shared::Shared;
pub use shared::{ServeConfig, DEFAULT_TIMEOUT};
pub use verify::MAX_BATCH;

/// Batches that may wait for the batch slot.
const BATCH_QUEUE: usize = 8;

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
    #[error(transparent)]
    Models(#[from] models::LoadError),
    /// The thread loading the models failed.
    #[error("loading the models failed: {0}")]
    Loading(#[from] tokio::task::JoinError),
    /// A model's proving key did not build (`warm_provers`).
    #[error("model '{id}': {source}")]
    Warm {
        /// The model's id.
        id: String,
        /// Why.
        source: Box<crate::Error>,
    },
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
            .map_err(ServeError::Loading)??;
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
        let loaded = shared.models.load_dir(dir, &shared.keys, &config.params)?;
        if config.warm_provers {
            for model in loaded {
                // A model proven in parts: each shape's proving keys (as many as the budget
                // keeps, the last ones built staying).
                let warmed = match &model.parted {
                    Some(parted) => {
                        let shapes = parted.shapes();
                        shapes
                            .digests
                            .iter()
                            .enumerate()
                            .try_for_each(|(s, digest)| {
                                let part = shapes.parts_of(s).next().map(|i| &parted.parts()[i]);
                                match part {
                                    Some(part) => shared
                                        .keys
                                        .get::<crate::ProvingKeys>(&keys::shape_key(digest), part)
                                        .map(drop),
                                    None => Ok(()),
                                }
                            })
                    }
                    None => shared
                        .keys
                        .get::<crate::Prover>(&model.key, &model.model)
                        .map(drop),
                };
                warmed.map_err(|source| ServeError::Warm {
                    id: model.id.clone(),
                    source: Box::new(source),
                })?;
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
