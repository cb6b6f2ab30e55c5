//! Proving in parts from the command line: compile with cuts, inspect, prove every part or
//! one part per machine under a shared link seed, assemble, verify, and the errors a user
//! meets on the way.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use common::cli::{fails, ok, s};
use common::data;

#[test]
fn cli_proves_a_model_in_parts_whole_or_part_by_part() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("cnn.zkm");
    let onnx = data("digits_cnn.onnx");
    let calibration = data("digits_cnn.eval.json");
    let input = data("digits_cnn.input.json");
    let out = ok(&[
        "compile",
        s(&onnx),
        "--calibration",
        s(&calibration),
        "--cut-before",
        "1,3",
        "-o",
        s(&model),
    ]);
    assert!(out.contains("4 nodes in 3 parts"), "{out}");
    let inspect = ok(&["inspect", s(&model)]);
    assert!(inspect.contains("part 2: nodes 3..4"), "{inspect}");
    assert!(
        inspect.contains("3 parts linked by Poseidon commitments"),
        "{inspect}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&ok(&["inspect", s(&model), "--json"])).unwrap();
    assert_eq!(report["parts"].as_array().unwrap().len(), 3);
    assert_eq!(report["parts"][1]["input_values"], 256);

    // Every part here, then verified.
    let proof = dir.path().join("proof.json");
    let out = ok(&["prove", s(&model), "--input", s(&input), "-o", s(&proof)]);
    assert!(out.contains("proof in 3 parts"), "{out}");
    let verified = ok(&["verify", s(&model), s(&proof)]);
    assert!(
        verified.contains("valid proof") && verified.contains("3 parts, every link matched"),
        "{verified}"
    );
    let whole = dir.path().join("whole.zkm");
    ok(&[
        "compile",
        s(&onnx),
        "--calibration",
        s(&calibration),
        "-o",
        s(&whole),
    ]);
    let whole_proof = dir.path().join("whole.json");
    ok(&[
        "prove",
        s(&whole),
        "--input",
        s(&input),
        "-o",
        s(&whole_proof),
    ]);
    let outputs = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("outputs:"))
            .unwrap()
            .to_string()
    };
    assert_eq!(
        outputs(&verified),
        outputs(&ok(&["verify", s(&whole), s(&whole_proof)])),
        "the parts prove the model's outputs"
    );

    // One part per "machine", under one seed, then assembled.
    let seed = "5a".repeat(32);
    let parts: Vec<_> = (0..3)
        .map(|i| dir.path().join(format!("part{i}.json")))
        .collect();
    for (i, part) in parts.iter().enumerate() {
        let n = i.to_string();
        let out = ok(&[
            "prove",
            s(&model),
            "--input",
            s(&input),
            "--part",
            &n,
            "--link-seed",
            &seed,
            "-o",
            s(part),
        ]);
        assert!(out.contains(&format!("part {i} of 3")), "{out}");
    }
    let assembled = dir.path().join("assembled.json");
    let mut args = vec!["assemble", s(&model)];
    args.extend(parts.iter().map(|p| s(p)));
    args.extend(["-o", s(&assembled)]);
    ok(&args);
    assert_eq!(
        outputs(&ok(&["verify", s(&model), s(&assembled)])),
        outputs(&verified)
    );

    // Mistakes, each named.
    let e = fails(&[
        "prove",
        s(&model),
        "--input",
        s(&input),
        "--part",
        "1",
        "-o",
        s(&parts[1]),
    ]);
    assert!(e.contains("--link-seed"), "{e}");
    let e = fails(&[
        "assemble",
        s(&model),
        s(&parts[0]),
        s(&parts[1]),
        "-o",
        s(&assembled),
    ]);
    assert!(
        e.contains("2 part proofs given; the model is proven in 3 parts"),
        "{e}"
    );
    let swapped = dir.path().join("swapped.json");
    ok(&[
        "assemble",
        s(&model),
        s(&parts[1]),
        s(&parts[0]),
        s(&parts[2]),
        "-o",
        s(&swapped),
    ]);
    let e = fails(&["verify", s(&model), s(&swapped)]);
    assert!(e.contains("part 0") && e.contains("is part 1's"), "{e}");
    // A part proven under another seed does not link.
    let stray = dir.path().join("stray.json");
    ok(&[
        "prove",
        s(&model),
        "--input",
        s(&input),
        "--part",
        "1",
        "--link-seed",
        &"77".repeat(32),
        "-o",
        s(&stray),
    ]);
    let mixed = dir.path().join("mixed.json");
    ok(&[
        "assemble",
        s(&model),
        s(&parts[0]),
        s(&stray),
        s(&parts[2]),
        "-o",
        s(&mixed),
    ]);
    let e = fails(&["verify", s(&model), s(&mixed)]);
    assert!(
        e.contains("the link from part 0 to part 1 does not match"),
        "{e}"
    );
    let e = fails(&[
        "prove",
        s(&whole),
        "--input",
        s(&input),
        "--part",
        "0",
        "-o",
        s(&stray),
    ]);
    assert!(e.contains("proven whole"), "{e}");
    let e = fails(&[
        "compile",
        s(&onnx),
        "--calibration",
        s(&calibration),
        "--cut-before",
        "0",
        "-o",
        s(&stray),
    ]);
    assert!(e.contains("not increasing node indices"), "{e}");
    let out = common::cli::zkinfer(&[
        "compile",
        s(&onnx),
        "--calibration",
        s(&calibration),
        "--memory-budget",
        "8 parsecs",
        "-o",
        s(&stray),
    ]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && e.contains("unknown size unit 'parsecs'"),
        "{e}"
    );
}

/// Issue 27: one `--link-seed` salted every sample of a multi-sample prove alike, so equal
/// inputs had equal hashed-input commitments (linkable, and one opening would open the
/// others). Each sample now gets its own seed, derived from the given one and its index:
/// the commitments differ, whole or part by part, and each proof still verifies.
#[test]
fn a_link_seed_salts_each_sample_apart() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("cnn.zkm");
    ok(&[
        "compile",
        s(&data("digits_cnn.onnx")),
        "--calibration",
        s(&data("digits_cnn.eval.json")),
        "--cut-before",
        "2",
        "--input-visibility",
        "hashed",
        "-o",
        s(&model),
    ]);
    let sample: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data("digits_cnn.input.json")).unwrap())
            .unwrap();
    let one = sample["input_data"][0].clone();
    let twice = dir.path().join("twice.json");
    std::fs::write(
        &twice,
        serde_json::json!({ "input_data": [one, one] }).to_string(),
    )
    .unwrap();
    let seed = "3c".repeat(32);
    let commitment = |path: &std::path::Path| {
        let proof: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let first = if proof["parts"].is_array() {
            &proof["parts"][0]
        } else {
            &proof
        };
        first["input_commitment"].as_str().unwrap().to_owned()
    };
    let whole = dir.path().join("whole");
    let report: serde_json::Value = serde_json::from_str(&ok(&[
        "prove",
        s(&model),
        "--input",
        s(&twice),
        "--link-seed",
        &seed,
        "-o",
        s(&whole),
        "--json",
    ]))
    .unwrap();
    // Each part's keys built once for both samples; each sample's witness and proof per part.
    assert_eq!(report["keys_s"].as_array().unwrap().len(), 2, "{report}");
    for proof in report["proofs"].as_array().unwrap() {
        let parts = proof["part_s"].as_array().unwrap();
        assert_eq!(parts.len(), 2, "{report}");
        assert!(
            parts.iter().all(|p| p["proof_s"].as_f64().unwrap() > 0.0),
            "{report}"
        );
    }
    let (a, b) = (whole.join("proof-0.json"), whole.join("proof-1.json"));
    assert_ne!(
        commitment(&a),
        commitment(&b),
        "two inferences share a salt"
    );
    ok(&["verify", s(&model), s(&a), s(&b)]);
    let part = dir.path().join("part0");
    ok(&[
        "prove",
        s(&model),
        "--input",
        s(&twice),
        "--part",
        "0",
        "--link-seed",
        &seed,
        "-o",
        s(&part),
    ]);
    let (c, d) = (part.join("proof-0.json"), part.join("proof-1.json"));
    assert_ne!(
        commitment(&c),
        commitment(&d),
        "two inferences share a salt"
    );
    // Machines proving parts of the same samples agree on each sample's seed.
    assert_eq!(commitment(&c), commitment(&a));
}
