//! What keys cost a model proven in parts, per distinct shape against per part: the verifying
//! keys a cold `zkinfer verify` rebuilds (`PartedVerifier::setup`, one per shape) and the
//! proving keys a first `prove` builds (one per shape, each dropped before the next, as
//! `prove` holds them), for each model given. Compile one model with hashed params twice, with
//! and without `--key-per-part`, to set sharing beside a key per part.
//!
//! ```text
//! zkinfer compile gpt2_l2.onnx --calibration gpt2_l2.input.json --param-visibility hashed \
//!     --memory-budget 8GiB -o shared.zkm          # and again with --key-per-part -o own.zkm
//! cargo run --release --example shape_keys -- shared.zkm own.zkm
//! ```
//!
//! Prints one JSON line per model: parts, shapes, the seconds of each verifying-key and
//! proving-key build, and their totals.

use std::path::PathBuf;
use std::time::Instant;

use serde_json::json;
use zkinfer::{CompiledModel, ParamsCache, PartedVerifier, ProvingKeys, Shapes};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let paths: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if paths.is_empty() {
        return Err("usage: shape_keys MODEL.zkm [MODEL.zkm ...]".into());
    }
    let cache = ParamsCache::from_env();
    for path in paths {
        let model = CompiledModel::load(&path)?;
        let parts = model.part_models()?;
        let shapes = Shapes::of(&parts);
        // Parameters first, for every k the parts need: not what is measured here.
        for part in &parts {
            cache.get(part.layout()?.k)?;
        }
        let t = Instant::now();
        PartedVerifier::setup(&model, &cache)?;
        let verifier_s = t.elapsed().as_secs_f64();
        let mut proving_s = Vec::new();
        for s in 0..shapes.digests.len() {
            let first = shapes.parts_of(s).next().ok_or("a shape without parts")?;
            let t = Instant::now();
            drop(ProvingKeys::build(&parts[first], &cache)?);
            proving_s.push(t.elapsed().as_secs_f64());
        }
        let of_part: Vec<f64> = shapes.of_part.iter().map(|&s| proving_s[s]).collect();
        println!(
            "{}",
            json!({
                "model": path,
                "parts": parts.len(),
                "shapes": shapes.digests.len(),
                "parts_of_shape": (0..shapes.digests.len())
                    .map(|s| shapes.parts_of(s).collect::<Vec<_>>())
                    .collect::<Vec<_>>(),
                "verifier_setup_s": verifier_s,
                "proving_keys_s_per_shape": proving_s,
                "proving_keys_s": proving_s.iter().sum::<f64>(),
                "proving_keys_s_if_one_per_part": of_part.iter().sum::<f64>(),
            })
        );
    }
    Ok(())
}
