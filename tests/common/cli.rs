//! Running the `zkinfer` binary from the integration tests.

use std::path::Path;
use std::process::{Command, Output};

pub fn zkinfer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zkinfer"))
        .args(args)
        .env("ZKINFER_PARAMS_DIR", super::cache().dir())
        .output()
        .unwrap()
}

pub fn ok(args: &[&str]) -> String {
    let out = zkinfer(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a failing command and returns its one-line reason.
pub fn fails(args: &[&str]) -> String {
    let out = zkinfer(args);
    assert!(!out.status.success(), "{args:?} succeeded");
    let err = String::from_utf8(out.stderr).unwrap();
    let line = err.lines().last().unwrap_or_default().to_string();
    assert!(line.starts_with("error: "), "{err}");
    line
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Splits a bundled evaluation set in two: the first half calibrates, the second half
/// (samples the model never saw while choosing its scales) measures accuracy.
pub fn split(dir: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let eval: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(super::data(&format!("{name}.eval.json"))).unwrap(),
    )
    .unwrap();
    let half = eval["inputs"].as_array().unwrap().len() / 2;
    let part = |key: &str, from: usize, to: usize| {
        serde_json::Value::from(eval[key].as_array().unwrap()[from..to].to_vec())
    };
    let n = 2 * half;
    let calibration = dir.join(format!("{name}.calibration.json"));
    std::fs::write(
        &calibration,
        serde_json::json!({ "inputs": part("inputs", 0, half) }).to_string(),
    )
    .unwrap();
    let held_out = dir.join(format!("{name}.held-out.json"));
    std::fs::write(
        &held_out,
        serde_json::json!({
            "inputs": part("inputs", half, n),
            "labels": part("labels", half, n),
            "float_logits": part("float_logits", half, n),
        })
        .to_string(),
    )
    .unwrap();
    (calibration, held_out)
}

/// How many positions of `logits` (a JSON array, `vocab` values per position) pick the
/// token `NAME.expected.json` records as onnxruntime's `argmax`; and the positions.
pub fn top1_agreement(logits: &serde_json::Value, name: &str, vocab: usize) -> (usize, usize) {
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(super::data(&format!("{name}.expected.json"))).unwrap(),
    )
    .unwrap();
    let logits: Vec<f64> = logits
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let want: Vec<usize> = expected["argmax"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(logits.len(), vocab * want.len());
    let agree = logits
        .chunks(vocab)
        .zip(&want)
        .filter(|(row, w)| zkinfer::input::argmax(row) == Some(**w))
        .count();
    (agree, want.len())
}
