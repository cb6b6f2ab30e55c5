//! Models proven in parts: a model too large for one circuit (or for one machine's memory)
//! is cut, in execution order, into parts whose circuits each fit a budget (a largest `k`, a
//! predicted peak memory, or both), or where the user cuts it.
//!
//! Each part is a [`CompiledModel`] of its own ([`QGraph::part`]): what crosses a cut is
//! the part's hashed output and the next part's hashed input, both committed with Poseidon
//! under one salt, so the intermediate values stay hidden and equal commitments link the
//! parts. The first part's input and the last part's output keep the model's visibilities.
//!
//! The salts come from one secret seed ([`LinkSeed`], in `link_seed`): machines that prove
//! different parts of one inference agree on the links by sharing the seed, and nothing else.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::bundle::ProofBundle;
use super::compile::CompiledModel;
use super::files::{load_json, save_json};
use super::format::{PartSpec, BUNDLE_FORMAT_VERSION};
use super::identity::parted_identity;
use super::keys::{ProvingKeys, VerifyingKeys};
use super::link_seed::LinkSeed;
use super::opening::{Committed, Openings, OPENINGS_FORMAT_VERSION};
use super::params::ParamsCache;
use super::partition::{part_visibility, MAX_LINK_VALUES};
use super::prove::Prover;
use super::shape::Shapes;
use super::verify::Verifier;
use crate::circuit::cost;
use crate::error::{CompileError, Error, PartsError, VerifyError, WeightsError};
use crate::graph::qgraph::QGraph;
use crate::visibility::Visibilities;

impl CompiledModel {
    /// The same model cut before each node of `starts` (increasing, after node 0), each part's
    /// width chosen by the cost model. No cut gives the model proven whole.
    pub fn split_at(mut self, starts: &[usize]) -> Result<Self, CompileError> {
        let n = self.graph.nodes.len();
        let bounds: Vec<usize> = std::iter::once(0)
            .chain(starts.iter().copied())
            .chain([n])
            .collect();
        let mut parts = Vec::with_capacity(bounds.len() - 1);
        for (i, w) in bounds.windows(2).enumerate() {
            if w[0] >= w[1] {
                return Err(PartsError::Cuts {
                    cuts: starts.to_vec(),
                    nodes: n,
                }
                .into());
            }
            let part = self.graph.part(w[0]..w[1])?;
            let last = i + 2 == bounds.len();
            let vis = part_visibility(&self.visibility, &part, i == 0, last);
            parts.push(PartSpec {
                start: w[0],
                dot_width: cost::choose(&part, &vis)?.dot_width,
            });
        }
        self.parts = if parts.len() > 1 { parts } else { Vec::new() };
        if !self.is_parted() {
            self.dot_width = cost::choose(&self.graph, &self.visibility)?.dot_width;
        }
        // Hashed params are committed part by part: again, under the owner's salt.
        self.recommit_weights()?;
        self.validate()?;
        Ok(self)
    }

    /// Whether the model is proven in parts.
    pub fn is_parted(&self) -> bool {
        !self.parts.is_empty()
    }

    /// Its parts' node ranges.
    pub fn part_ranges(&self) -> Vec<std::ops::Range<usize>> {
        let n = self.graph.nodes.len();
        let ends = self.parts.iter().skip(1).map(|p| p.start).chain([n]);
        self.parts
            .iter()
            .zip(ends)
            .map(|(p, e)| p.start..e)
            .collect()
    }

    /// Each part as a model of its own (checked as a model file is): what its prover and
    /// verifier load. Empty for a model proven whole.
    pub fn part_models(&self) -> Result<Vec<CompiledModel>, CompileError> {
        self.validate_parts()?;
        (0..self.parts.len()).map(|i| self.part_model(i)).collect()
    }

    /// Part `i` as a model of its own, checked (the part list is assumed checked).
    pub(super) fn part_model(&self, i: usize) -> Result<CompiledModel, CompileError> {
        let (graph, visibility) = self.part_graph(i)?;
        let model = CompiledModel {
            format_version: self.format_version,
            circuit_version: self.circuit_version,
            graph,
            weights: self.part_weights(i, &visibility)?,
            visibility,
            dot_width: self.parts[i].dot_width,
            quant_report: None,
            input_parts: if i == 0 {
                self.input_parts.clone()
            } else {
                Vec::new()
            },
            parts: Vec::new(),
        };
        model.validate().map_err(|e| match e {
            CompileError::Weights(WeightsError::Mismatch { found, recorded }) => {
                WeightsError::PartMismatch {
                    part: i,
                    found,
                    recorded,
                }
                .into()
            }
            e => e,
        })?;
        Ok(model)
    }

    /// Part `i`'s slice of the graph and its visibilities (the part list is assumed
    /// checked).
    pub(super) fn part_graph(&self, i: usize) -> Result<(QGraph, Visibilities), CompileError> {
        let n = self.parts.len();
        let graph = self.graph.part(self.part_ranges().swap_remove(i))?;
        let visibility = part_visibility(&self.visibility, &graph, i == 0, i + 1 == n);
        Ok((graph, visibility))
    }

    /// The parts' starts: `0` first, strictly increasing, within the graph, at least two.
    pub(super) fn validate_parts(&self) -> Result<(), CompileError> {
        if self.parts.len() == 1 {
            return Err(PartsError::OnePart.into());
        }
        if self.parts.first().is_some_and(|p| p.start != 0) {
            return Err(PartsError::FirstNotAtZero.into());
        }
        if self
            .parts
            .windows(2)
            .any(|w| w[1].start <= w[0].start || w[1].start >= self.graph.nodes.len())
        {
            return Err(PartsError::NotIncreasing.into());
        }
        // Every link is sliced again in the part that reads it: bound their values in all,
        // as one tensor's are, so a small file cannot make loading it costly.
        let starts: Vec<usize> = self.parts.iter().skip(1).map(|p| p.start).collect();
        let values = self.graph.link_values(&starts);
        if values > MAX_LINK_VALUES as u128 {
            return Err(PartsError::LinksTooLarge {
                values,
                max: MAX_LINK_VALUES,
            }
            .into());
        }
        Ok(())
    }
}

/// A proof of a model proven in parts: one proof per part, in order. Unknown fields are an
/// error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartedProof {
    /// [`BUNDLE_FORMAT_VERSION`].
    pub format_version: u32,
    /// The part proofs, first part first.
    pub parts: Vec<ProofBundle>,
}

impl PartedProof {
    /// The proven outputs as real numbers: the last part's (empty when they are hashed).
    pub fn outputs_float(&self) -> &[f64] {
        self.parts.last().map_or(&[], |p| &p.outputs_float)
    }

    /// Writes the proof as JSON, atomically.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        save_json(path, self)
    }

    /// Reads a proof.
    pub fn load(path: &Path) -> Result<Self, Error> {
        load_json(path, "a proof in parts")
    }
}

/// Proves a model in parts, one shape at a time: a shape's keys are built once, prove every
/// part of that shape for every inference at hand, and are dropped before the next shape's,
/// so the peak memory is one part's and many inferences, and many parts of one shape
/// (repeated blocks), pay key generation once ([`Shapes`]).
#[derive(Debug)]
pub struct PartedProver {
    parts: Vec<Arc<CompiledModel>>,
    shapes: Shapes,
    cache: ParamsCache,
    /// The keys of the shape last proven alone ([`PartedProver::prove_part`]), kept for the
    /// next call on a part of that shape: one shape's keys, so memory stays within a part's
    /// budget.
    kept: Mutex<Option<(usize, Arc<ProvingKeys>)>>,
}

/// A phase of proving one part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Parameters loaded (cached after the first part at a `k`) and the part's keys built:
    /// once per shape, whatever the number of inferences and of parts of that shape (a
    /// later part of the shape reports the keys phase too, taking no time).
    Keys,
    /// The part's integer forward pass on one inference's input.
    Witness,
    /// The proof of one inference's part.
    Proof,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Phase::Keys => "keys",
            Phase::Witness => "witness",
            Phase::Proof => "proof",
        })
    }
}

/// What a parted prove reports as it goes (progress displays, per-part timings): each
/// phase of each part, once as it starts and once as it ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartEvent {
    /// The part, from 0.
    pub part: usize,
    /// The part's shape, from 0 ([`Shapes::of_part`]).
    pub shape: usize,
    /// The inference, from 0 (`None` for the keys, which serve every inference).
    pub inference: Option<usize>,
    /// What is being done.
    pub phase: Phase,
    /// `None` as the phase starts; how long it took as it ends.
    pub took: Option<Duration>,
}

impl PartedProver {
    /// The prover of `model`'s parts, with parameters from `cache`.
    pub fn new(model: &CompiledModel, cache: ParamsCache) -> Result<Self, Error> {
        if !model.is_parted() {
            return Err(CompileError::ProvenWhole.into());
        }
        let parts: Vec<Arc<CompiledModel>> =
            model.part_models()?.into_iter().map(Arc::new).collect();
        let shapes = Shapes::of(parts.iter().map(|p| p.as_ref()));
        Ok(Self {
            parts,
            shapes,
            cache,
            kept: Mutex::new(None),
        })
    }

    /// The parts, first first.
    pub fn parts(&self) -> &[Arc<CompiledModel>] {
        &self.parts
    }

    /// The parts' distinct shapes: one set of keys each.
    pub fn shapes(&self) -> &Shapes {
        &self.shapes
    }

    /// Each part's integer input on the model's integer input `x`: the integer passes of
    /// the parts before it, run one after another (cheap next to proving).
    pub fn part_inputs(&self, x: &[i64]) -> Result<Vec<Vec<i64>>, Error> {
        let mut inputs = vec![x.to_vec()];
        for part in &self.parts[..self.parts.len() - 1] {
            let next = part.graph.eval(inputs.last().map_or(x, Vec::as_slice))?;
            inputs.push(next);
        }
        Ok(inputs)
    }

    /// Proves part `i` on the model's integer input, its links salted from `seed`. The
    /// part's keys are kept for the next call on a part of its shape (a long-lived worker
    /// that proves the parts of one shape for many inferences builds them once); a call on
    /// a part of another shape drops them first.
    pub fn prove_part(
        &self,
        x: &[i64],
        i: usize,
        seed: &LinkSeed,
    ) -> Result<(ProofBundle, Openings), Error> {
        let part = self.parts.get(i).ok_or(CompileError::NoSuchPart {
            part: i,
            parts: self.parts.len(),
        })?;
        // The integer passes of the parts before it, and no further.
        let input = self.parts[..i]
            .iter()
            .try_fold(x.to_vec(), |input, part| part.graph.eval(&input))?;
        let shape = self.shapes.of_part[i];
        let keys = {
            let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
            match kept.as_ref() {
                Some((s, keys)) if *s == shape => Arc::clone(keys),
                _ => {
                    // The other shape's keys go before these are built.
                    *kept = None;
                    let keys = Arc::new(ProvingKeys::build(part, &self.cache)?);
                    *kept = Some((shape, Arc::clone(&keys)));
                    keys
                }
            }
        };
        Prover::with_keys(Arc::clone(part), &keys)?.prove_salted(&input, &seed.salts(i))
    }

    /// Proves every part on the model's integer input, one after another, under a fresh
    /// seed. Returns the proof and the openings of the model's hashed input and output.
    pub fn prove(&self, x: &[i64]) -> Result<(PartedProof, Openings), Error> {
        self.prove_seeded(x, &LinkSeed::random())
    }

    /// [`PartedProver::prove`] with the links salted from `seed`.
    pub fn prove_seeded(
        &self,
        x: &[i64],
        seed: &LinkSeed,
    ) -> Result<(PartedProof, Openings), Error> {
        let mut proofs = self.prove_many(&[x.to_vec()], |_| *seed, |_| {})?;
        Ok(proofs.remove(0))
    }

    /// Proves every inference of `xs`, inference `s`'s links salted from `seed_of(s)`, shape
    /// by shape: a shape's keys are built once, prove every part of that shape for every
    /// inference, and are dropped before the next shape's are built. Key generation is paid
    /// once per shape for the whole batch, and the peak memory stays one part's (plus each
    /// inference's link values). `event` hears each phase start and end, parts of one shape
    /// one after another. Returns each inference's proof and the openings of the model's
    /// hashed input and output, in the order of `xs`.
    pub fn prove_many(
        &self,
        xs: &[Vec<i64>],
        seed_of: impl Fn(usize) -> LinkSeed,
        event: impl FnMut(PartEvent),
    ) -> Result<Vec<(PartedProof, Openings)>, Error> {
        // Another shape's kept keys would count against this one's memory.
        *self.kept.lock().unwrap_or_else(|e| e.into_inner()) = None;
        // One shape's keys at a time: parts come shape by shape.
        let mut slot: Option<(usize, Arc<ProvingKeys>)> = None;
        let keys = |i: usize, part: &Arc<CompiledModel>| {
            let shape = self.shapes.of_part[i];
            match &slot {
                Some((s, keys)) if *s == shape => Ok(Arc::clone(keys)),
                _ => {
                    slot = None;
                    let keys = Arc::new(ProvingKeys::build(part, &self.cache)?);
                    slot = Some((shape, Arc::clone(&keys)));
                    Ok(keys)
                }
            }
        };
        self.prove_many_with(xs, seed_of, keys, event)
    }

    /// [`PartedProver::prove_many`] with each part's keys from `keys(i, part)` (keys of the
    /// part's shape): a caller that keeps keys (the service's cache, under its memory
    /// budget) hands them out; the `keys` phase then times the lookup, or the build when
    /// they were not kept. Keys of another shape are an error.
    pub fn prove_many_with(
        &self,
        xs: &[Vec<i64>],
        seed_of: impl Fn(usize) -> LinkSeed,
        mut keys: impl FnMut(usize, &Arc<CompiledModel>) -> Result<Arc<ProvingKeys>, Error>,
        mut event: impl FnMut(PartEvent),
    ) -> Result<Vec<(PartedProof, Openings)>, Error> {
        let seeds: Vec<LinkSeed> = (0..xs.len()).map(seed_of).collect();
        // Each inference's input to every part (the integer passes, cheap next to proving),
        // so that the parts of one shape can be proven one after another.
        let inputs = xs
            .iter()
            .map(|x| self.part_inputs(x))
            .collect::<Result<Vec<_>, _>>()?;
        let n = self.parts.len();
        let mut bundles: Vec<Vec<Option<ProofBundle>>> = vec![vec![None; n]; xs.len()];
        let mut first: Vec<Option<Openings>> = vec![None; xs.len()];
        let mut last: Vec<Option<Openings>> = vec![None; xs.len()];
        let order = (0..self.shapes.digests.len()).flat_map(|s| self.shapes.parts_of(s));
        for i in order {
            let part = &self.parts[i];
            let shape = self.shapes.of_part[i];
            let keys = timed(&mut event, (i, shape), None, Phase::Keys, || keys(i, part))?;
            let prover = Prover::with_keys(Arc::clone(part), &keys)?;
            for (s, inputs) in inputs.iter().enumerate() {
                let x = &inputs[i];
                let witness = timed(&mut event, (i, shape), Some(s), Phase::Witness, || {
                    Ok(part.witness(x)?)
                })?;
                let (bundle, openings) =
                    timed(&mut event, (i, shape), Some(s), Phase::Proof, || {
                        prover.prove_witness(x, &witness, &seeds[s].salts(i))
                    })?;
                if i == 0 {
                    first[s] = Some(openings.clone());
                }
                if i == n - 1 {
                    last[s] = Some(openings);
                }
                bundles[s][i] = Some(bundle);
            }
        }
        Ok(bundles
            .into_iter()
            .zip(first.into_iter().zip(last))
            .map(|(parts, (first, last))| {
                let proof = PartedProof {
                    format_version: BUNDLE_FORMAT_VERSION,
                    // Every part is proven: each shape's parts cover them all.
                    parts: parts.into_iter().flatten().collect(),
                };
                (proof, model_openings(first, last))
            })
            .collect())
    }
}

/// Runs `f` as `phase` of part `part`, telling `event` when it starts and ends.
fn timed<T>(
    event: &mut impl FnMut(PartEvent),
    (part, shape): (usize, usize),
    inference: Option<usize>,
    phase: Phase,
    f: impl FnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    let mut at = PartEvent {
        part,
        shape,
        inference,
        phase,
        took: None,
    };
    event(at);
    let started = Instant::now();
    let out = f()?;
    at.took = Some(started.elapsed());
    event(at);
    Ok(out)
}

/// The openings of the model's own hashed tensors: the first part's input and the last
/// part's output (the links' openings stay with the prover's seed).
fn model_openings(first: Option<Openings>, last: Option<Openings>) -> Openings {
    let mut openings = first.clone().unwrap_or_else(|| Openings {
        format_version: OPENINGS_FORMAT_VERSION,
        model_digest: String::new(),
        openings: Vec::new(),
    });
    openings.openings.retain(|o| o.tensor == Committed::Input);
    if let Some(last) = last {
        openings.openings.extend(
            last.openings
                .into_iter()
                .filter(|o| o.tensor == Committed::Output),
        );
    }
    openings
}

/// Verifies proofs of a model proven in parts: one verifier per part, kept, with one
/// verifying key per shape.
#[derive(Debug)]
pub struct PartedVerifier {
    parts: Vec<Verifier>,
    digest: String,
}

impl PartedVerifier {
    /// Rebuilds the verifying key of every distinct shape among the parts, once.
    pub fn setup(model: &CompiledModel, cache: &ParamsCache) -> Result<Self, Error> {
        let mut built: Vec<Arc<VerifyingKeys>> = Vec::new();
        let mut parts = Vec::new();
        for part in model.part_models()? {
            let shape = part.shape_digest();
            let keys = match built.iter().find(|k| k.shape() == shape) {
                Some(keys) => Arc::clone(keys),
                None => {
                    let keys = Arc::new(VerifyingKeys::build(&part, cache)?);
                    built.push(Arc::clone(&keys));
                    keys
                }
            };
            parts.push(Verifier::with_keys(part, &keys)?);
        }
        if parts.is_empty() {
            return Err(CompileError::ProvenWhole.into());
        }
        let digest = parted_identity(parts.iter().map(Verifier::model_digest));
        Ok(Self { parts, digest })
    }

    /// The model's identity: a digest of every part's identity in order (each binds its
    /// verifying key and its slice of the model file's meaning), what the model owner
    /// publishes.
    pub fn model_digest(&self) -> &str {
        &self.digest
    }

    /// Each part's verifier, first first.
    pub fn parts(&self) -> &[Verifier] {
        &self.parts
    }

    /// Checks many proofs: every link of each, then each part's proofs in one batch (one
    /// multi-scalar multiplication per part). `Ok` only if every one is valid; on failure,
    /// verify them one by one to find the culprit.
    pub fn verify_batch(&self, proofs: &[PartedProof]) -> Result<(), VerifyError> {
        for proof in proofs {
            self.precheck(proof)?;
        }
        for (part, verifier) in self.parts.iter().enumerate() {
            let bundles: Vec<ProofBundle> = proofs.iter().map(|p| p.parts[part].clone()).collect();
            verifier
                .verify_batch(&bundles)
                .map_err(|source| VerifyError::Part {
                    part,
                    source: Box::new(source),
                })?;
        }
        Ok(())
    }

    /// Checks every part's proof and every link; returns the outputs as real numbers.
    /// Errors name the part: a missing or extra part, a part proof out of place or of another
    /// model, or a link whose commitments differ.
    pub fn verify(&self, proof: &PartedProof) -> Result<Vec<f64>, VerifyError> {
        self.precheck(proof)?;
        let mut outputs = Vec::new();
        for (part, (verifier, bundle)) in self.parts.iter().zip(&proof.parts).enumerate() {
            outputs = verifier
                .verify(bundle)
                .map_err(|source| VerifyError::Part {
                    part,
                    source: Box::new(source),
                })?;
        }
        Ok(outputs)
    }

    /// The checks before any cryptography: the format, the number of parts, each part proof
    /// naming its own part, and equal commitments at every link.
    fn precheck(&self, proof: &PartedProof) -> Result<(), VerifyError> {
        if proof.format_version != BUNDLE_FORMAT_VERSION {
            return Err(VerifyError::FormatVersion {
                found: proof.format_version,
                expected: BUNDLE_FORMAT_VERSION,
            });
        }
        if proof.parts.len() != self.parts.len() {
            return Err(VerifyError::PartCount {
                expected: self.parts.len(),
                got: proof.parts.len(),
            });
        }
        for (i, bundle) in proof.parts.iter().enumerate() {
            let expected = self.parts[i].model_digest();
            if bundle.model_digest != expected {
                let reason = match self
                    .parts
                    .iter()
                    .position(|v| v.model_digest() == bundle.model_digest)
                {
                    Some(j) => {
                        format!("the proof in place {i} is part {j}'s (parts out of order?)")
                    }
                    None => format!(
                        "the proof is for model {}, not for part {i} of this model ({expected})",
                        bundle.model_digest
                    ),
                };
                return Err(VerifyError::Part {
                    part: i,
                    source: Box::new(VerifyError::InvalidProof(reason)),
                });
            }
        }
        for (from, pair) in proof.parts.windows(2).enumerate() {
            let (output, input) = (&pair[0].output_commitment, &pair[1].input_commitment);
            if output.is_none() || output != input {
                return Err(VerifyError::Link {
                    from,
                    output: output.clone().unwrap_or_else(|| "nothing".into()),
                    input: input.clone().unwrap_or_else(|| "nothing".into()),
                });
            }
        }
        Ok(())
    }
}
