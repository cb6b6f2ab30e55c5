//! Files a user can be handed are untrusted: parameter files, proof bundles and model files.
//! Each test here failed before its fix (issue 11: a forged parameter file made proofs bind
//! nothing; appended proof bytes verified; unknown bundle fields were ignored).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use halo2_proofs::poly::commitment::Params;
use pasta_curves::EqAffine;
use zkinfer::api::{params_digest, pinned_digest};
use zkinfer::error::VerifyError;
use zkinfer::{ParamsCache, ParamsStatus, ProofBundle, Prover, Verifier};

fn fresh_bytes(k: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    Params::<EqAffine>::new(k).write(&mut bytes).unwrap();
    bytes
}

#[test]
fn pinned_digests_match_fresh_parameters() {
    for k in 1..=10 {
        assert_eq!(
            pinned_digest(k),
            Some(params_digest(&fresh_bytes(k)).as_str()),
            "k = {k}"
        );
    }
}

/// Every pinned `k` (the large ones take minutes): `cargo test --release --test
/// untrusted_files -- --ignored`.
#[test]
#[ignore = "regenerates every pinned k; minutes"]
fn every_pinned_digest_matches_fresh_parameters() {
    let mut k = 1;
    while let Some(pinned) = pinned_digest(k) {
        assert_eq!(pinned, params_digest(&fresh_bytes(k)), "k = {k}");
        k += 1;
    }
}

/// The attack of issue 11: every generator set to the identity makes commitments bind
/// nothing. Such a file (and one with a flipped byte that still decodes) is replaced.
#[test]
fn forged_parameter_files_are_replaced_not_used() {
    let k = 6;
    let fresh = fresh_bytes(k);
    let mut zeroed = fresh.clone();
    zeroed[4..4 + 2 * (1 << k) * 32].fill(0);
    let mut flipped = fresh.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert!(
        Params::<EqAffine>::read(&mut &zeroed[..]).is_ok(),
        "the zeroed file decodes: only the digest catches it"
    );
    for forged in [zeroed, flipped] {
        let dir = tempfile::tempdir().unwrap();
        let cache = ParamsCache::new(dir.path());
        std::fs::write(cache.path(k), &forged).unwrap();
        let (params, status) = cache.get_with_status(k).unwrap();
        assert!(
            matches!(&status, ParamsStatus::Replaced { reason } if reason.contains("pinned")),
            "{status:?}"
        );
        let mut used = Vec::new();
        params.write(&mut used).unwrap();
        assert_eq!(used, fresh, "the parameters in use are the honest ones");
        assert_eq!(
            std::fs::read(cache.path(k)).unwrap(),
            fresh,
            "the file was replaced"
        );
        assert_eq!(cache.get_with_status(k).unwrap().1, ParamsStatus::Cached);
    }
}

/// End to end: with a forged file in the cache, a proof still binds its outputs.
#[test]
fn a_forged_cache_cannot_make_edited_outputs_verify() {
    let model = common::model();
    let k = model.layout().unwrap().k;
    let dir = tempfile::tempdir().unwrap();
    let cache = ParamsCache::new(dir.path());
    let mut zeroed = fresh_bytes(k);
    zeroed[4..4 + 2 * (1 << k) * 32].fill(0);
    std::fs::write(cache.path(k), &zeroed).unwrap();
    let bundle = Prover::setup(model.clone(), &cache)
        .unwrap()
        .prove(&common::sample(), false)
        .unwrap();
    let verifier = Verifier::setup(model.clone(), &cache).unwrap();
    verifier.verify(&bundle).unwrap();
    let mut edited = bundle;
    edited.outputs[0] += 1;
    edited.outputs_float = model.graph.outputs_to_float(&edited.outputs);
    assert!(matches!(
        verifier.verify(&edited),
        Err(VerifyError::InvalidProof(_))
    ));
}

#[test]
fn concurrent_cold_cache_reads_agree() {
    let dir = tempfile::tempdir().unwrap();
    let cache = ParamsCache::new(dir.path());
    let runs: Vec<Vec<u8>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let mut bytes = Vec::new();
                    cache.get(7).unwrap().write(&mut bytes).unwrap();
                    bytes
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let fresh = fresh_bytes(7);
    assert!(runs.iter().all(|r| *r == fresh));
    assert_eq!(std::fs::read(cache.path(7)).unwrap(), fresh);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

fn honest() -> (ProofBundle, Verifier) {
    let model = common::model();
    let cache = common::cache();
    let bundle = Prover::setup(model.clone(), &cache)
        .unwrap()
        .prove(&common::sample(), false)
        .unwrap();
    (bundle, Verifier::setup(model.clone(), &cache).unwrap())
}

#[test]
fn appended_or_cut_proof_bytes_are_rejected() {
    let (bundle, verifier) = honest();
    verifier.verify(&bundle).unwrap();
    let len = bundle.proof.len() / 2;
    for (edit, got) in [("00", len + 1), ("deadbeef", len + 4)] {
        let mut forged = bundle.clone();
        forged.proof.push_str(edit);
        match verifier.verify(&forged) {
            Err(VerifyError::ProofLength { expected, got: g }) => {
                assert_eq!((expected, g), (len, got));
            }
            other => panic!("appended {edit}: {other:?}"),
        }
        assert!(matches!(
            verifier.verify_batch(&[bundle.clone(), forged]),
            Err(VerifyError::ProofLength { .. })
        ));
    }
    let mut cut = bundle.clone();
    cut.proof.truncate(cut.proof.len() - 2);
    assert!(matches!(
        verifier.verify(&cut),
        Err(VerifyError::ProofLength { .. })
    ));
}

#[test]
fn unknown_bundle_fields_are_rejected() {
    let (bundle, _) = honest();
    let mut json = serde_json::to_value(&bundle).unwrap();
    json["outputs_verified"] = serde_json::Value::Bool(true);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.json");
    std::fs::write(&path, json.to_string()).unwrap();
    let err = ProofBundle::load(&path).unwrap_err().to_string();
    assert!(err.contains("unknown field `outputs_verified`"), "{err}");
}

/// A fresh verifier that has seen no valid proof yet: appended bytes are caught by the
/// transcript's exact consumption, and a batch learns the length by a dry run.
#[test]
fn a_fresh_verifier_rejects_appended_bytes_and_batches_by_length() {
    let (bundle, _) = honest();
    let len = bundle.proof.len() / 2;
    let fresh = || Verifier::setup(common::model(), &common::cache()).unwrap();
    let mut appended = bundle.clone();
    appended.proof.push_str("00");
    match fresh().verify(&appended) {
        Err(VerifyError::ProofLength { expected, got }) => {
            assert_eq!((expected, got), (len, len + 1))
        }
        other => panic!("{other:?}"),
    }
    let mut cut = bundle.clone();
    cut.proof.truncate(cut.proof.len() - 2);
    match fresh().verify(&cut) {
        Err(VerifyError::ProofLength { expected, got }) => {
            assert_eq!((expected, got), (len, len - 1))
        }
        other => panic!("{other:?}"),
    }
    let batch = fresh();
    batch.verify_batch(std::slice::from_ref(&bundle)).unwrap();
    assert!(matches!(
        batch.verify_batch(&[bundle.clone(), appended]),
        Err(VerifyError::ProofLength { .. })
    ));
}
