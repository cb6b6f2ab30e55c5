//! The models a service knows: by name (the prove endpoint) and by key (a proof bundle
//! names its model by digest, and with hashed params by its weights commitment too).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use serde::Serialize;

use super::keys::{shape_key, KeyCache, Role};
use crate::{CompiledModel, Error, PartedProver, PartedVerifier, Verifier, Visibilities};

/// One loaded model.
#[derive(Debug)]
pub struct Model {
    /// Its name in URLs.
    pub id: String,
    /// The compiled model.
    pub model: Arc<CompiledModel>,
    /// Its verifying key's digest, as proof bundles name it.
    pub digest: String,
    /// What names it among the loaded models and in the key cache: the digest, and with
    /// hashed params the weights commitment too (models of one architecture share a
    /// verifying key but not their weights).
    pub key: String,
    /// `log2` of the circuit's rows.
    pub k: u32,
    /// Its inspection (`GET /v1/models/{id}`), laid out once at registration: five plans,
    /// half a second at `k = 18`, which an unauthenticated request could otherwise make the
    /// server redo as often as it likes.
    pub inspection: serde_json::Value,
    /// For a model proven in parts, its parts' prover (part models split once; the keys
    /// come from the service's cache): `None` for a model proven whole.
    pub parted: Option<Arc<PartedProver>>,
    /// For a model proven in parts, each part's digest, in order: what a proof in parts
    /// must name before any key is looked up or built for it. Empty for a model proven
    /// whole.
    pub part_digests: Vec<String>,
}

/// Why a model was not registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The id names a model already, and the request did not ask to replace it.
    #[error("model '{0}' exists; replace it explicitly (PUT /v1/models/{0}?replace=true)")]
    Exists(String),
    /// Another id serves a model of this key: two ids for one key would let the later one
    /// take over the verification of the earlier one's proofs.
    #[error(
        "model '{other}' already has this model's key ({key}): a proof bundle names its model \
         by key, so one key is served under one id (replace '{other}' instead)"
    )]
    SameKey {
        /// The id that has it.
        other: String,
        /// The key.
        key: String,
    },
    /// The model did not set up.
    #[error(transparent)]
    Model(#[from] Error),
    /// Its inspection did not serialise.
    #[error("the model's inspection: {0}")]
    Inspection(String),
}

/// Why the models folder did not load: the first file at fault, named.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The folder could not be read.
    #[error("cannot read the models folder {}: {source}", dir.display())]
    Dir {
        /// The folder.
        dir: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file whose stem is not a model id.
    #[error("{}: a model's file name must be 1-64 of A-Z a-z 0-9 . _ - (it is the model's id)", path.display())]
    Name {
        /// The file.
        path: std::path::PathBuf,
    },
    /// A file that is not a valid model (the error names it).
    #[error(transparent)]
    Model(#[from] crate::error::CompileError),
    /// A model that did not register.
    #[error("{}: {source}", path.display())]
    Register {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: Box<RegisterError>,
    },
}

/// The service's key of a model of verifying-key digest `digest` and, with hashed params,
/// weights commitment `weights` (a bundle carries both).
pub fn model_key(digest: &str, weights: Option<&str>) -> String {
    match weights {
        Some(w) => format!("{digest}/{w}"),
        None => digest.to_owned(),
    }
}

/// What `GET /v1/models` says of a model.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Its name.
    pub id: String,
    /// Its digest.
    pub digest: String,
    /// `log2` of the circuit's rows.
    pub k: u32,
    /// Input values taken.
    pub input_len: usize,
    /// Output values proven.
    pub output_len: usize,
    /// Who sees the input, output and parameters.
    pub visibility: Visibilities,
    /// Whether its proving key is in memory now.
    pub prover_key_warm: bool,
    /// Whether its verifying key is in memory now.
    pub verifier_key_warm: bool,
    /// With hashed params: the published weights commitment its proofs carry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weights_commitment: Option<String>,
    /// Whether it is a verifier file (hashed params, no weights): it verifies only.
    pub verifier_file: bool,
}

/// Whether `id` may name a model: 1 to 64 of `A–Z a–z 0–9 . _ -`, not starting with a dot.
pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

#[derive(Debug, Default)]
struct Index {
    by_id: HashMap<String, Arc<Model>>,
    by_key: HashMap<String, Arc<Model>>,
    /// Models proven in parts, by their first part's key: a proof in parts names its parts.
    by_first_part: HashMap<String, Arc<Model>>,
}

/// The verifier a registration built: it gives the model's digest, and goes into the cache.
enum Built {
    Whole(Arc<Verifier>),
    Parted(Arc<PartedVerifier>),
}

/// A model's verifier, built (it gives the model's digest), and what the registry keeps of
/// the model as `id`: for a model proven in parts, its parts' digests and prover too.
fn set_up(
    id: &str,
    model: Arc<CompiledModel>,
    params: &crate::ParamsCache,
) -> Result<(Model, Built), RegisterError> {
    let (built, digest, part_digests, parted) = if model.is_parted() {
        let verifier = Arc::new(PartedVerifier::setup(&model, params)?);
        let digest = verifier.model_digest().to_owned();
        let parts = verifier
            .parts()
            .iter()
            .map(|v| v.model_digest().to_owned())
            .collect();
        let parted = Arc::new(PartedProver::new(&model, params.clone())?);
        (Built::Parted(verifier), digest, parts, Some(parted))
    } else {
        let verifier = Arc::new(Verifier::setup(model.clone(), params)?);
        let digest = verifier.model_digest().to_owned();
        (Built::Whole(verifier), digest, Vec::new(), None)
    };
    // Laid out once here: the inspection gives `k` too.
    let (inspection, k) = if model.is_parted() {
        let report = model.inspect_parts().map_err(Error::from)?;
        let k = report.parts.iter().map(|p| p.circuit.k).max().unwrap_or(0);
        (serde_json::to_value(&report), k)
    } else {
        let report = model.inspect().map_err(Error::from)?;
        (serde_json::to_value(&report), report.k)
    };
    let inspection = inspection.map_err(|e| RegisterError::Inspection(e.to_string()))?;
    let weights = model.weights.as_ref().map(|w| w.commitment.as_str());
    let model = Model {
        id: id.to_owned(),
        k,
        key: model_key(&digest, weights),
        model: model.clone(),
        digest,
        inspection,
        parted,
        part_digests,
    };
    Ok((model, built))
}

/// The registry of models.
#[derive(Debug, Default)]
pub struct Models {
    index: RwLock<Index>,
}

impl Models {
    /// Registers `model` as `id`, building its verifying key (which gives its digest) into
    /// `keys`, and its inspection. Blocks for seconds: call it off the async threads.
    ///
    /// Refused: an `id` taken, unless `replace`; a key another id has (see
    /// [`RegisterError::SameKey`]). A replaced model's keys are dropped.
    pub fn register(
        &self,
        id: &str,
        model: CompiledModel,
        keys: &KeyCache,
        params: &crate::ParamsCache,
        replace: bool,
    ) -> Result<Arc<Model>, RegisterError> {
        // Cheap refusal first; checked again below, under the lock, for a racing request.
        if !replace && self.by_id(id).is_some() {
            return Err(RegisterError::Exists(id.to_owned()));
        }
        let (entry, verifier) = set_up(id, Arc::new(model), params)?;
        let entry = Arc::new(entry);
        let (model, key) = (entry.model.clone(), entry.key.clone());
        // A model proven in parts is also found by its first part's key (what a proof in
        // parts names first): the part's digest and, with hashed params, the part's own
        // weights commitment (none when that part keeps fixed params).
        let weights = model.weights.as_ref();
        let first_weights = weights
            .and_then(|w| w.parts.first())
            .and_then(Option::as_deref);
        let first_part = entry
            .part_digests
            .first()
            .map(|d| model_key(d, first_weights));
        let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
        if let Some(other) = index.by_key.get(&key).filter(|m| m.id != id) {
            return Err(RegisterError::SameKey {
                other: other.id.clone(),
                key,
            });
        }
        if let Some(first) = &first_part {
            if let Some(other) = index.by_first_part.get(first).filter(|m| m.id != id) {
                return Err(RegisterError::SameKey {
                    other: other.id.clone(),
                    key: first.clone(),
                });
            }
        }
        if !replace && index.by_id.contains_key(id) {
            return Err(RegisterError::Exists(id.to_owned()));
        }
        // Only now, refusals past: the replaced model's keys go (a prover built from the old
        // file must not prove for the new one), the new verifier goes in under the key.
        if let Some(old) = index.by_id.insert(id.to_owned(), entry.clone()) {
            index.by_key.remove(&old.key);
            index.by_first_part.retain(|_, m| !Arc::ptr_eq(m, &old));
            keys.forget(&old.key);
        }
        match verifier {
            Built::Whole(v) => keys.put(&key, &model, v),
            Built::Parted(v) => keys.put(&key, &model, v),
        }
        if let Some(first) = first_part {
            index.by_first_part.insert(first, entry.clone());
        }
        index.by_key.insert(key, entry.clone());
        Ok(entry)
    }

    /// Loads every `*.zkm` file of `dir`, named by its file stem, in name order. A file
    /// that does not load stops the start with an error naming it.
    pub fn load_dir(
        &self,
        dir: &Path,
        keys: &KeyCache,
        params: &crate::ParamsCache,
    ) -> Result<Vec<Arc<Model>>, LoadError> {
        let entries = std::fs::read_dir(dir).map_err(|source| LoadError::Dir {
            dir: dir.to_path_buf(),
            source,
        })?;
        let mut files: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "zkm") && p.is_file())
            .collect();
        files.sort();
        files
            .iter()
            .map(|path| {
                let id = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .filter(|s| valid_id(s))
                    .ok_or_else(|| LoadError::Name { path: path.clone() })?;
                let model = CompiledModel::load(path)?;
                self.register(id, model, keys, params, false)
                    .map_err(|source| LoadError::Register {
                        path: path.clone(),
                        source: Box::new(source),
                    })
            })
            .collect()
    }

    /// The model named `id`.
    pub fn by_id(&self, id: &str) -> Option<Arc<Model>> {
        self.read().by_id.get(id).cloned()
    }

    /// The model whose verifying key has `digest`.
    pub fn by_key(&self, key: &str) -> Option<Arc<Model>> {
        self.read().by_key.get(key).cloned()
    }

    /// The model proven in parts whose first part has key `key`.
    pub fn by_first_part(&self, key: &str) -> Option<Arc<Model>> {
        self.read().by_first_part.get(key).cloned()
    }

    /// Every model, by name (nothing laid out: what is not a key's warmth was computed at
    /// registration).
    pub fn summaries(&self, keys: &KeyCache) -> Vec<Summary> {
        let mut all: Vec<Summary> = self
            .read()
            .by_id
            .values()
            .map(|m| Summary {
                id: m.id.clone(),
                digest: m.digest.clone(),
                k: m.k,
                input_len: m.model.graph.input.len,
                output_len: m.model.graph.output_len(),
                visibility: m.model.visibility,
                prover_key_warm: match &m.parted {
                    // A model in parts: any of its shapes' proving keys.
                    Some(parted) => parted
                        .shapes()
                        .digests
                        .iter()
                        .any(|d| keys.holds(&shape_key(d), Role::Prover)),
                    None => keys.holds(&m.key, Role::Prover),
                },
                verifier_key_warm: keys.holds(&m.key, Role::Verifier),
                weights_commitment: m.model.weights.as_ref().map(|w| w.commitment.clone()),
                verifier_file: m.model.is_verifier_file(),
            })
            .collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// The most values (inputs or outputs) any loaded model has, or parts a model proven in
    /// parts has: no bundle or proof in parts to verify here holds a longer array.
    pub fn max_values(&self) -> usize {
        self.read()
            .by_id
            .values()
            .map(|m| {
                let graph = &m.model.graph;
                graph
                    .input
                    .len
                    .max(graph.output_len())
                    .max(m.model.parts.len())
            })
            .max()
            .unwrap_or(0)
    }

    /// How many models are loaded.
    pub fn len(&self) -> usize {
        self.read().by_id.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }
}
