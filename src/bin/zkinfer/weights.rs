//! The model owner's side of hashed parameters: `commit-weights` prints the commitment to
//! publish, `export-verifier` writes the file a verifier needs (no weights, no salt).

use std::io::Write;
use std::path::Path;

use serde_json::json;
use zkinfer::api::parse_felt;
use zkinfer::CompiledModel;

use crate::common::{check_output, Result};

/// Prints the published commitment of a model with hashed parameters.
pub(crate) fn commit_weights(model_path: &Path, json: bool) -> Result<()> {
    let model = CompiledModel::load(model_path)?;
    let Some(weights) = &model.weights else {
        return Err(format!(
            "{}: its params are fixed, so nothing is committed: compile with \
             --param-visibility hashed",
            model_path.display()
        )
        .into());
    };
    let params = model.graph.params();
    let [weight_bits, bias_bits] = model.visibility.param_bits;
    if json {
        out!(
            "{}",
            json!({
                "weights_commitment": weights.commitment,
                "weights": params.values[0].len(),
                "biases": params.values[1].len(),
                "param_bits": [weight_bits, bias_bits],
                "verifier_file": model.is_verifier_file(),
                "parts": weights.parts,
            })
        );
    } else {
        out!("{}", weights.commitment);
        if model.is_parted() {
            let fixed = fixed_parts(&model);
            eprintln!(
                "the digest of {} parts' Poseidon commitments, in order; {}; publish it beside \
                 the verifier file",
                weights.parts.len(),
                match fixed.is_empty() {
                    true => "every part's params are hashed".to_string(),
                    false => format!(
                        "part(s) {} keep fixed params (no params, or an embedding table): the \
                         verifier file holds their weights",
                        fixed.join(", ")
                    ),
                }
            );
        } else {
            eprintln!(
                "the Poseidon commitment to {} weights ({weight_bits} bits) and {} biases \
                 ({bias_bits} bits); publish it beside the verifier file",
                params.values[0].len(),
                params.values[1].len()
            );
        }
    }
    Ok(())
}

/// The parts of a model in parts whose params stay fixed (their entry in the parts'
/// commitments is empty), as text.
fn fixed_parts(model: &CompiledModel) -> Vec<String> {
    let parts = model.weights.as_ref().map_or(&[][..], |w| &w.parts[..]);
    (parts.iter().enumerate())
        .filter(|(_, c)| c.is_none())
        .map(|(i, _)| i.to_string())
        .collect()
}

/// Writes the verifier file of a model with hashed parameters.
pub(crate) fn export_verifier(model_path: &Path, output: &Path, json: bool) -> Result<()> {
    check_output(output, &[model_path], false)?;
    let model = CompiledModel::load(model_path)?;
    let file = model.verifier_file()?;
    file.save(output)?;
    let commitment = file.weights.as_ref().map(|w| w.commitment.clone());
    if json {
        out!(
            "{}",
            json!({ "ok": true, "verifier_file": output, "weights_commitment": commitment })
        );
    } else {
        let fixed = fixed_parts(&file);
        let held = match fixed.is_empty() {
            true => "no weights".to_string(),
            false => format!(
                "no hashed weights; part(s) {} keep fixed params, and their weights are in it",
                fixed.join(", ")
            ),
        };
        out!(
            "wrote {} ({held}; proofs must carry weights commitment {})",
            output.display(),
            commitment.unwrap_or_default()
        );
    }
    Ok(())
}

/// The model to verify with, its published commitment replaced by `commitment` when one is
/// given.
pub(crate) fn expecting(
    mut model: CompiledModel,
    commitment: Option<&str>,
) -> Result<CompiledModel> {
    if let Some(text) = commitment {
        let c = parse_felt(text).map_err(|e| format!("--weights-commitment: {e}"))?;
        model.expect_weights_commitment(c)?;
    }
    Ok(model)
}
