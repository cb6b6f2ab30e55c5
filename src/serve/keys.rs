//! Keys kept warm: proving and verifying keys built once per model and kept in memory under a
//! budget, the least recently used evicted first.
//!
//! halo2_proofs 0.4 cannot serialise keys, so a key is rebuilt from the model whenever it is
//! not in memory: seconds for LeNet-5, which is what a long-lived service saves its callers.
//! Keys are indexed by the model's key (its digest, and with hashed params its weights
//! commitment), which one id serves, so a model replaced under its name never meets the old
//! model's keys. A model proven in parts has one verifier for all its parts (a
//! [`PartedVerifier`], one verifying key per distinct shape inside) and a proving key per
//! shape of its parts ([`ProvingKeys`]), each under its shape's digest ([`shape_key`]) and
//! evicted on its own: a warm service keeps as many shapes as its budget holds, and the
//! repeated blocks of one model, or of several models, share one entry. A shape's keys are
//! built from the shape alone, so an entry outliving the model that built it (replaced or
//! evicted) is still exactly the keys of any part of that digest.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::api::Shape;
use crate::{CompiledModel, Error, ParamsCache, PartedVerifier, Prover, ProvingKeys, Verifier};

/// Which key of a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// A [`Prover`]: parameters and the proving key.
    Prover,
    /// A [`Verifier`]: parameters and the verifying key.
    Verifier,
}

impl Role {
    /// The label used in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prover => "prover",
            Self::Verifier => "verifier",
        }
    }
}

/// A key the cache can build and hold.
pub trait Key: Any + Send + Sync + Sized {
    /// Which key this is.
    const ROLE: Role;
    /// Builds the key (seconds: call it off the async threads).
    fn build(model: Arc<CompiledModel>, params: &ParamsCache) -> Result<Self, Error>;
}

impl Key for Prover {
    const ROLE: Role = Role::Prover;
    fn build(model: Arc<CompiledModel>, params: &ParamsCache) -> Result<Self, Error> {
        Prover::setup(model, params)
    }
}

impl Key for ProvingKeys {
    const ROLE: Role = Role::Prover;
    fn build(model: Arc<CompiledModel>, params: &ParamsCache) -> Result<Self, Error> {
        ProvingKeys::build(&model, params)
    }
}

impl Key for Verifier {
    const ROLE: Role = Role::Verifier;
    fn build(model: Arc<CompiledModel>, params: &ParamsCache) -> Result<Self, Error> {
        Verifier::setup(model, params)
    }
}

impl Key for PartedVerifier {
    const ROLE: Role = Role::Verifier;
    fn build(model: Arc<CompiledModel>, params: &ParamsCache) -> Result<Self, Error> {
        PartedVerifier::setup(&model, params)
    }
}

/// The cache's key of the proving keys of circuit shape `digest` (a part's
/// [`CompiledModel::shape_digest`]): not a model's key, which is hex alone.
pub fn shape_key(digest: &str) -> String {
    format!("shape:{digest}")
}

/// An estimate of the memory a model's key holds, in bytes: the IPA parameters (two tables
/// of `2^k` affine points), and for a prover also the fixed and permutation polynomials in
/// coefficient, Lagrange and extended form. It orders and bounds the cache; it is not a
/// measurement.
/// For a model proven in parts, the sum over its parts (its verifier holds every part's).
pub fn estimated_bytes(model: &CompiledModel, role: Role) -> u64 {
    if model.is_parted() {
        return model.part_models().map_or(0, |parts| {
            parts.iter().map(|p| estimated_bytes(p, role)).sum()
        });
    }
    let Ok(layout) = model.layout() else {
        return 0;
    };
    let shape = Shape::of(&layout);
    let n = 1u64 << shape.k;
    let params = 2 * 64 * n;
    match role {
        Role::Verifier => params,
        Role::Prover => {
            let extended = n * (shape.degree.max(2) as u64 - 1).next_power_of_two();
            let polys = (shape.fixed + shape.equality) as u64;
            params + 32 * (polys * (2 * n + extended) + 3 * extended)
        }
    }
}

type KeyId = (String, Role);

struct Entry {
    keys: Arc<dyn Any + Send + Sync>,
    bytes: u64,
    used: u64,
}

#[derive(Default)]
struct Held {
    entries: HashMap<KeyId, Entry>,
    /// One lock per key being built, so that concurrent requests build it once.
    building: HashMap<KeyId, Arc<Mutex<()>>>,
    clock: u64,
    bytes: u64,
}

/// What the cache holds, for `/metrics` and `/v1/models`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyStats {
    /// Proving keys in memory.
    pub provers: usize,
    /// Verifying keys in memory.
    pub verifiers: usize,
    /// Their estimated bytes ([`estimated_bytes`]).
    pub bytes: u64,
    /// Keys evicted so far.
    pub evictions: u64,
}

/// The key cache. Its methods block (they may build keys): call them from blocking threads.
pub struct KeyCache {
    params: ParamsCache,
    budget: u64,
    held: Mutex<Held>,
    evictions: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache")
            .field("budget", &self.budget)
            .field("stats", &self.stats())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves the maps consistent (every update is one
    // statement), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl KeyCache {
    /// A cache of at most `budget` estimated bytes of keys. One key larger than the budget
    /// is still kept (alone), since a model must be servable.
    pub fn new(params: ParamsCache, budget: u64) -> Self {
        Self {
            params,
            budget,
            held: Mutex::new(Held::default()),
            evictions: Default::default(),
        }
    }

    /// The key of model `digest`, built from `model` if it is not in memory.
    pub fn get<K: Key>(&self, digest: &str, model: &Arc<CompiledModel>) -> Result<Arc<K>, Error> {
        let id: KeyId = (digest.to_owned(), K::ROLE);
        if let Some(keys) = self.lookup::<K>(&id) {
            return Ok(keys);
        }
        let gate = lock(&self.held)
            .building
            .entry(id.clone())
            .or_default()
            .clone();
        let _building = lock(&gate);
        // Someone else may have built it while this thread waited.
        if let Some(keys) = self.lookup::<K>(&id) {
            return Ok(keys);
        }
        let built = K::build(model.clone(), &self.params).map(Arc::new);
        lock(&self.held).building.remove(&id);
        let keys = built?;
        self.insert(id, keys.clone(), estimated_bytes(model, K::ROLE));
        Ok(keys)
    }

    /// Puts a key built elsewhere (the verifier built to learn a model's digest).
    pub fn put<K: Key>(&self, digest: &str, model: &CompiledModel, keys: Arc<K>) {
        let bytes = estimated_bytes(model, K::ROLE);
        self.insert((digest.to_owned(), K::ROLE), keys, bytes);
    }

    /// Drops every key of model `digest` (its parts' shapes' keys stay: other models may
    /// share them, and they are still those shapes' keys).
    pub fn forget(&self, digest: &str) {
        let mut held = lock(&self.held);
        let gone: Vec<KeyId> = held
            .entries
            .keys()
            .filter(|(d, _)| d == digest)
            .cloned()
            .collect();
        for id in gone {
            if let Some(entry) = held.entries.remove(&id) {
                held.bytes -= entry.bytes;
            }
        }
    }

    /// Whether the key is in memory now.
    pub fn holds(&self, digest: &str, role: Role) -> bool {
        lock(&self.held)
            .entries
            .contains_key(&(digest.to_owned(), role))
    }

    /// Counts for metrics.
    pub fn stats(&self) -> KeyStats {
        let held = lock(&self.held);
        let count = |role| held.entries.keys().filter(|(_, r)| *r == role).count();
        KeyStats {
            provers: count(Role::Prover),
            verifiers: count(Role::Verifier),
            bytes: held.bytes,
            evictions: self.evictions.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    fn lookup<K: Key>(&self, id: &KeyId) -> Option<Arc<K>> {
        let mut held = lock(&self.held);
        held.clock += 1;
        let now = held.clock;
        let entry = held.entries.get_mut(id)?;
        entry.used = now;
        entry.keys.clone().downcast::<K>().ok()
    }

    fn insert<K: Key>(&self, id: KeyId, keys: Arc<K>, bytes: u64) {
        let mut held = lock(&self.held);
        held.clock += 1;
        let used = held.clock;
        if let Some(old) = held.entries.insert(id.clone(), Entry { keys, bytes, used }) {
            held.bytes -= old.bytes;
        }
        held.bytes += bytes;
        // Evict the least recently used until the rest fits; the new key stays.
        while held.bytes > self.budget {
            let Some(victim) = held
                .entries
                .iter()
                .filter(|(k, _)| **k != id)
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(entry) = held.entries.remove(&victim) {
                held.bytes -= entry.bytes;
                self.evictions
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
}
