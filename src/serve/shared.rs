//! What the service's modules share: its configuration and the state every request handler
//! holds. A leaf of `serve/` (it reads only the registries, queues and readers it holds), so
//! that the handlers, the log and the verifier import it and nothing imports back.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::body::BodyReader;
use super::keys::KeyCache;
use super::metrics::Metrics;
use super::models::Models;
use super::queue::Queue;
use crate::ParamsCache;

/// The default time limit of a request: queueing and work together.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

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
pub(super) struct Shared {
    pub(super) config: ServeConfig,
    pub(super) models: Models,
    pub(super) keys: Arc<KeyCache>,
    pub(super) proofs: Queue,
    pub(super) verifications: Queue,
    /// Batches apart from single verifications: one at a time, on half the cores
    /// (`verify::on_batch_pool`), so that a maximal batch — a thousand verifications anyone
    /// may ask for — cannot take the slots and cores of single ones.
    pub(super) batches: Queue,
    pub(super) bodies: BodyReader,
    pub(super) model_bodies: BodyReader,
    pub(super) metrics: Metrics,
    pub(super) shutdown: watch::Receiver<bool>,
}
