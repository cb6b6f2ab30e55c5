//! Criterion benches of the pipeline on each bundled reference model, grouped by stage:
//! witness generation, key generation, proving, verification (single and batched), and
//! witness generation and proving at 1, 2, 4, 8, 16 threads (as far as the machine has
//! cores). Proof size is printed next to the timings.
//!
//! ```text
//! cargo bench --bench pipeline                  # every model (LeNet-5 takes minutes)
//! cargo bench --bench pipeline -- digits_cnn    # one model
//! cargo bench --bench pipeline -- witness/      # witness generation only
//! cargo bench --bench pipeline -- _threads      # scaling with threads only
//! ```
#![expect(
    clippy::expect_used,
    reason = "bench harness: a failure aborts the run"
)]
#![expect(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]

use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use zkinfer::{input, onnx, CompileOptions, CompiledModel, ParamsCache, Prover, Verifier};

/// The bundled reference models, with the file that calibrates each (LeNet-5 has no
/// evaluation set: its one input calibrates it).
const MODELS: &[(&str, &str)] = &[
    ("digits_mlp", "eval"),
    ("digits_cnn", "eval"),
    ("digits_mlp_tanh_sigmoid", "eval"),
    ("lenet5", "input"),
];

fn model(name: &str, calibration: &str) -> (CompiledModel, Vec<f32>) {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let graph = onnx::import(&data.join(format!("{name}.onnx"))).expect("bundled model imports");
    let calibration = input::read_samples(&data.join(format!("{name}.{calibration}.json")))
        .expect("calibration set");
    let sample = input::read_samples(&data.join(format!("{name}.input.json")))
        .expect("input")
        .remove(0);
    let model =
        CompiledModel::compile(&graph, &calibration, &CompileOptions::default()).expect("compiles");
    (model, sample)
}

fn pipeline(c: &mut Criterion) {
    let cache = ParamsCache::from_env();
    for (name, calibration) in MODELS {
        let (model, sample) = model(name, calibration);
        let x = model
            .quantise_input(&sample, false)
            .expect("input in range");

        let mut group = c.benchmark_group(format!("witness/{name}"));
        for (threads, pool) in pools() {
            group.bench_function(format!("{threads}_threads"), |b| {
                b.iter(|| pool.install(|| model.witness(&x).expect("witness")))
            });
        }
        group.finish();

        let params = cache
            .get(model.layout().expect("layout").k)
            .expect("params");
        let model = std::sync::Arc::new(model);
        let mut group = c.benchmark_group(*name);
        group
            .sample_size(10)
            .measurement_time(Duration::from_secs(10));
        group.bench_function("keygen", |b| {
            b.iter(|| Prover::from_params(model.clone(), params.clone()).expect("keygen"))
        });
        let prover = Prover::from_params(model.clone(), params.clone()).expect("keygen");
        let bundle = prover.prove_integer(&x).expect("prove");
        let verifier = Verifier::from_params(model.clone(), params).expect("vk");
        verifier
            .verify(&bundle)
            .expect("the proof verifies before timing");
        println!("{name} proof size: {} bytes", bundle.proof.len() / 2);
        group.bench_function("prove", |b| {
            b.iter(|| prover.prove_integer(&x).expect("prove"))
        });
        // Proving (witness, synthesis, FFTs, MSMs: halo2 runs on rayon) at each thread count.
        for (threads, pool) in pools() {
            group.bench_function(format!("prove_{threads}_threads"), |b| {
                b.iter(|| pool.install(|| prover.prove_integer(&x).expect("prove")))
            });
        }
        group.bench_function("verify", |b| {
            b.iter(|| verifier.verify(&bundle).expect("verify"))
        });
        let batch = vec![bundle; 8];
        group.bench_function("verify_batch_8", |b| {
            b.iter(|| verifier.verify_batch(&batch).expect("batch"))
        });
        group.finish();
    }
}

/// A rayon pool for 1, 2, 4, 8 and 16 threads, as far as this machine has cores, and for
/// all of them.
fn pools() -> Vec<(usize, rayon::ThreadPool)> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut counts: Vec<usize> = [1, 2, 4, 8, 16]
        .into_iter()
        .filter(|&t| t < cores)
        .collect();
    counts.push(cores);
    counts
        .into_iter()
        .map(|threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool");
            (threads, pool)
        })
        .collect()
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
