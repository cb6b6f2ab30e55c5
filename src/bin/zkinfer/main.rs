//! The `zkinfer` command line: compile an ONNX model, prove, verify, inspect, measure accuracy.
//!
//! Exit status 0 on success; on failure, non-zero with a one-line reason on stderr.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::json;
use zkinfer::api::Precision;
use zkinfer::input::read_samples;
use zkinfer::{api, CompileOptions, ParamsCache, Visibilities, Visibility};

use common::{check_output, Result};

#[derive(Parser, Debug)]
#[command(
    name = "zkinfer",
    version,
    about = "Zero-knowledge proofs of neural-network inference (halo2, IPA, no trusted setup)"
)]
struct Cli {
    /// Folder of cached IPA parameters (default: $XDG_CACHE_HOME/zkinfer/params, else
    /// ~/.cache/zkinfer/params). Cached files are checked against digests pinned in zkinfer,
    /// so a shared or downloaded cache cannot change what a proof means.
    #[arg(long, global = true, env = "ZKINFER_PARAMS_DIR", value_name = "DIR")]
    params_dir: Option<PathBuf>,
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
        /// Who sees the input: `private` (default; only the prover), `public` (an
        /// instance value in every proof bundle) or `hashed` (a Poseidon commitment under a
        /// salt the prover keeps; `prove` writes the opening beside the proof).
        #[arg(long, value_name = "VISIBILITY", default_value = "private")]
        input_visibility: Visibility,
        /// Shorthand for `--input-visibility public`.
        #[arg(long, conflicts_with = "input_visibility")]
        public_input: bool,
        /// Who sees the outputs: `public` (default; in every proof bundle) or `hashed` (only
        /// a Poseidon commitment to them all).
        #[arg(long, value_name = "VISIBILITY", default_value = "public")]
        output_visibility: Visibility,
        /// The weights: `fixed` (default; in fixed columns the verifying key commits to) or
        /// `hashed` (advice cells under one Poseidon commitment the owner publishes, so a
        /// verifier file without weights verifies; see `commit-weights`, `export-verifier`).
        #[arg(long, value_name = "VISIBILITY", default_value = "fixed")]
        param_visibility: Visibility,
        /// Multiply–accumulate pairs per dot-product row: 8, 16, 32 or 64 (default: the
        /// width the cost model predicts proves fastest).
        #[arg(long, value_parser = ["8", "16", "32", "64"])]
        dot_width: Option<String>,
        /// Input bits of each activation's lookup table (the table has 2^bits rows). Default:
        /// 10, or 9 where that proves faster (smaller tables can halve 2^k).
        #[arg(long, value_parser = clap::value_parser!(u32).range(4..=16))]
        table_bits: Option<u32>,
        /// `standard` (16-bit activations, 10-bit weights: the fastest proofs) or `high`
        /// (24-bit activations, 16-bit weights, 12-bit tables: outputs closer to the float
        /// model, at the cost of more rows).
        #[arg(long, value_name = "PRECISION", default_value = "standard")]
        precision: Precision,
        /// Extra bits of range above the largest calibration value of every activation
        /// (default 1). Raise it when proving fails because an intermediate value leaves its
        /// range on inputs wider than the calibration data.
        #[arg(long, value_parser = clap::value_parser!(u32).range(0..=16))]
        headroom_bits: Option<u32>,
        /// An error budget: the largest |float - quantised| output error allowed, measured
        /// on the calibration samples the scales are not fitted on (the second half). The
        /// compiler picks the activation, weight and table widths predicted to prove fastest
        /// within it (`inspect` shows the choice and the error), in place of a preset.
        #[arg(long, value_name = "E", conflicts_with_all = ["precision", "table_bits"])]
        max_error: Option<f64>,
        /// Prove the model in parts when its circuit needs more than 2^K rows: the graph is
        /// cut, in execution order, into parts that each fit, linked by Poseidon commitments.
        #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(9..=22))]
        max_k: Option<u32>,
        /// Prove the model in parts when proving it whole is predicted to need more memory
        /// than this (e.g. `8GiB`, `512MiB`): each part fits (the memory model `inspect`
        /// prints).
        #[arg(long, value_name = "SIZE", value_parser = parts::parse_size)]
        memory_budget: Option<u64>,
        /// Prove the model in parts cut before these nodes (indices from `inspect`'s node
        /// list, input excluded, from 0; e.g. `--cut-before 3,7`), instead of by budget.
        #[arg(long, value_name = "NODES", value_delimiter = ',', conflicts_with_all = ["max_k", "memory_budget"])]
        cut_before: Vec<usize>,
        /// With `--param-visibility hashed` in parts: give each repeated block its own
        /// scales and cuts, so every part has its own circuit and keys. By default repeated
        /// blocks are quantised and cut alike and share one circuit (`inspect` lists the
        /// shapes).
        #[arg(long)]
        key_per_part: bool,
        /// Where to write the compiled model.
        #[arg(short, long)]
        output: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Set up keys and prove the model on an input.
    Prove {
        /// The compiled model.
        model: PathBuf,
        /// The input file. With several samples, each is proven (one key generation) and
        /// `--output` is a folder that receives `proof-0.json`, `proof-1.json`, ….
        #[arg(long)]
        input: PathBuf,
        /// Where to write the proof bundle (a folder for several samples).
        #[arg(short, long)]
        output: PathBuf,
        #[command(flatten)]
        flags: shared::ProveFlags,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Verify proof bundles against a compiled model (one key for all) and print the outputs.
    Verify {
        /// The compiled model.
        model: PathBuf,
        /// The proof bundles.
        #[arg(required = true)]
        proofs: Vec<PathBuf>,
        /// With hashed params: the weights commitment the model owner published (64 hex
        /// digits); default: the one the model or verifier file records.
        #[arg(long, value_name = "HEX")]
        weights_commitment: Option<String>,
        /// The model identity the model owner published (64 hex digits): the model file must
        /// have exactly it (it binds the verifying key and every scale, name and visibility
        /// that gives the outputs their meaning); default: trust the file and print its
        /// identity.
        #[arg(long, value_name = "HEX")]
        model_digest: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Print the Poseidon commitment to a model's hashed params: what the model owner
    /// publishes, and what every proof of the model carries.
    CommitWeights {
        /// The compiled model (compiled with `--param-visibility hashed`).
        model: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Write a verifier file: the model with hashed params, without its weights or salt. It
    /// verifies proofs (the verifying key depends on the architecture only) but cannot prove.
    ExportVerifier {
        /// The model owner's compiled model (`--param-visibility hashed`).
        model: PathBuf,
        /// Where to write the verifier file.
        #[arg(short, long)]
        output: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Gather the part proofs of a model proven in parts (`prove --part N`), in order, into
    /// one proof.
    Assemble {
        /// The compiled model.
        model: PathBuf,
        /// The part proofs, part 0 first.
        #[arg(required = true)]
        parts: Vec<PathBuf>,
        /// Where to write the assembled proof.
        #[arg(short, long)]
        output: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Check the openings `prove` wrote for a hashed input or output: the values and salt
    /// must hash to the commitment. With `--proof`, also verify that proof and that it
    /// carries these commitments.
    Open {
        /// The compiled model.
        model: PathBuf,
        /// The openings file (`….openings.json`).
        openings: PathBuf,
        /// A proof bundle whose commitments the openings must open.
        #[arg(long)]
        proof: Option<PathBuf>,
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
    /// Serve proving and verification over HTTP, keys kept warm (see the README's service
    /// section). Prints `listening on http://ADDR` once ready; Ctrl-C or SIGTERM stops it
    /// gracefully (a second one at once).
    Serve(serve::ServeFlags),
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

/// `println!` that returns the error instead of panicking (a closed pipe, `| head -1`).
macro_rules! out {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout().lock(), $($arg)*)?
    };
}

// After `out!`, which they use.
mod common;
mod memory;
mod open;
mod parts;
mod progress;
mod proofs;
mod report;
mod serve;
mod shared;
mod weights;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cache = cli
        .params_dir
        .clone()
        .map_or_else(ParamsCache::from_env, ParamsCache::new);
    let json = cli.command.json();
    match run(cli.command, &cache) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`zkinfer inspect m.zkm | head -1`): nothing left to say.
        Err(e) if is_broken_pipe(e.as_ref()) => ExitCode::SUCCESS,
        Err(e) => {
            let message = e.to_string().replace('\n', " ");
            if json {
                // Failures are JSON too, on stdout, where a script reads the result.
                let _ = writeln!(
                    std::io::stdout().lock(),
                    "{}",
                    json!({ "ok": false, "valid": false, "error": message })
                );
            }
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

impl Command {
    fn json(&self) -> bool {
        match self {
            Self::Compile { json, .. }
            | Self::Prove { json, .. }
            | Self::Verify { json, .. }
            | Self::Inspect { json, .. }
            | Self::Open { json, .. }
            | Self::Assemble { json, .. }
            | Self::CommitWeights { json, .. }
            | Self::ExportVerifier { json, .. }
            | Self::Accuracy { json, .. } => *json,
            Self::Serve(_) => false,
        }
    }
}

fn run(command: Command, cache: &ParamsCache) -> Result<()> {
    match command {
        Command::Compile {
            model,
            calibration,
            input_visibility,
            public_input,
            output_visibility,
            param_visibility,
            dot_width,
            precision,
            table_bits,
            headroom_bits,
            max_error,
            max_k,
            memory_budget,
            cut_before,
            key_per_part,
            output,
            json,
        } => {
            let input = if public_input {
                Visibility::Public
            } else {
                input_visibility
            };
            let options = CompileOptions {
                visibility: Visibilities {
                    input,
                    output: output_visibility,
                    params: param_visibility,
                    ..Visibilities::default()
                },
                dot_width: dot_width.and_then(|w| w.parse().ok()),
                budget: api::Budget {
                    max_k,
                    memory_bytes: memory_budget,
                },
                cuts: cut_before,
                max_error,
                share_keys: !key_per_part,
                ..CompileOptions::default()
            }
            .with_precision(precision)
            .with_table_bits(table_bits)
            .with_headroom_bits(headroom_bits);
            compile(&model, &calibration, &options, &output, json)
        }
        Command::Prove {
            model,
            input,
            output,
            flags,
            json,
        } => proofs::prove(&model, &input, &output, &flags, json, cache),
        Command::Assemble {
            model,
            parts: proofs,
            output,
            json,
        } => {
            check_output(&output, &[model.as_path()], false)?;
            parts::assemble(&model, &proofs, &output, json)
        }
        Command::Verify {
            model,
            proofs,
            weights_commitment,
            model_digest,
            json,
        } => proofs::verify(
            &model,
            &proofs,
            shared::Trusted {
                weights_commitment: weights_commitment.as_deref(),
                model_digest: model_digest.as_deref(),
            },
            json,
            cache,
        ),
        Command::CommitWeights { model, json } => weights::commit_weights(&model, json),
        Command::ExportVerifier {
            model,
            output,
            json,
        } => weights::export_verifier(&model, &output, json),
        Command::Inspect { model, json } => report::inspect(&model, json),
        Command::Open {
            model,
            openings,
            proof,
            json,
        } => open::open(&model, &openings, proof.as_deref(), json, cache),
        Command::Accuracy { model, eval, json } => report::accuracy(&model, &eval, json),
        Command::Serve(flags) => serve::run(flags, cache),
    }
}

fn compile(
    model: &Path,
    calibration: &Path,
    options: &CompileOptions,
    output: &Path,
    json: bool,
) -> Result<()> {
    check_output(output, &[model, calibration], false)?;
    let calibration = read_samples(calibration)?;
    // Warned before compiling: an outlier can make compilation itself fail.
    let warnings = api::calibration_warnings(&calibration);
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let api::Compiled {
        model: compiled,
        reference: check,
        samples,
        ..
    } = api::compile_file(model, calibration, options)?;
    compiled.save(output)?;
    if compiled.is_parted() {
        let summary = json!({ "calibration_samples": samples.len(), "reference": check, "warnings": warnings });
        return parts::compiled(model, output, &compiled, &check, summary, json);
    }
    let layout = compiled.layout()?;
    if json {
        let error = compiled
            .quant_report
            .as_ref()
            .map_or(0.0, |r| r.max_output_error);
        out!(
            "{}",
            json!({
                "ok": true, "model": output, "nodes": compiled.graph.nodes.len(), "k": layout.k,
                "dot_width": layout.dot_width, "rows": layout.rows,
                "max_output_error": error, "calibration_samples": samples.len(),
                "quant_report": compiled.quant_report,
                "reference": check, "warnings": warnings,
            })
        );
    } else {
        out!(
            "compiled {} -> {}: {} nodes, k = {}, dot width {}",
            model.display(),
            output.display(),
            compiled.graph.nodes.len(),
            layout.k,
            layout.dot_width,
        );
        if let Some(q) = &compiled.quant_report {
            out!("{q}");
        }
        out!("{check}");
    }
    Ok(())
}
