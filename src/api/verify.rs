//! The verifier: a verifying key kept for many proofs; prechecks, exact proof length,
//! single and batch verification.

use std::io::Read;
use std::sync::{Arc, OnceLock};

use halo2_proofs::{
    plonk::{verify_proof, BatchVerifier, SingleVerifier, VerifyingKey},
    poly::commitment::Params,
    transcript::{Blake2bRead, Challenge255},
};
use pasta_curves::{EqAffine, Fp};

use super::bundle::{felt_hex, parse_felt, ProofBundle};
use super::compile::CompiledModel;
use super::format::{BUNDLE_FORMAT_VERSION, CIRCUIT_VERSION};
use super::identity::{model_identity, vk_digest};
use super::keys::{checked, VerifyingKeys};
use super::params::ParamsCache;
use crate::circuit::{Commitments, InstanceLayout, Segment};
use crate::error::{Error, VerifyError};
use crate::graph::qgraph::QTensor;

/// What a verifier holds: parameters and the verifying key rebuilt from the model. Build it
/// once and keep it: rebuilding the key dominates a cold verification, and one verifier
/// checks any number of proofs (from many threads: it is `Sync`). Its key is its shape's
/// ([`VerifyingKeys`]): parts of one shape share it.
#[derive(Debug)]
pub struct Verifier {
    model: Arc<CompiledModel>,
    keys: Arc<VerifyingKeys>,
    digest: String,
    /// Every proof of this key has exactly this many bytes: learnt from the first valid proof,
    /// or found by a dry run of the verifier ([`proof_len`]) when a batch or an invalid proof
    /// needs it first.
    proof_len: OnceLock<usize>,
}

impl Verifier {
    /// Loads parameters and rebuilds the verifying key.
    pub fn setup(model: impl Into<Arc<CompiledModel>>, cache: &ParamsCache) -> Result<Self, Error> {
        let model = model.into();
        let keys = Arc::new(VerifyingKeys::build(&model, cache)?);
        Self::with_keys(model, &keys)
    }

    /// Rebuilds the verifying key with parameters already in hand (of the model's `k`).
    pub fn from_params(
        model: impl Into<Arc<CompiledModel>>,
        params: Params<EqAffine>,
    ) -> Result<Self, Error> {
        let model = model.into();
        let keys = Arc::new(VerifyingKeys::from_params(&model, params)?);
        Self::with_keys(model, &keys)
    }

    /// The verifier of `model` with a key already built for its shape (another part of the
    /// same shape built it): no key generation. A key of another shape is an error.
    pub fn with_keys(
        model: impl Into<Arc<CompiledModel>>,
        keys: &Arc<VerifyingKeys>,
    ) -> Result<Self, Error> {
        let model = model.into();
        let keys = checked(keys, keys.shape(), &model)?;
        let digest = model_identity(&keys.vk, &model)?;
        Ok(Self {
            model,
            keys,
            digest,
            proof_len: OnceLock::new(),
        })
    }

    /// The key this verifier checks with (shared with every verifier of its shape).
    pub fn keys(&self) -> &Arc<VerifyingKeys> {
        &self.keys
    }

    /// The model's identity: the digest a bundle must name, and the one a model owner
    /// publishes. It binds the verifying key and everything in the model file that gives a
    /// proof its meaning (scales, output order and names, visibilities, input parts; see
    /// `api/identity.rs`), so a model file edited anywhere verification reads has another
    /// identity.
    pub fn model_digest(&self) -> &str {
        &self.digest
    }

    /// The digest of the verifying key alone (blake2b-256 of its pinned description, hex):
    /// equal for two model files of one circuit whose meaning differs elsewhere. Not an
    /// identity: publish [`Self::model_digest`].
    pub fn key_digest(&self) -> String {
        vk_digest(&self.keys.vk)
    }

    /// The model this verifier checks.
    pub fn model(&self) -> &Arc<CompiledModel> {
        &self.model
    }

    /// Checks a bundle and returns its outputs as real numbers.
    ///
    /// Versions, the model digest, lengths and ranges are checked before any cryptography.
    pub fn verify(&self, bundle: &ProofBundle) -> Result<Vec<f64>, VerifyError> {
        let (public, proof) = self.precheck(bundle)?;
        if let Some(&expected) = self.proof_len.get() {
            check_len(expected, &proof)?;
        }
        // The transcript must be consumed exactly: bytes left over are a different proof.
        let mut rest = proof.as_slice();
        let result = verify_proof(
            &self.keys.params,
            &self.keys.vk,
            SingleVerifier::new(&self.keys.params),
            &[&[&public]],
            &mut Blake2bRead::<_, EqAffine, Challenge255<_>>::init(&mut rest),
        );
        match result {
            Ok(()) if rest.is_empty() => {
                // A valid proof's length is every proof's length: batches need no dry run.
                let _ = self.proof_len.set(proof.len());
                Ok(self.model.graph.outputs_to_float(&bundle.outputs))
            }
            Ok(()) => Err(VerifyError::ProofLength {
                expected: proof.len() - rest.len(),
                got: proof.len(),
            }),
            Err(e) => {
                // Say "wrong length" when it is (a truncated proof fails while reading).
                check_len(self.expected_len(), &proof)?;
                Err(VerifyError::InvalidProof(explain(&e)))
            }
        }
    }

    /// Every proof's length: learnt from a valid proof, else found by a dry run.
    fn expected_len(&self) -> usize {
        *self.proof_len.get_or_init(|| {
            let graph = &self.model.graph;
            let layout = InstanceLayout::of(graph, &self.model.visibility);
            let zeros = vec![0; graph.input.len.max(graph.output_len())];
            let public = layout.values(
                &zeros[..graph.output_len()],
                &zeros[..graph.input.len],
                &Commitments::default(),
            );
            proof_len(&self.keys.params, &self.keys.vk, &public)
        })
    }

    /// Checks many bundles with one multi-scalar multiplication; `Ok` only if every one is
    /// valid. On failure, verify them one by one to find the culprit.
    pub fn verify_batch(&self, bundles: &[ProofBundle]) -> Result<(), VerifyError> {
        let mut batch = BatchVerifier::new();
        for bundle in bundles {
            let (public, proof) = self.precheck(bundle)?;
            check_len(self.expected_len(), &proof)?;
            batch.add_proof(vec![vec![public]], proof);
        }
        if batch.finalize(&self.keys.params, &self.keys.vk) {
            Ok(())
        } else {
            Err(VerifyError::InvalidProof(
                "at least one proof of the batch does not verify (verify them one by one to find which)".into(),
            ))
        }
    }

    /// The published commitment to the parameters, when they are hashed; the bundle must
    /// carry exactly it (the proof is then checked against the published one, never the
    /// bundle's).
    fn weights_commitment(&self, bundle: &ProofBundle) -> Result<Option<Fp>, VerifyError> {
        let expected = self.model.weights_commitment();
        // Fail closed: a model that hashes its params must name the commitment it expects.
        if self.model.visibility.hashed_params() && expected.is_none() {
            return Err(VerifyError::Commitment {
                field: "weights_commitment",
                reason: "the model hashes its params but records no valid weights commitment \
                         to check proofs against"
                    .into(),
            });
        }
        let found = commitment(
            "weights_commitment",
            bundle.weights_commitment.as_deref(),
            expected.is_some(),
        )?;
        match (expected, found) {
            (Some(expected), Some(found)) if expected != found => {
                Err(VerifyError::WeightsCommitment {
                    expected: felt_hex(&expected),
                    found: felt_hex(&found),
                })
            }
            _ => Ok(expected),
        }
    }

    fn precheck(&self, bundle: &ProofBundle) -> Result<(Vec<Fp>, Vec<u8>), VerifyError> {
        if bundle.format_version != BUNDLE_FORMAT_VERSION {
            return Err(VerifyError::FormatVersion {
                found: bundle.format_version,
                expected: BUNDLE_FORMAT_VERSION,
            });
        }
        if bundle.circuit_version != CIRCUIT_VERSION {
            return Err(VerifyError::CircuitVersion {
                found: bundle.circuit_version,
                expected: CIRCUIT_VERSION,
            });
        }
        if bundle.model_digest != self.digest {
            // With hashed params the identity binds the published commitment: a proof of
            // other weights names another identity; say what differs.
            let carried = bundle.weights_commitment.as_deref().map(parse_felt);
            if let (Some(expected), Some(Ok(found))) = (self.model.weights_commitment(), carried) {
                if expected != found {
                    return Err(VerifyError::WeightsCommitment {
                        expected: felt_hex(&expected),
                        found: felt_hex(&found),
                    });
                }
            }
            return Err(VerifyError::ModelMismatch {
                found: bundle.model_digest.clone(),
                expected: self.digest.clone(),
            });
        }
        let graph = &self.model.graph;
        let layout = InstanceLayout::of(graph, &self.model.visibility);
        let commitments = Commitments {
            output: commitment(
                "output_commitment",
                bundle.output_commitment.as_deref(),
                layout.outputs.is_hashed(),
            )?,
            input: commitment(
                "input_commitment",
                bundle.input_commitment.as_deref(),
                layout.input.as_ref().is_some_and(Segment::is_hashed),
            )?,
            params: self.weights_commitment(bundle)?,
        };
        // Hashed outputs travel as their commitment only.
        let shown: Vec<&QTensor> = if commitments.output.is_some() {
            Vec::new()
        } else {
            graph.output_tensors().collect()
        };
        check_public("outputs", &bundle.outputs, shown)?;
        if bundle.outputs_float.len() != bundle.outputs.len() {
            return Err(VerifyError::Shape {
                field: "outputs_float",
                expected: bundle.outputs.len(),
                got: bundle.outputs_float.len(),
            });
        }
        let expected = graph.outputs_to_float(&bundle.outputs);
        // Bit for bit: one spelling per proof (`-0.0` is not the prover's `0.0`).
        for (index, (&expected, f)) in expected.iter().zip(&bundle.outputs_float).enumerate() {
            if expected.to_bits() != f.to_bits() {
                return Err(VerifyError::FloatMismatch {
                    index,
                    expected,
                    got: *f,
                });
            }
        }
        let input = match (&bundle.public_input, self.model.visibility.public_input()) {
            (Some(x), true) => {
                check_public("public_input", x, [&graph.input])?;
                x.as_slice()
            }
            (None, false) => &[],
            (given, _) => {
                let got = given.as_ref().map_or(0, Vec::len);
                let expected = if self.model.visibility.public_input() {
                    graph.input.len
                } else {
                    0
                };
                return Err(VerifyError::Shape {
                    field: "public_input",
                    expected,
                    got,
                });
            }
        };
        // One spelling per proof: lowercase hex, as the prover writes it.
        if bundle.proof.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(VerifyError::InvalidProof(
                "the proof is not lowercase hex".into(),
            ));
        }
        let proof = hex::decode(&bundle.proof)
            .map_err(|e| VerifyError::InvalidProof(format!("the proof is not hex: {e}")))?;
        Ok((layout.values(&bundle.outputs, input, &commitments), proof))
    }
}

/// The commitment `field` of a bundle, parsed: present exactly when the model hashes that
/// tensor.
fn commitment(
    field: &'static str,
    given: Option<&str>,
    hashed: bool,
) -> Result<Option<Fp>, VerifyError> {
    match (given, hashed) {
        (Some(text), true) => parse_felt(text)
            .map(Some)
            .map_err(|e| VerifyError::Commitment {
                field,
                reason: e.to_string(),
            }),
        (None, false) => Ok(None),
        (None, true) => Err(VerifyError::Commitment {
            field,
            reason: "missing: the model hashes this tensor, so its proofs carry a commitment"
                .into(),
        }),
        (Some(_), false) => Err(VerifyError::Commitment {
            field,
            reason: "present, but the model does not hash this tensor".into(),
        }),
    }
}

/// `values` are the tensors' values one after another, each within its tensor's range.
fn check_public<'a>(
    field: &'static str,
    values: &[i64],
    tensors: impl IntoIterator<Item = &'a QTensor>,
) -> Result<(), VerifyError> {
    let tensors: Vec<&QTensor> = tensors.into_iter().collect();
    let expected = tensors.iter().map(|t| t.len).sum();
    if values.len() != expected {
        return Err(VerifyError::Shape {
            field,
            expected,
            got: values.len(),
        });
    }
    let bounds: Vec<(i64, i64)> = tensors
        .iter()
        .flat_map(|t| std::iter::repeat_n((t.min(), t.max()), t.len))
        .collect();
    match values
        .iter()
        .zip(&bounds)
        .position(|(v, (min, max))| !(min..=max).contains(&v))
    {
        Some(index) => Err(VerifyError::OutOfRange {
            field,
            index,
            value: values[index],
            min: bounds[index].0,
            max: bounds[index].1,
        }),
        None => Ok(()),
    }
}

fn check_len(expected: usize, proof: &[u8]) -> Result<(), VerifyError> {
    if proof.len() == expected {
        Ok(())
    } else {
        Err(VerifyError::ProofLength {
            expected,
            got: proof.len(),
        })
    }
}

/// What a halo2 verification error means, for a person.
fn explain(e: &halo2_proofs::plonk::Error) -> String {
    use halo2_proofs::plonk::Error as E;
    match e {
        E::ConstraintSystemFailure | E::Opening => "the proof does not check against this model and these public values \
             (the outputs, the public input or the proof bytes were changed, or it proves another model)"
            .into(),
        E::Transcript(io) => format!("the proof bytes are malformed ({io})"),
        other => other.to_string(),
    }
}

/// The length in bytes of every proof for `vk`: a dry run of the verifier over an endless
/// reader counts what it reads (the transcript's shape depends on the key only). The reader
/// repeats the encoding of a point that is also a canonical scalar, so every point and
/// scalar it serves decodes and nothing fails before the final check.
fn proof_len(params: &Params<EqAffine>, vk: &VerifyingKey<EqAffine>, public: &[Fp]) -> usize {
    struct Filler {
        pattern: [u8; 32],
        read: usize,
    }
    impl Read for Filler {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            for b in buf.iter_mut() {
                *b = self.pattern[self.read % 32];
                self.read += 1;
            }
            Ok(buf.len())
        }
    }
    let mut filler = Filler {
        pattern: point_and_scalar(),
        read: 0,
    };
    let mut transcript = Blake2bRead::<_, EqAffine, Challenge255<_>>::init(&mut filler);
    // The dry run fails its final check; only the count matters.
    let _ = verify_proof(
        params,
        vk,
        SingleVerifier::new(params),
        &[&[public]],
        &mut transcript,
    );
    filler.read
}

/// 32 bytes that decode both as a non-identity curve point and as a canonical scalar.
fn point_and_scalar() -> [u8; 32] {
    use ff::PrimeField;
    use pasta_curves::group::{Curve, Group, GroupEncoding};
    let g = pasta_curves::Eq::generator();
    let mut p = g;
    loop {
        let bytes = p.to_affine().to_bytes();
        if bool::from(Fp::from_repr(bytes).is_some()) {
            return bytes;
        }
        p += g;
    }
}
