//! The `zkinfer` command line: compile an ONNX model, prove, verify, inspect, measure accuracy.
//!
//! Exit status 0 on success; on failure, non-zero with a one-line reason on stderr.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget};
use serde_json::json;
use zkinfer::input::{argmax, read_samples, EvalSet};
use zkinfer::{onnx, CompileOptions, CompiledModel, ParamsCache, ProofBundle, Prover, Verifier};

#[derive(Parser, Debug)]
#[command(
    name = "zkinfer",
    version,
    about = "Zero-knowledge proofs of neural-network inference (halo2, IPA, no trusted setup)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Quantise an ONNX model and save the compiled model.
    Compile {
        /// The float ONNX model.
        model: PathBuf,
        /// Inputs whose ranges choose the scales (any input JSON: EZKL input_data, one or many
        /// samples, or an evaluation set). Use the input you will prove, or a representative set.
        #[arg(long)]
        calibration: PathBuf,
        /// Make the input public (default: private).
        #[arg(long)]
        public_input: bool,
        /// Multiply–accumulate pairs per dot-product row: 8, 16, 32 or 64 (default: the
        /// width the cost model predicts proves fastest).
        #[arg(long, value_parser = ["8", "16", "32", "64"])]
        dot_width: Option<String>,
        /// Input bits of each activation's lookup table (the table has 2^bits rows). Default:
        /// 10, or 9 where that proves faster (smaller tables can halve 2^k).
        #[arg(long, value_parser = clap::value_parser!(u32).range(4..=16))]
        table_bits: Option<u32>,
        /// Where to write the compiled model.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Set up keys and prove the model on an input.
    Prove {
        /// The compiled model.
        model: PathBuf,
        /// The input (first sample of the file).
        #[arg(long)]
        input: PathBuf,
        /// Saturate input values outside the calibrated range instead of failing.
        #[arg(long)]
        clamp: bool,
        /// Where to write the proof bundle.
        #[arg(short, long)]
        output: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Verify a proof bundle against a compiled model and print the outputs.
    Verify {
        /// The compiled model.
        model: PathBuf,
        /// The proof bundle.
        proof: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Describe a compiled model: ops, shapes, scales, rows and cells per op, k, columns, lookups, predicted time.
    Inspect {
        /// The compiled model.
        model: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Run the integer model on a labelled evaluation set.
    Accuracy {
        /// The compiled model.
        model: PathBuf,
        /// The evaluation set (`inputs`, `labels`, optional `float_logits`).
        eval: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.to_string().replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Compile {
            model,
            calibration,
            public_input,
            dot_width,
            table_bits,
            output,
        } => {
            let mut options = CompileOptions {
                public_input,
                dot_width: dot_width.and_then(|w| w.parse().ok()),
                ..CompileOptions::default()
            };
            if let Some(bits) = table_bits {
                options.quant.table_bits = bits;
                options.fit_tables = false;
            }
            compile(&model, &calibration, &options, &output)
        }
        Command::Prove {
            model,
            input,
            clamp,
            output,
            json,
        } => prove(&model, &input, clamp, &output, json),
        Command::Verify { model, proof, json } => verify(&model, &proof, json),
        Command::Inspect { model, json } => inspect(&model, json),
        Command::Accuracy { model, eval, json } => accuracy(&model, &eval, json),
    }
}

/// Reads calibration inputs from any input JSON or an evaluation set.
fn calibration_samples(path: &Path) -> Result<Vec<Vec<f32>>> {
    Ok(read_samples(path)?)
}

fn compile(
    model: &Path,
    calibration: &Path,
    options: &CompileOptions,
    output: &Path,
) -> Result<()> {
    let graph = onnx::import(model)?;
    let samples = calibration_samples(calibration)?;
    let compiled = CompiledModel::compile(&graph, &samples, options)?;
    compiled.save(output)?;
    let layout = compiled.layout()?;
    let error = compiled
        .quant_report
        .as_ref()
        .map_or(0.0, |r| r.max_output_error);
    println!(
        "compiled {} -> {}: {} nodes, k = {}, dot width {}, max |float - quantised| output error {error:.4} on {} calibration samples",
        model.display(),
        output.display(),
        compiled.graph.nodes.len(),
        layout.k,
        layout.dot_width,
        samples.len()
    );
    Ok(())
}

/// A spinner on stderr for a step with no progress of its own; hidden for `--json`.
fn step<T>(quiet: bool, message: &'static str, f: impl FnOnce() -> T) -> T {
    let bar = ProgressBar::new_spinner();
    if quiet {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(100));
    let t = Instant::now();
    let out = f();
    bar.finish_with_message(format!("{message}: {:.2} s", t.elapsed().as_secs_f64()));
    out
}

fn prove(model_path: &Path, input: &Path, clamp: bool, output: &Path, json: bool) -> Result<()> {
    let model = CompiledModel::load(model_path)?;
    let sample = read_samples(input)?
        .into_iter()
        .next()
        .ok_or("the input file has no sample")?;
    // Check the input before any slow step.
    let x = model.quantise_input(&sample, clamp)?;
    let cache = ParamsCache::from_env();
    let k = model.layout()?.k;
    let params = step(json, "parameters", || cache.get(k))?;
    let t = Instant::now();
    let prover = step(json, "proving key", || Prover::from_params(&model, params))?;
    let keygen_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let bundle = step(json, "proving", || prover.prove_integer(&x))?;
    let prove_s = t.elapsed().as_secs_f64();
    bundle.save(output)?;
    if json {
        let report = json!({
            "proof": output, "model_digest": bundle.model_digest, "k": k,
            "outputs": bundle.outputs, "outputs_float": bundle.outputs_float,
            "keygen_s": keygen_s, "prove_s": prove_s, "proof_bytes": bundle.proof.len() / 2,
        });
        println!("{report}");
    } else {
        println!(
            "proof written to {} ({} bytes, proved in {prove_s:.2} s)",
            output.display(),
            bundle.proof.len() / 2
        );
        println!("outputs: {}", floats(&bundle.outputs_float));
    }
    Ok(())
}

fn verify(model_path: &Path, proof: &Path, json: bool) -> Result<()> {
    let model = CompiledModel::load(model_path)?;
    let bundle = ProofBundle::load(proof)?;
    let cache = ParamsCache::from_env();
    let params = step(json, "parameters", || {
        cache.get(model.layout()?.k).map_err(zkinfer::Error::from)
    })?;
    let verifier = step(json, "verifying key", || {
        Verifier::from_params(&model, params)
    })?;
    let t = Instant::now();
    let outputs = verifier.verify(&bundle)?;
    let verify_s = t.elapsed().as_secs_f64();
    if json {
        println!(
            "{}",
            json!({ "valid": true, "outputs": bundle.outputs, "outputs_float": outputs, "argmax": argmax(&outputs), "verify_s": verify_s, "model_digest": verifier.model_digest() })
        );
    } else {
        println!("valid proof ({:.1} ms)", verify_s * 1e3);
        println!("outputs: {}", floats(&outputs));
        if let Some(i) = argmax(&outputs) {
            println!("argmax: {i}");
        }
    }
    Ok(())
}

fn inspect(model_path: &Path, json: bool) -> Result<()> {
    let model = CompiledModel::load(model_path)?;
    let layout = model.layout()?;
    let g = &model.graph;
    let tensors: Vec<_> = std::iter::once(&g.input)
        .chain(g.nodes.iter().map(|n| &n.output))
        .collect();
    let degree = zkinfer::circuit::degree();
    let shape = zkinfer::cost::Shape::of(&layout);
    let alternatives: Vec<(usize, u32, f64)> = zkinfer::circuit::DOT_WIDTHS
        .iter()
        .filter_map(|w| zkinfer::layout::plan(g, model.public_input, *w).ok())
        .map(|l| {
            (
                l.dot_width,
                l.k,
                zkinfer::cost::Shape::of(&l).predicted_seconds(),
            )
        })
        .collect();
    let tables: Vec<_> = g
        .nodes
        .iter()
        .filter_map(|n| match &n.op {
            zkinfer::qgraph::QOp::Lookup(l) => Some((n.name.as_str(), l)),
            _ => None,
        })
        .collect();
    if json {
        let tables: Vec<_> = tables
            .iter()
            .map(|(name, l)| json!({ "node": name, "function": l.function.name(), "rows": l.table.outputs.len(), "input_bits": l.table.input_bits, "shift": l.table.shift, "error_bound": l.table.error_bound }))
            .collect();
        let nodes: Vec<_> = layout
            .nodes
            .iter()
            .zip(&tensors)
            .map(|(r, t)| json!({ "name": r.name, "op": r.op, "len": t.len, "scale_exp": t.scale_exp, "bits": t.bits, "rows": { "dot": r.dot, "elementwise": r.elementwise, "range": r.range }, "cells": r.cells(layout.dot_width) }))
            .collect();
        println!(
            "{}",
            json!({
                "k": layout.k, "rows": layout.rows, "dot_width": layout.dot_width, "instances": layout.instances,
                "public_input": model.public_input, "advice_columns": shape.advice,
                "fixed_columns": shape.fixed, "equality_columns": shape.equality, "lookups": shape.lookups,
                "predicted_prove_s": shape.predicted_seconds(), "alternatives": alternatives,
                "range_table_rows": zkinfer_circuits::RangeTableConfig::ROWS, "table_rows": layout.table_rows,
                "tables": tables, "degree": degree, "nodes": nodes,
                "quant_report": model.quant_report,
            })
        );
        return Ok(());
    }
    println!(
        "{:<16} {:<8} {:>6} {:>6} {:>5} {:>8} {:>12} {:>8} {:>9}",
        "node", "op", "len", "scale", "bits", "dot rows", "elementwise", "range", "cells"
    );
    for (r, t) in layout.nodes.iter().zip(&tensors) {
        println!(
            "{:<16} {:<8} {:>6} {:>6} {:>5} {:>8} {:>12} {:>8} {:>9}",
            r.name,
            r.op,
            t.len,
            format!("2^{}", t.scale_exp),
            t.bits,
            r.dot,
            r.elementwise,
            r.range,
            r.cells(layout.dot_width)
        );
    }
    for (name, l) in &tables {
        println!(
            "table {name}: {} over {} rows ({}-bit input after dividing by 2^{}), error bound {:.2e}",
            l.function.name(),
            l.table.outputs.len(),
            l.table.input_bits,
            l.table.shift,
            l.table.error_bound
        );
    }
    println!(
        "k = {} ({} of {} rows used), dot width {}, {} advice + {} fixed + 1 instance columns, {} lookups (table of {} rows: {} range + functions), degree {}, input {}",
        layout.k, layout.rows, 1u64 << layout.k, layout.dot_width, shape.advice, shape.fixed,
        shape.lookups, layout.table_rows, zkinfer_circuits::RangeTableConfig::ROWS, degree,
        if model.public_input { "public" } else { "private" }
    );
    let others: Vec<String> = alternatives
        .iter()
        .map(|a| format!("width {} k = {} {:.2} s", a.0, a.1, a.2))
        .collect();
    println!(
        "predicted proving time {:.2} s on the calibration machine (cost model; candidates: {})",
        shape.predicted_seconds(),
        others.join(", ")
    );
    Ok(())
}

fn accuracy(model_path: &Path, eval: &Path, json: bool) -> Result<()> {
    let model = CompiledModel::load(model_path)?;
    let set = EvalSet::read(eval)?;
    let (mut quant_correct, mut float_correct, mut max_err) = (0usize, 0usize, 0f64);
    for (i, (x, label)) in set.inputs.iter().zip(&set.labels).enumerate() {
        let q = model
            .quantise_input(x, false)
            .map_err(|e| format!("sample {i}: {e}"))?;
        let out = model.graph.outputs_to_float(
            &model
                .graph
                .eval(&q)
                .map_err(|e| format!("sample {i}: {e}"))?,
        );
        quant_correct += usize::from(argmax(&out) == Some(*label));
        if let Some(logits) = set.float_logits.as_ref().and_then(|l| l.get(i)) {
            float_correct += usize::from(argmax(logits) == Some(*label));
            max_err = out
                .iter()
                .zip(logits)
                .fold(max_err, |m, (a, b)| m.max((a - b).abs()));
        }
    }
    let n = set.inputs.len().max(1) as f64;
    let quant = quant_correct as f64 / n;
    let float = set.float_logits.as_ref().map(|_| float_correct as f64 / n);
    if json {
        println!(
            "{}",
            json!({ "samples": set.inputs.len(), "quantised_accuracy": quant, "float_accuracy": float, "max_logit_error": float.map(|_| max_err) })
        );
    } else {
        println!("samples: {}", set.inputs.len());
        println!("quantised accuracy: {:.4}", quant);
        match float {
            Some(f) => println!("float accuracy:     {f:.4}\nmax |logit error|:  {max_err:.4}"),
            None => println!("float accuracy: not in the evaluation file"),
        }
    }
    Ok(())
}

fn floats(values: &[f64]) -> String {
    let parts: Vec<String> = values.iter().map(|v| format!("{v:.4}")).collect();
    format!("[{}]", parts.join(", "))
}
