//! Prints the digests of `Params::new(k)` for `k = FROM..=TO` (default `1..=20`), the table
//! that `zkinfer::api::PINNED_PARAMS` pins. Parameters are deterministic, so this prints the
//! same on every machine: `cargo run --release --example pin_params -- 1 20`.

use halo2_proofs::poly::commitment::Params;
use pasta_curves::EqAffine;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = |i: usize, default: u32| std::env::args().nth(i).map_or(Ok(default), |a| a.parse());
    for k in arg(1, 1)?..=arg(2, 20)? {
        let mut bytes = Vec::new();
        Params::<EqAffine>::new(k).write(&mut bytes)?;
        println!(
            "    \"{}\", // k = {k}",
            zkinfer::api::params_digest(&bytes)
        );
    }
    Ok(())
}
