//! Commitments on the command line: where `prove` keeps the openings of hashed tensors, how
//! bundles show their commitments, and `zkinfer open`, which checks openings (and, given the
//! proof, verifies it and that it carries the opened commitments).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::json;
use zkinfer::api::Openings;
use zkinfer::{CompiledModel, ParamsCache, ProofBundle, Verifier};

use crate::common::{params, step, Result};

/// Writes `openings` beside the proof at `proof` (`x.json` → `x.openings.json`) when there
/// are any; returns where.
pub(crate) fn save_openings(proof: &Path, openings: &Openings) -> Result<Option<PathBuf>> {
    if openings.openings.is_empty() {
        return Ok(None);
    }
    let stem = proof.file_stem().unwrap_or_default().to_string_lossy();
    let path = proof.with_file_name(format!("{stem}.openings.json"));
    openings.save(&path)?;
    Ok(Some(path))
}

/// Prints a bundle's commitments, if it carries any.
pub(crate) fn print_commitments(bundle: &ProofBundle) -> Result<()> {
    if let Some(c) = &bundle.input_commitment {
        out!("input commitment: {c}");
    }
    if let Some(c) = &bundle.output_commitment {
        out!("output commitment: {c} (the outputs are hashed)");
    }
    if let Some(c) = &bundle.weights_commitment {
        out!("weights commitment: {c} (made with the weights it commits to)");
    }
    Ok(())
}

/// `zkinfer open`.
pub(crate) fn open(
    model_path: &Path,
    openings_path: &Path,
    proof: Option<&Path>,
    json: bool,
    cache: &ParamsCache,
) -> Result<()> {
    let model = Arc::new(CompiledModel::load(model_path)?);
    let openings = Openings::load(openings_path)?;
    if openings.openings.is_empty() {
        return Err(format!("{} holds no opening", openings_path.display()).into());
    }
    for opening in &openings.openings {
        model.check_opening(opening)?;
    }
    if let Some(proof_path) = proof {
        let bundle = ProofBundle::load(proof_path)?;
        if bundle.model_digest != openings.model_digest {
            return Err(format!(
                "the proof is for model {}, the openings for model {}",
                bundle.model_digest, openings.model_digest
            )
            .into());
        }
        let params = params(cache, model.layout()?.k, json)?;
        let verifier = step(json, "verifying key", || {
            Verifier::from_params(model.clone(), params)
        })?;
        verifier
            .verify(&bundle)
            .map_err(|e| format!("{}: {e}", proof_path.display()))?;
        for opening in &openings.openings {
            if opening.commitment_in(&bundle) != Some(opening.commitment.as_str()) {
                return Err(format!(
                    "the proof's {} commitment is {}, the opening's {}",
                    opening.tensor,
                    opening.commitment_in(&bundle).unwrap_or("absent"),
                    opening.commitment
                )
                .into());
            }
        }
    }
    let opened: Vec<_> = openings
        .openings
        .iter()
        .map(|o| json!({ "tensor": o.tensor, "commitment": o.commitment, "values": o.values }))
        .collect();
    if json {
        out!(
            "{}",
            json!({ "ok": true, "valid": true, "proof_verified": proof.is_some(), "openings": opened })
        );
    } else {
        for o in &openings.openings {
            out!(
                "{} opens commitment {}: {} values",
                o.tensor,
                o.commitment,
                o.values.len()
            );
        }
        match proof {
            Some(p) => out!("{}: valid proof, carrying these commitments", p.display()),
            None => out!("(pass --proof to verify a proof and check it carries them)"),
        }
    }
    Ok(())
}
