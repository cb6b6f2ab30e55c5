//! What `prove` and `verify` share between a model proven whole (`proofs.rs`) and one
//! proven in parts (`parts.rs`): the flags and the per-proof reporting. A leaf of the CLI's
//! modules beside `main.rs`'s helpers, so that neither of the two imports the other.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use serde_json::json;
use zkinfer::input::argmax;
use zkinfer::CompiledModel;

use crate::common::{floats, Result};

/// How `prove` proves, beside its files.
#[derive(Clone, Debug, clap::Args)]
pub(crate) struct ProveFlags {
    /// Saturate input values outside the calibrated range instead of failing.
    #[arg(long)]
    pub clamp: bool,
    /// For a model proven in parts: prove only part N (from 0), recomputing the integer
    /// passes before it; `zkinfer assemble` gathers the parts. Needs `--link-seed`.
    #[arg(long, value_name = "N")]
    pub part: Option<usize>,
    /// For a model proven in parts: the secret the links' salts come from (64 hex digits),
    /// shared by the machines that prove the parts of one inference. Random when every part
    /// is proven here. With several samples, sample i's links are salted from a seed derived
    /// from this one and i (so no two inferences share a salt).
    #[arg(long, value_name = "HEX", env = "ZKINFER_LINK_SEED", hide_env_values = true, value_parser = zkinfer::LinkSeed::parse)]
    pub link_seed: Option<zkinfer::LinkSeed>,
    /// Prove even when the predicted peak memory exceeds this machine's memory (by default
    /// such a proof is refused before it starts: it would be killed minutes later).
    #[arg(long)]
    pub ignore_memory: bool,
}

/// Verifies each loaded proof with `verify`, printing and reporting each (`shown` returns a
/// valid one's extra report fields, and prints what it carries when told to). One proof's failure is the
/// command's error; with several, each is reported and the count of failures returned.
pub(crate) fn verify_each<P>(
    paths: &[PathBuf],
    proofs: &[P],
    json: bool,
    verify: impl Fn(&P) -> std::result::Result<Vec<f64>, zkinfer::error::VerifyError>,
    shown: impl Fn(&P, &[f64], bool) -> Result<serde_json::Value>,
) -> Result<(Vec<serde_json::Value>, usize)> {
    let mut reports = Vec::new();
    let mut failed = 0;
    for (path, proof) in paths.iter().zip(proofs) {
        let t = Instant::now();
        let result = verify(proof);
        let verify_s = t.elapsed().as_secs_f64();
        match result {
            Ok(outputs) => {
                if !json {
                    out!("{}: valid proof ({:.1} ms)", path.display(), verify_s * 1e3);
                }
                let mut report = shown(proof, &outputs, !json)?;
                report["proof"] = json!(path);
                report["valid"] = json!(true);
                report["outputs_float"] = json!(outputs);
                report["argmax"] = json!(argmax(&outputs));
                report["verify_s"] = json!(verify_s);
                reports.push(report);
            }
            Err(e) if paths.len() == 1 => return Err(e.into()),
            Err(e) => {
                failed += 1;
                if !json {
                    out!("{}: INVALID: {e}", path.display());
                }
                reports.push(json!({ "proof": path, "valid": false, "error": e.to_string() }));
            }
        }
    }
    Ok((reports, failed))
}

/// Prints proven outputs and their argmax.
pub(crate) fn print_outputs(outputs: &[f64]) -> Result<()> {
    out!("outputs: {}", floats(outputs));
    if let Some(i) = argmax(outputs) {
        out!("argmax: {i}");
    }
    Ok(())
}

/// What a verifier was told by the model owner, beside the model file: the published
/// weights commitment and model identity (each `None`: trust the file's).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Trusted<'a> {
    pub weights_commitment: Option<&'a str>,
    pub model_digest: Option<&'a str>,
}

impl Trusted<'_> {
    /// Refuses a model whose identity is not the published one, when one was given.
    pub(crate) fn check_identity(&self, found: &str) -> Result<()> {
        match self.model_digest {
            Some(published) if !published.trim().eq_ignore_ascii_case(found) => Err(format!(
                "the model file's identity is {found}, not the published {}: it is another \
                 model, or a copy edited somewhere its proofs' meaning is read (a scale, an \
                 output name, a visibility); get the model file from its owner",
                published.trim()
            )
            .into()),
            _ => Ok(()),
        }
    }

    /// Says which weights commitment proofs are checked against when none was given.
    pub(crate) fn report_weights(&self, model: &CompiledModel, json: bool) {
        if let (None, Some(weights), false) = (self.weights_commitment, &model.weights, json) {
            eprintln!(
                "checking proofs against the weights commitment the model file records, {} \
                 (pass --weights-commitment with the one the model owner published to check \
                 that too)",
                weights.commitment
            );
        }
    }
}
