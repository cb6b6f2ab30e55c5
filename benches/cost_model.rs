//! Calibrates and checks the cost model (`src/cost.rs`): proves each reference model at every
//! dot-product width, fits `t = FIXED + 2^k · (BASE + SLOT · w)` by least squares to the
//! medians, and
//! prints every measurement next to the model's prediction (with the constants in the code)
//! and the width the compiler picks.
//!
//! ```text
//! cargo bench --bench cost_model               # digits models (about two minutes)
//! cargo bench --bench cost_model -- lenet5     # LeNet-5 too (several minutes more)
//! ```
#![expect(
    clippy::expect_used,
    reason = "bench harness: a failure aborts the run"
)]

use std::path::Path;
use std::time::Instant;

use zkinfer::circuit::cost::Shape;
use zkinfer::circuit::DOT_WIDTHS;
use zkinfer::{input, onnx, CompileOptions, CompiledModel, ParamsCache, Prover};

const RUNS: usize = 3;

fn main() {
    let with_lenet = std::env::args().any(|a| a == "lenet5");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let cache = ParamsCache::from_env();
    let mut models = vec![
        ("digits_mlp", "eval"),
        ("digits_cnn", "eval"),
        ("digits_mlp_tanh_sigmoid", "eval"),
    ];
    if with_lenet {
        models.push(("lenet5", "input"));
    }
    // (2^k, width, seconds)
    let mut points: Vec<(f64, f64, f64)> = Vec::new();
    println!("| model | width | k | measured prove (median of {RUNS}) | predicted | chosen |");
    println!("|---|---|---|---|---|---|");
    for (name, calibration) in models {
        let graph = onnx::import(&data.join(format!("{name}.onnx"))).expect("model imports");
        let samples = input::read_samples(&data.join(format!("{name}.{calibration}.json")))
            .expect("calibration");
        let x = input::read_samples(&data.join(format!("{name}.input.json")))
            .expect("input")
            .remove(0);
        let chosen = CompiledModel::compile(&graph, &samples, &CompileOptions::default())
            .expect("compiles")
            .dot_width;
        for w in DOT_WIDTHS {
            let options = CompileOptions {
                dot_width: Some(w),
                ..CompileOptions::default()
            };
            let Ok(model) = CompiledModel::compile(&graph, &samples, &options) else {
                continue;
            };
            let layout = model.layout().expect("layout");
            if layout.k >= 16 {
                continue; // about a minute per proof, and never the cheapest
            }
            let prover = Prover::setup(model.clone(), &cache).expect("setup");
            let mut times: Vec<f64> = (0..RUNS)
                .map(|_| {
                    let start = Instant::now();
                    prover.prove(&x, false).expect("prove");
                    start.elapsed().as_secs_f64()
                })
                .collect();
            times.sort_by(f64::total_cmp);
            let median = times[RUNS / 2];
            let predicted = Shape::of(&layout).predicted_seconds();
            points.push(((1u64 << layout.k) as f64, w as f64, median));
            let mark = if w == chosen { "yes" } else { "" };
            println!(
                "| {name} | {w} | {} | {median:.3} s | {predicted:.3} s | {mark} |",
                layout.k
            );
        }
    }
    // Least squares for t = fixed + rows · (base + slot · w): normal equations, 3 × 3.
    let features: Vec<[f64; 3]> = points.iter().map(|(r, w, _)| [1.0, *r, r * w]).collect();
    let mut a = [[0f64; 4]; 3];
    for (f, (_, _, t)) in features.iter().zip(&points) {
        for i in 0..3 {
            for j in 0..3 {
                a[i][j] += f[i] * f[j];
            }
            a[i][3] += f[i] * t;
        }
    }
    for col in 0..3 {
        let pivot = a[col][col];
        for row in 0..3 {
            if row != col {
                let factor = a[row][col] / pivot;
                let pivot_row = a[col];
                for (x, p) in a[row].iter_mut().zip(pivot_row).skip(col) {
                    *x -= factor * p;
                }
            }
        }
    }
    let [fixed, base, slot] = [0, 1, 2].map(|i| a[i][3] / a[i][i]);
    println!(
        "\nfit: FIXED_SECONDS = {fixed:.3e}, BASE_PER_ROW = {base:.3e}, SLOT_PER_ROW = {slot:.3e}"
    );
}
