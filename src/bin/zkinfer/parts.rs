//! Models proven in parts on the command line: `prove` of every part (or of one, for
//! machines that share a link seed), `assemble`, `verify` and `inspect`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::json;
use zkinfer::{
    CompiledModel, LinkSeed, ParamsCache, PartedProof, PartedProver, PartedVerifier, ProofBundle,
};

use crate::common::{floats, step, Result};
use crate::open;
use crate::progress::PartsProgress;
use crate::shared::{print_outputs, verify_each, ProveFlags, Trusted};

/// `zkinfer prove` of a model proven in parts: every part one after another (one part's
/// keys in memory at a time, built once for all the samples), or part `flags.part` alone
/// under the link seed (its keys kept from sample to sample).
///
/// A link seed salts one inference: with several samples, sample `i` is salted from
/// [`LinkSeed::for_inference`]`(i)` (machines proving parts of the same samples agree on it
/// by the index), so no two inferences share a salt. Without one, each inference draws its
/// own.
pub(crate) fn prove(
    model: &CompiledModel,
    xs: &[Vec<i64>],
    flags: &ProveFlags,
    output: &Path,
    json: bool,
    cache: &ParamsCache,
) -> Result<()> {
    let many = xs.len() > 1;
    let seed_of = |i: usize| {
        flags.link_seed.as_ref().map(|seed| {
            if many {
                seed.for_inference(i as u64)
            } else {
                *seed
            }
        })
    };
    let path_of = |i: usize| {
        if many {
            output.join(format!("proof-{i}.json"))
        } else {
            output.to_path_buf()
        }
    };
    let started = Instant::now();
    let prover = PartedProver::new(model, cache.clone())?;
    let n = prover.parts().len();
    let mut reports = Vec::new();
    if let Some(part) = flags.part {
        for (i, x) in xs.iter().enumerate() {
            let (path, t) = (path_of(i), Instant::now());
            let seed = seed_of(i).ok_or(
                "--part needs --link-seed (64 hex digits shared by every machine proving a part of this inference, and kept secret)",
            )?;
            let (bundle, openings) = step(json, "proving one part", || {
                prover.prove_part(x, part, &seed)
            })?;
            bundle.save(&path)?;
            let opened = open::save_openings(&path, &openings)?;
            let prove_s = t.elapsed().as_secs_f64();
            if !json {
                out!(
                    "part {part} of {n} written to {} ({} bytes, proved in {prove_s:.2} s); gather the parts with `zkinfer assemble`",
                    path.display(),
                    bundle.proof.len() / 2
                );
            }
            reports.push(json!({ "proof": path, "inference": i, "part": part, "parts": n, "openings": opened, "prove_s": prove_s }));
        }
        return finish(json, started, reports, None);
    }
    let mut progress = PartsProgress::new(prover.parts(), prover.shapes(), xs.len(), json);
    let proofs = prover.prove_many(
        xs,
        |i| seed_of(i).unwrap_or_else(LinkSeed::random),
        |event| progress.on(event),
    )?;
    let keys_s = progress.finish();
    let shapes = progress.shapes();
    for (i, (proof, openings)) in proofs.iter().enumerate() {
        let path = path_of(i);
        proof.save(&path)?;
        let opened = open::save_openings(&path, openings)?;
        let (part_s, prove_s) = progress.inference(i);
        let bytes: usize = proof.parts.iter().map(|p| p.proof.len() / 2).sum();
        if !json {
            out!(
                "proof in {n} parts written to {} ({bytes} bytes; witnesses and proofs {prove_s:.2} s)",
                path.display()
            );
            if let Some(last) = proof.parts.last() {
                if last.output_commitment.is_none() {
                    out!("outputs: {}", floats(proof.outputs_float()));
                }
            }
            if let Some(opened) = &opened {
                out!(
                    "openings written to {} (keep them private)",
                    opened.display()
                );
            }
        }
        reports.push(json!({
            "proof": path, "inference": i, "parts": n, "outputs_float": proof.outputs_float(),
            "openings": opened, "prove_s": prove_s, "part_s": part_s, "proof_bytes": bytes,
        }));
    }
    finish(json, started, reports, Some((keys_s, shapes)))
}

/// The end of a parted `prove`: the wall time, and with `--json` every proof's report, each
/// part's key time (`keys_s`, built once per shape whatever the number of samples) and the
/// per-shape timings (`shapes`).
fn finish(
    json: bool,
    started: Instant,
    reports: Vec<serde_json::Value>,
    keys: Option<(Vec<f64>, serde_json::Value)>,
) -> Result<()> {
    let total_s = started.elapsed().as_secs_f64();
    let (keys_s, shapes) = keys.unzip();
    if json {
        out!(
            "{}",
            json!({ "ok": true, "total_s": total_s, "keys_s": keys_s, "shapes": shapes, "proofs": reports })
        );
    } else if let (Some(keys_s), Some(shapes)) = (keys_s, shapes) {
        let keys: f64 = keys_s.iter().sum();
        let count = shapes.as_array().map_or(0, Vec::len);
        out!(
            "wall time {total_s:.2} s (keys {keys:.2} s, built once for each of {count} shapes, parameters included)"
        );
    } else {
        out!("wall time {total_s:.2} s");
    }
    Ok(())
}

/// What `zkinfer compile` prints for a model it cut into parts: each part's circuit.
pub(crate) fn compiled(
    onnx: &Path,
    output: &Path,
    model: &CompiledModel,
    check: &impl std::fmt::Display,
    mut summary: serde_json::Value,
    json: bool,
) -> Result<()> {
    let parts = model.inspect_parts()?;
    if json {
        summary["ok"] = json!(true);
        summary["model"] = json!(output);
        summary["nodes"] = json!(model.graph.nodes.len());
        summary["parts"] = json!(parts);
        out!("{summary}");
    } else {
        out!(
            "compiled {} -> {}: {} nodes in {} parts",
            onnx.display(),
            output.display(),
            model.graph.nodes.len(),
            parts.parts.len()
        );
        out!("{parts}");
        out!("{check}");
    }
    Ok(())
}

/// `zkinfer assemble`: part proofs, in order, into one proof.
pub(crate) fn assemble(
    model_path: &Path,
    parts: &[PathBuf],
    output: &Path,
    json: bool,
) -> Result<()> {
    let model = CompiledModel::load(model_path)?;
    if !model.is_parted() {
        return Err(format!(
            "{} is proven whole: there is nothing to assemble",
            model_path.display()
        )
        .into());
    }
    if parts.len() != model.parts.len() {
        return Err(format!(
            "{} part proofs given; the model is proven in {} parts (give them in order, part 0 first)",
            parts.len(),
            model.parts.len()
        )
        .into());
    }
    let bundles = parts
        .iter()
        .map(|p| ProofBundle::load(p))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let proof = PartedProof {
        format_version: zkinfer::api::BUNDLE_FORMAT_VERSION,
        parts: bundles,
    };
    proof.save(output)?;
    if json {
        out!(
            "{}",
            json!({ "ok": true, "proof": output, "parts": proof.parts.len() })
        );
    } else {
        out!(
            "{} part proofs assembled into {} (verify it with `zkinfer verify`)",
            proof.parts.len(),
            output.display()
        );
    }
    Ok(())
}

/// `zkinfer verify` of proofs of a model proven in parts: every part's key rebuilt once.
pub(crate) fn verify(
    model: &CompiledModel,
    proofs: &[PathBuf],
    trusted: Trusted<'_>,
    json: bool,
    cache: &ParamsCache,
) -> Result<()> {
    let started = Instant::now();
    let loaded = proofs
        .iter()
        .map(|p| PartedProof::load(p))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let t = Instant::now();
    let verifier = step(json, "verifying keys", || {
        PartedVerifier::setup(model, cache)
    })?;
    let keygen_s = t.elapsed().as_secs_f64();
    trusted.check_identity(verifier.model_digest())?;
    let (reports, failed) = verify_each(
        proofs,
        &loaded,
        json,
        |proof| verifier.verify(proof),
        |proof, outputs, print| {
            let last = proof.parts.last();
            let commitment = last.and_then(|p| p.output_commitment.as_ref());
            if print {
                out!("  {} parts, every link matched", proof.parts.len());
                match commitment {
                    Some(c) => out!("output commitment: {c} (the outputs are hashed)"),
                    None => print_outputs(outputs)?,
                }
            }
            Ok(json!({ "parts": proof.parts.len(), "output_commitment": commitment }))
        },
    )?;
    let total_s = started.elapsed().as_secs_f64();
    if json {
        out!(
            "{}",
            json!({ "ok": failed == 0, "valid": failed == 0, "model_digest": verifier.model_digest(), "keygen_s": keygen_s, "total_s": total_s, "proofs": reports })
        );
    } else {
        out!("model identity {}", verifier.model_digest());
        out!("wall time {total_s:.2} s: verifying keys {keygen_s:.2} s, verifying the rest");
    }
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}

/// A size such as `8GiB`, `512MiB`, `2G` or `1000000` (bytes).
pub(crate) fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a size (e.g. 8GiB, 512MiB)"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => {
            return Err(format!(
                "unknown size unit '{other}' (use KiB, MiB, GiB or TiB)"
            ))
        }
    };
    let bytes = number * scale as f64;
    if !(bytes.is_finite() && bytes >= 1.0 && bytes < 2f64.powi(63)) {
        return Err(format!("'{text}' is not a usable size"));
    }
    Ok(bytes as u64)
}
