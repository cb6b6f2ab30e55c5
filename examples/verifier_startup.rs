//! Where a cold verification's time goes: the parameters, the verifying key rebuilt (halo2
//! 0.4 cannot serialise it), and within the key the commitments to the permutation
//! argument's columns (dense) and to the fixed columns (small integers, mostly zeros), each
//! measured and set beside the cost model's prediction (`inspect`'s predicted verifying
//! times).
//!
//! ```text
//! zkinfer compile tests/data/lenet5.onnx --calibration tests/data/lenet5.input.json -o lenet5.zkm
//! cargo run --release --example verifier_startup -- lenet5.zkm
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use halo2_proofs::poly::commitment::Blind;
use halo2_proofs::poly::EvaluationDomain;
use pasta_curves::Fp;
use zkinfer::circuit::cost::{self, FIXED_COMMITMENT_SHARE};
use zkinfer::{CompiledModel, ParamsCache, Verifier};

/// Median seconds of `runs` calls of `f`.
fn median(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path: PathBuf = std::env::args_os()
        .nth(1)
        .ok_or("usage: verifier_startup MODEL.zkm")?
        .into();
    let model = Arc::new(CompiledModel::load(&path)?);
    let shape = cost::Shape::of(&model.layout()?);
    let k = shape.k;
    let cache = ParamsCache::from_env();
    let mut params = None;
    let load = median(3, || params = Some(cache.get(k)));
    let params = params.ok_or("no run")??;

    // One column's commitment, as `keygen_vk` makes it: dense field elements (like a
    // permutation polynomial's), and small integers (like a weight column's).
    let domain = EvaluationDomain::<Fp>::new(1, k);
    let mut dense = domain.empty_lagrange();
    let mut small = domain.empty_lagrange();
    let mut x = Fp::from(5);
    for (i, (d, s)) in dense.iter_mut().zip(small.iter_mut()).enumerate() {
        x = x.square() + Fp::from(7);
        *d = x;
        *s = Fp::from((i % 511) as u64);
    }
    let dense_s = median(5, || {
        std::hint::black_box(params.commit_lagrange(&dense, Blind::default()));
    });
    let small_s = median(5, || {
        std::hint::black_box(params.commit_lagrange(&small, Blind::default()));
    });
    let mut built = Ok(());
    let key_s = median(3, || {
        built = Verifier::from_params(model.clone(), params.clone()).map(drop);
    });
    built?;

    let (eq, fixed) = (shape.equality as f64, shape.fixed as f64);
    println!(
        "{}: k = {k}, {eq} equality-enabled columns, {fixed} fixed columns",
        path.display()
    );
    println!("| step | measured | predicted |");
    println!("|---|---|---|");
    let row = |name: &str, measured: f64, predicted: f64| {
        println!("| {name} | {measured:.3} s | {predicted:.3} s |");
    };
    row(
        "parameters (read, digest, decode)",
        load,
        shape.predicted_params_seconds(),
    );
    row("one dense commitment", dense_s, cost::msm_seconds(k));
    row(
        "one small-integer commitment",
        small_s,
        cost::msm_seconds(k) * FIXED_COMMITMENT_SHARE,
    );
    row(
        "verifying key rebuilt",
        key_s,
        shape.predicted_key_seconds(),
    );
    println!(
        "\npermutation commitments (equality columns x dense): {:.2} s of the key's {key_s:.2} s ({:.0} %)",
        eq * dense_s,
        100.0 * eq * dense_s / key_s
    );
    println!(
        "fixed-column commitments (fixed columns x small): {:.2} s ({:.0} %); the rest (synthesis, selectors): {:.2} s",
        fixed * small_s,
        100.0 * fixed * small_s / key_s,
        key_s - eq * dense_s - fixed * small_s
    );
    Ok(())
}
