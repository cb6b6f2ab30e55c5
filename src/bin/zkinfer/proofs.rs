//! `prove` and `verify`: one key for every sample or proof of a command, each reported with
//! its timing, commitments and (when public) outputs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use zkinfer::input::{argmax, read_samples};
use zkinfer::{CompiledModel, ParamsCache, ProofBundle, Prover, Verifier};

use crate::{check_output, floats, open, params, step, Result};

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
    #[arg(long, value_name = "HEX", env = "ZKINFER_LINK_SEED", hide_env_values = true, value_parser = crate::parts::parse_seed)]
    pub link_seed: Option<zkinfer::LinkSeed>,
    /// Prove even when the predicted peak memory exceeds this machine's memory (by default
    /// such a proof is refused before it starts: it would be killed minutes later).
    #[arg(long)]
    pub ignore_memory: bool,
}

pub(crate) fn prove(
    model_path: &Path,
    input: &Path,
    output: &Path,
    flags: &ProveFlags,
    json: bool,
    cache: &ParamsCache,
) -> Result<()> {
    let started = Instant::now();
    let model = Arc::new(CompiledModel::load(model_path)?);
    let samples = model.join_inputs(read_samples(input)?);
    let many = samples.len() > 1;
    check_output(output, &[model_path, input], many)?;
    // Check every input before any slow step.
    let xs = samples
        .iter()
        .enumerate()
        .map(|(i, x)| {
            model.quantise_input(x, flags.clamp).map_err(|e| {
                if many {
                    format!("sample {i}: {e}")
                } else {
                    e.to_string()
                }
            })
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    if !flags.ignore_memory {
        crate::memory::check(&model, flags.part)?;
    }
    if model.is_parted() {
        return crate::parts::prove(&model, &xs, flags, output, json, cache);
    }
    if flags.part.is_some() {
        return Err(format!(
            "{} is proven whole: --part applies to models compiled in parts (--max-k)",
            model_path.display()
        )
        .into());
    }
    let k = model.layout()?.k;
    let t = Instant::now();
    let params = params(cache, k, json)?;
    let params_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let prover = step(json, "proving key", || {
        Prover::from_params(model.clone(), params)
    })?;
    let keygen_s = t.elapsed().as_secs_f64();
    let mut reports = Vec::new();
    for (i, x) in xs.iter().enumerate() {
        let path = if many {
            output.join(format!("proof-{i}.json"))
        } else {
            output.to_path_buf()
        };
        let t = Instant::now();
        let (bundle, openings) = step(json, "proving", || prover.prove_integer_opened(x))?;
        let prove_s = t.elapsed().as_secs_f64();
        bundle.save(&path)?;
        let opened = open::save_openings(&path, &openings)?;
        if !json {
            out!(
                "proof written to {} ({} bytes, proved in {prove_s:.2} s)",
                path.display(),
                bundle.proof.len() / 2
            );
            open::print_commitments(&bundle)?;
            if let Some(opened) = &opened {
                out!(
                    "openings written to {} (keep them private: the salts hide the hashed values)",
                    opened.display()
                );
            }
            if bundle.output_commitment.is_none() {
                out!("outputs: {}", floats(&bundle.outputs_float));
            }
        }
        reports.push(json!({
            "proof": path, "outputs": bundle.outputs, "outputs_float": bundle.outputs_float,
            "input_commitment": bundle.input_commitment, "output_commitment": bundle.output_commitment,
            "weights_commitment": bundle.weights_commitment, "openings": opened, "prove_s": prove_s, "proof_bytes": bundle.proof.len() / 2,
        }));
    }
    let total_s = started.elapsed().as_secs_f64();
    if json {
        let report = json!({
            "ok": true, "model_digest": prover.model_digest(), "k": k, "params_s": params_s,
            "keygen_s": keygen_s, "total_s": total_s,
        });
        out!("{}", with_reports(report, reports, many));
    } else {
        out!("wall time {total_s:.2} s: parameters {params_s:.2} s, proving key {keygen_s:.2} s, proving the rest");
    }
    Ok(())
}

/// A command's JSON report with its per-file reports: a `proofs` list when there are
/// several, else the one report's fields at the top level.
fn with_reports(
    mut report: serde_json::Value,
    mut reports: Vec<serde_json::Value>,
    several: bool,
) -> serde_json::Value {
    if several {
        report["proofs"] = json!(reports);
    } else if let (Some(serde_json::Value::Object(one)), Some(top)) =
        (reports.pop(), report.as_object_mut())
    {
        top.extend(one);
    }
    report
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
    fn report_weights(&self, model: &CompiledModel, json: bool) {
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

pub(crate) fn verify(
    model_path: &Path,
    proofs: &[PathBuf],
    trusted: Trusted<'_>,
    json: bool,
    cache: &ParamsCache,
) -> Result<()> {
    let started = Instant::now();
    let model = CompiledModel::load(model_path)?;
    let model = Arc::new(crate::weights::expecting(
        model,
        trusted.weights_commitment,
    )?);
    trusted.report_weights(&model, json);
    if model.is_parted() {
        return crate::parts::verify(&model, proofs, trusted, json, cache);
    }
    let bundles = proofs
        .iter()
        .map(|p| ProofBundle::load(p))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let t = Instant::now();
    let params = params(cache, model.layout()?.k, json)?;
    let params_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let verifier = step(json, "verifying key", || {
        Verifier::from_params(model.clone(), params)
    })?;
    let keygen_s = t.elapsed().as_secs_f64();
    trusted.check_identity(verifier.model_digest())?;
    let (reports, failed) = verify_each(
        proofs,
        &bundles,
        json,
        |bundle| verifier.verify(bundle),
        |bundle, outputs, print| {
            if print {
                open::print_commitments(bundle)?;
                if bundle.output_commitment.is_none() {
                    print_outputs(outputs)?;
                }
            }
            Ok(json!({
                "outputs": bundle.outputs, "input_commitment": bundle.input_commitment,
                "output_commitment": bundle.output_commitment,
                "weights_commitment": bundle.weights_commitment,
            }))
        },
    )?;
    let total_s = started.elapsed().as_secs_f64();
    if json {
        let report = json!({
            "ok": failed == 0, "valid": failed == 0, "model_digest": verifier.model_digest(),
            "params_s": params_s, "keygen_s": keygen_s, "total_s": total_s,
        });
        out!("{}", with_reports(report, reports, proofs.len() > 1));
    } else {
        out!("model identity {}", verifier.model_digest());
        out!("wall time {total_s:.2} s: parameters {params_s:.2} s, verifying key {keygen_s:.2} s, verifying the rest");
    }
    if failed > 0 {
        // Already reported per proof; the exit status says it.
        std::process::exit(1);
    }
    Ok(())
}
