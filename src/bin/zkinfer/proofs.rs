//! `prove` and `verify`: one key for every sample or proof of a command, each reported with
//! its timing, commitments and (when public) outputs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use zkinfer::input::read_samples;
use zkinfer::{CompiledModel, ParamsCache, ProofBundle, Prover, Verifier};

use crate::common::{check_output, floats, params, step, Result};
use crate::open;
use crate::shared::{print_outputs, verify_each, ProveFlags, Trusted};

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
