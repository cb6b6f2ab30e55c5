//! What fusing elementwise chains saves (issue 29): a model imported with and without
//! `graph::fuse`, compiled on the same calibration samples, its rows by op kind and in all,
//! `k`, the predicted proving time and the max output error on those samples.
//!
//!     cargo run --release --example fusion_cost -- tests/data/gpt2_l2.onnx tests/data/gpt2_l2.eval.json
use std::collections::BTreeMap;
use std::path::Path;

use zkinfer::onnx::{import_with, ImportOptions};
use zkinfer::{CompileOptions, CompiledModel};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, calibration] = &args[..] else {
        return Err("usage: fusion_cost MODEL.onnx CALIBRATION.json".into());
    };
    let samples = zkinfer::input::read_samples(Path::new(calibration))?;
    for fuse in [false, true] {
        let graph = import_with(Path::new(model), ImportOptions { fuse })?;
        let compiled = CompiledModel::compile(&graph, &samples, &CompileOptions::default())?;
        let report = compiled.inspect()?;
        let mut by_op: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
        for node in &report.nodes {
            let e = by_op.entry(node.op.clone()).or_default();
            e.0 += 1;
            e.1 += node.rows.elementwise + node.rows.dot;
            e.2 += node.rows.range;
        }
        let error = report
            .quant_report
            .as_ref()
            .map_or(f64::NAN, |q| q.max_output_error);
        println!(
            "fuse = {fuse}: {} float nodes, {} rows, k = {}, predicted {:.1} s, max |float - quantised| {error:.4}",
            graph.nodes.len(),
            report.rows,
            report.k,
            report.predicted_prove_s
        );
        for (op, (n, rows, range)) in by_op {
            if rows + range > 0 {
                println!("  {op:28} {n:4} nodes {rows:8} gate rows {range:8} range rows");
            }
        }
    }
    Ok(())
}
