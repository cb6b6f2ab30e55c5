//! Quickstart: compile the bundled digits MLP (ONNX), prove one inference, verify it, and
//! show that a tampered output is rejected.
//!
//! ```text
//! cargo run --release --example quickstart
//! ```

use std::path::Path;
use std::time::Instant;

use zkinfer::{input, onnx, CompileOptions, CompiledModel, ParamsCache, Prover, Verifier};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let graph = onnx::import(&data.join("digits_mlp.onnx"))?;
    let sample = input::read_samples(&data.join("digits_mlp.input.json"))?.remove(0);
    // Calibrate scales on the labelled evaluation inputs.
    let calibration = input::EvalSet::read(&data.join("digits_mlp.eval.json"))?.inputs;

    let t = Instant::now();
    let model = CompiledModel::compile(&graph, &calibration, &CompileOptions::default())?;
    let layout = model.layout()?;
    println!(
        "compiled digits_mlp: k = {}, {} rows, {:.1} ms",
        layout.k,
        layout.rows,
        ms(t)
    );

    let cache = ParamsCache::from_env();
    let t = Instant::now();
    let prover = Prover::setup(model.clone(), &cache)?;
    println!(
        "setup (params cached in {}): {:.0} ms",
        cache.dir().display(),
        ms(t)
    );

    let t = Instant::now();
    let bundle = prover.prove(&sample, false)?;
    let prove_ms = ms(t);
    let proof_bytes = bundle.proof.len() / 2;
    println!("proved in {prove_ms:.0} ms, proof {proof_bytes} bytes");

    let verifier = Verifier::setup(model.clone(), &cache)?;
    let t = Instant::now();
    let outputs = verifier.verify(&bundle)?;
    println!(
        "verified in {:.1} ms; model identity {}",
        ms(t),
        verifier.model_digest()
    );
    let digit = input::argmax(&outputs).unwrap_or(0);
    let logits: Vec<String> = outputs.iter().map(|v| format!("{v:.2}")).collect();
    println!("proven logits: [{}]", logits.join(", "));
    println!("predicted digit: {digit}");

    // A verifier must reject a proof whose output was changed.
    let mut forged = bundle.clone();
    forged.outputs[digit] -= 1;
    forged.outputs_float = model.graph.outputs_to_float(&forged.outputs);
    match verifier.verify(&forged) {
        Err(e) => println!("tampered output rejected: {e}"),
        Ok(_) => return Err("a tampered proof verified".into()),
    }
    Ok(())
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}
