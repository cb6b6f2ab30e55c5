//! The model owner's and the client's commitment flows on the command line (issue 12):
//! compile with hashed visibilities, prove (the openings land beside the proof), verify
//! (commitments shown, hashed outputs not), and `open` the commitments later.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use common::cli::{fails, ok, s};

/// A well-formed commitment other than `c` (its first byte changed).
fn another_commitment(c: &str) -> String {
    let first = if c.starts_with("00") { "01" } else { "00" };
    format!("{first}{}", &c[2..])
}

#[test]
fn cli_hashed_input_and_outputs_prove_verify_and_open() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.zkm");
    let onnx = common::data("digits_mlp.onnx");
    let eval = common::data("digits_mlp.eval.json");
    let input = common::data("digits_mlp.input.json");
    ok(&[
        "compile",
        s(&onnx),
        "--calibration",
        s(&eval),
        "--input-visibility",
        "hashed",
        "--output-visibility",
        "hashed",
        "-o",
        s(&model),
    ]);
    let inspected = ok(&["inspect", s(&model)]);
    assert!(
        inspected.contains("input hashed, output hashed"),
        "{inspected}"
    );
    assert!(inspected.contains("input commitment"), "{inspected}");

    let proof = dir.path().join("p.json");
    let proved = ok(&["prove", s(&model), "--input", s(&input), "-o", s(&proof)]);
    let openings = dir.path().join("p.openings.json");
    assert!(proved.contains("openings written to"), "{proved}");
    assert!(proved.contains("output commitment: "), "{proved}");
    assert!(
        !proved.contains("outputs: ["),
        "hashed outputs are not printed: {proved}"
    );

    let verified = ok(&["verify", s(&model), s(&proof)]);
    assert!(verified.contains("valid proof"), "{verified}");
    assert!(verified.contains("input commitment: "), "{verified}");
    let opened = ok(&["open", s(&model), s(&openings), "--proof", s(&proof)]);
    assert!(
        opened.contains("valid proof, carrying these commitments"),
        "{opened}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["open", s(&model), s(&openings), "--json"])).unwrap();
    assert_eq!(json["valid"], true);
    assert_eq!(json["openings"][0]["tensor"], "input");
    assert_eq!(json["openings"][1]["values"].as_array().unwrap().len(), 10);

    // An edited opening, or a proof of another run, is refused naming what disagrees.
    let mut edited: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&openings).unwrap()).unwrap();
    edited["openings"][0]["values"][0] = serde_json::json!(7);
    let forged = dir.path().join("forged.openings.json");
    std::fs::write(&forged, edited.to_string()).unwrap();
    let err = fails(&["open", s(&model), s(&forged)]);
    assert!(err.contains("opening of the input does not match"), "{err}");
    let other = dir.path().join("q.json");
    ok(&["prove", s(&model), "--input", s(&input), "-o", s(&other)]);
    let err = fails(&["open", s(&model), s(&openings), "--proof", s(&other)]);
    assert!(err.contains("commitment is"), "{err}");
    let err = fails(&[
        "compile",
        s(&onnx),
        "--calibration",
        s(&eval),
        "--param-visibility",
        "public",
        "-o",
        s(&dir.path().join("w.zkm")),
    ]);
    assert!(
        err.contains("params visibility 'public' is not supported"),
        "{err}"
    );
}

/// The model owner compiles with hashed params, publishes the commitment and a verifier
/// file; anyone verifies with the file alone (and the announced commitment); a verifier
/// file cannot prove, and another commitment refuses the proof. `onnx`, `calibration` and
/// `input` name files in `tests/data`.
fn hashed_params_flow(onnx: &str, calibration: &str, input: &str) {
    let dir = tempfile::tempdir().unwrap();
    let owner = dir.path().join("owner.zkm");
    let file = dir.path().join("v.zkm");
    let input = common::data(input);
    ok(&[
        "compile",
        s(&common::data(onnx)),
        "--calibration",
        s(&common::data(calibration)),
        "--param-visibility",
        "hashed",
        "-o",
        s(&owner),
    ]);
    let inspected = ok(&["inspect", s(&owner)]);
    assert!(inspected.contains("parameters hashed"), "{inspected}");
    assert!(inspected.contains("params commitment"), "{inspected}");
    let commitment = ok(&["commit-weights", s(&owner)]).trim().to_owned();
    assert_eq!(commitment.len(), 64, "{commitment}");
    let exported = ok(&["export-verifier", s(&owner), "-o", s(&file)]);
    assert!(exported.contains(&commitment), "{exported}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["commit-weights", s(&file), "--json"])).unwrap();
    assert_eq!(json["weights_commitment"], commitment.as_str());
    assert_eq!(json["verifier_file"], true);

    let proof = dir.path().join("p.json");
    ok(&["prove", s(&owner), "--input", s(&input), "-o", s(&proof)]);
    let verified: serde_json::Value = serde_json::from_str(&ok(&[
        "verify",
        s(&file),
        s(&proof),
        "--weights-commitment",
        &commitment,
        "--json",
    ]))
    .unwrap();
    assert_eq!(verified["valid"], true);
    assert_eq!(
        verified["weights_commitment"],
        commitment.as_str(),
        "{verified}"
    );
    let text = ok(&["verify", s(&file), s(&proof)]);
    assert!(
        text.contains(&format!("weights commitment: {commitment}")),
        "{text}"
    );
    // Without --weights-commitment, verify says which commitment it trusted from the file.
    let out = common::cli::zkinfer(&["verify", s(&file), s(&proof)]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains(&format!(
            "weights commitment the model file records, {commitment}"
        )),
        "{said}"
    );
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::data(&onnx.replace(".onnx", ".expected.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(verified["argmax"], expected["argmax"]);

    // Another announced commitment: the proof was made with other weights.
    let other = another_commitment(&commitment);
    let err = fails(&[
        "verify",
        s(&file),
        s(&proof),
        "--weights-commitment",
        &other,
    ]);
    assert!(err.contains("other weights"), "{err}");
    let err = fails(&["verify", s(&file), s(&proof), "--weights-commitment", "xyz"]);
    assert!(err.contains("--weights-commitment"), "{err}");
    let err = fails(&["prove", s(&file), "--input", s(&input), "-o", s(&proof)]);
    assert!(err.contains("verifier file"), "{err}");
    // A model with fixed params has nothing to commit or export.
    let plain = dir.path().join("plain.zkm");
    ok(&[
        "compile",
        s(&common::data(onnx)),
        "--calibration",
        s(&common::data(calibration)),
        "-o",
        s(&plain),
    ]);
    let err = fails(&["commit-weights", s(&plain)]);
    assert!(err.contains("--param-visibility hashed"), "{err}");
    let err = fails(&["export-verifier", s(&plain), "-o", s(&file)]);
    assert!(err.contains("--param-visibility hashed"), "{err}");
}

#[test]
fn cli_hashed_params_owner_and_verifier_flow() {
    hashed_params_flow(
        "digits_mlp.onnx",
        "digits_mlp.eval.json",
        "digits_mlp.input.json",
    );
}

/// A convolutional network with hashed params, verified from its verifier file.
#[test]
fn cli_proves_a_cnn_with_hashed_params() {
    hashed_params_flow(
        "digits_cnn.onnx",
        "digits_cnn.eval.json",
        "digits_cnn.input.json",
    );
}

/// LeNet-5 with hashed params (`k = 16`, about 5 minutes in the test profile): on demand
/// (TESTING.md), as the CNN above covers the same flow in CI.
#[test]
#[ignore = "slow: run with --ignored"]
fn cli_proves_lenet5_with_hashed_params() {
    hashed_params_flow("lenet5.onnx", "lenet5.input.json", "lenet5.input.json");
}

#[test]
fn cli_proves_a_cnn_with_a_hashed_input() {
    hashed_input_flow("digits_cnn", "digits_cnn.eval.json");
}

/// LeNet-5 with a hashed input and public outputs (slow: run with `--ignored`).
#[test]
#[ignore = "slow: run with --ignored"]
fn cli_proves_lenet5_with_a_hashed_input() {
    hashed_input_flow("lenet5", "lenet5.input.json");
}

/// A model compiled with a hashed input and public outputs: proven, verified (the proof shows
/// the input's commitment, not the input), and the commitment opened. `name` names the model's
/// files in `tests/data`.
fn hashed_input_flow(name: &str, calibration: &str) {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join(format!("{name}.zkm"));
    let input = common::data(&format!("{name}.input.json"));
    ok(&[
        "compile",
        s(&common::data(&format!("{name}.onnx"))),
        "--calibration",
        s(&common::data(calibration)),
        "--input-visibility",
        "hashed",
        "-o",
        s(&model),
    ]);
    let proof = dir.path().join("proof.json");
    ok(&["prove", s(&model), "--input", s(&input), "-o", s(&proof)]);
    let verified: serde_json::Value =
        serde_json::from_str(&ok(&["verify", s(&model), s(&proof), "--json"])).unwrap();
    assert_eq!(verified["valid"], true);
    assert_eq!(
        verified["input_commitment"].as_str().map(str::len),
        Some(64)
    );
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::data(&format!("{name}.expected.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(verified["argmax"], expected["argmax"]);
    let openings = dir.path().join("proof.openings.json");
    ok(&["open", s(&model), s(&openings), "--proof", s(&proof)]);
}

/// A model proven in parts with hashed params: the owner publishes one commitment for all
/// parts, the verifier file holds no hashed weights, and a verifier told another
/// commitment is refused before any proof is checked.
#[test]
fn cli_hashed_params_in_parts_owner_and_verifier_flow() {
    let dir = tempfile::tempdir().unwrap();
    let owner = dir.path().join("owner.zkm");
    let file = dir.path().join("verifier.zkm");
    let proof = dir.path().join("p.json");
    let input = common::data("digits_mlp.input.json");
    ok(&[
        "compile",
        s(&common::data("digits_mlp.onnx")),
        "--calibration",
        s(&common::data("digits_mlp.eval.json")),
        "--param-visibility",
        "hashed",
        "--cut-before",
        "1",
        "-o",
        s(&owner),
    ]);
    let inspected = ok(&["inspect", s(&owner)]);
    assert!(
        inspected.contains("hashed") && inspected.contains("weights commitment"),
        "{inspected}"
    );
    let commitment = ok(&["commit-weights", s(&owner)]).trim().to_owned();
    assert_eq!(commitment.len(), 64, "{commitment}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["commit-weights", s(&owner), "--json"])).unwrap();
    assert_eq!(json["parts"].as_array().unwrap().len(), 2);
    ok(&["export-verifier", s(&owner), "-o", s(&file)]);
    ok(&["prove", s(&owner), "--input", s(&input), "-o", s(&proof)]);
    let verified = ok(&[
        "verify",
        s(&file),
        s(&proof),
        "--weights-commitment",
        &commitment,
    ]);
    assert!(verified.contains("valid proof"), "{verified}");
    let other = another_commitment(&commitment);
    let err = fails(&[
        "verify",
        s(&file),
        s(&proof),
        "--weights-commitment",
        &other,
    ]);
    assert!(err.contains("not the published model"), "{err}");
    let err = fails(&["prove", s(&file), "--input", s(&input), "-o", s(&proof)]);
    assert!(err.contains("verifier file"), "{err}");
}
