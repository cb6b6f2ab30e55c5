//! The `zkinfer` binary: the README's CLI flow, and a clear one-line error (non-zero exit)
//! for each kind of bad input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use common::cli::{fails, ok, s, split, zkinfer};
use std::path::Path;
use std::process::Command;
use zkinfer::api::MODEL_FORMAT_VERSION;

fn compiled(dir: &Path) -> std::path::PathBuf {
    let model = dir.join("digits_mlp.zkm");
    let onnx = common::data("digits_mlp.onnx");
    let (calibration, _) = split(dir, "digits_mlp");
    ok(&[
        "compile",
        s(&onnx),
        "--calibration",
        s(&calibration),
        "-o",
        s(&model),
    ]);
    model
}

#[test]
fn cli_compile_prove_verify_inspect_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let model = compiled(dir.path());
    let proof = dir.path().join("proof.json");
    let input = common::data("digits_mlp.input.json");
    let proved: serde_json::Value = serde_json::from_str(&ok(&[
        "prove",
        s(&model),
        "--input",
        s(&input),
        "-o",
        s(&proof),
        "--json",
    ]))
    .unwrap();
    assert_eq!(proved["k"], 10);
    let verified: serde_json::Value =
        serde_json::from_str(&ok(&["verify", s(&model), s(&proof), "--json"])).unwrap();
    assert_eq!(verified["valid"], true);
    assert_eq!(verified["argmax"], 2);
    assert_eq!(verified["outputs"], proved["outputs"]);
    // Not only echoed back: the verified outputs are ONNX Runtime's logits, within the
    // quantisation error.
    let logits = verified["outputs_float"].as_array().unwrap();
    for (got, want) in logits.iter().zip(common::expected_logits()) {
        let got = got.as_f64().unwrap();
        assert!((got - want).abs() < 0.1, "{got} vs onnxruntime {want}");
    }
    let inspected: serde_json::Value =
        serde_json::from_str(&ok(&["inspect", s(&model), "--json"])).unwrap();
    assert_eq!(inspected["nodes"].as_array().unwrap().len(), 4);
    assert_eq!(inspected["lookups"], 2);
    // Cells: rows times each group's advice columns (fc1, per output: 64 inputs at width 8
    // = 8 dot rows of 9 cells, one division row of 5, range rows of 5 for the quotient and
    // the remainder).
    let fc1 = &inspected["nodes"][1];
    assert_eq!(fc1["name"], "fc1");
    assert_eq!(fc1["cells"], 32 * (8 * 9 + 5 + 2 * 5));
    assert!(ok(&["inspect", s(&model)]).contains("fc1"));
    let (_, held_out) = split(dir.path(), "digits_mlp");
    let acc: serde_json::Value =
        serde_json::from_str(&ok(&["accuracy", s(&model), s(&held_out), "--json"])).unwrap();
    // Issue 3: quantised accuracy equals the float model's on samples calibration never saw.
    assert_eq!(acc["quantised_accuracy"], acc["float_accuracy"]);
    assert!(acc["max_logit_error"].as_f64().unwrap() < 0.1);
}

/// Issue 4: the digits CNN (Conv, ReLU, AveragePool, Flatten, Gemm) through the CLI, with
/// quantised accuracy equal to float on its evaluation set and outputs within 0.25 of ONNX
/// Runtime's logits (about 1.5% of their range).
#[test]
fn cli_proves_the_digits_cnn() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("digits_cnn.zkm");
    let (calibration, eval) = split(dir.path(), "digits_cnn");
    ok(&[
        "compile",
        s(&common::data("digits_cnn.onnx")),
        "--calibration",
        s(&calibration),
        "-o",
        s(&model),
    ]);
    let proof = dir.path().join("proof.json");
    let input = common::data("digits_cnn.input.json");
    ok(&["prove", s(&model), "--input", s(&input), "-o", s(&proof)]);
    let verified: serde_json::Value =
        serde_json::from_str(&ok(&["verify", s(&model), s(&proof), "--json"])).unwrap();
    assert_eq!(verified["valid"], true);
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::data("digits_cnn.expected.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(verified["argmax"], expected["argmax"]);
    let outputs = verified["outputs_float"].as_array().unwrap();
    for (ours, onnx) in outputs
        .iter()
        .zip(expected["output"][0].as_array().unwrap())
    {
        let (a, b) = (ours.as_f64().unwrap(), onnx.as_f64().unwrap());
        assert!((a - b).abs() < 0.25, "{a} vs ONNX Runtime {b}");
    }
    let acc: serde_json::Value =
        serde_json::from_str(&ok(&["accuracy", s(&model), s(&eval), "--json"])).unwrap();
    assert_eq!(acc["quantised_accuracy"], acc["float_accuracy"]);
    let inspected = ok(&["inspect", s(&model)]);
    for op in ["Conv", "Relu", "AvgPool", "Dense"] {
        assert!(inspected.contains(op), "{inspected}");
    }
}

/// Issue 5: the digits MLP with Tanh and Sigmoid through the CLI, with quantised accuracy
/// equal to float on its evaluation set; `inspect` lists each table's size and error bound.
#[test]
fn cli_proves_the_tanh_sigmoid_mlp() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("ts.zkm");
    let (calibration, eval) = split(dir.path(), "digits_mlp_tanh_sigmoid");
    ok(&[
        "compile",
        s(&common::data("digits_mlp_tanh_sigmoid.onnx")),
        "--calibration",
        s(&calibration),
        "-o",
        s(&model),
    ]);
    let proof = dir.path().join("proof.json");
    let input = common::data("digits_mlp_tanh_sigmoid.input.json");
    ok(&["prove", s(&model), "--input", s(&input), "-o", s(&proof)]);
    let verified: serde_json::Value =
        serde_json::from_str(&ok(&["verify", s(&model), s(&proof), "--json"])).unwrap();
    assert_eq!(verified["valid"], true);
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::data("digits_mlp_tanh_sigmoid.expected.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(verified["argmax"], expected["argmax"]);
    let acc: serde_json::Value =
        serde_json::from_str(&ok(&["accuracy", s(&model), s(&eval), "--json"])).unwrap();
    assert_eq!(acc["quantised_accuracy"], acc["float_accuracy"]);
    let inspected: serde_json::Value =
        serde_json::from_str(&ok(&["inspect", s(&model), "--json"])).unwrap();
    let tables = inspected["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 2);
    for (table, function) in tables.iter().zip(["Tanh", "Sigmoid"]) {
        assert_eq!(table["function"], function);
        // Fitted to 9 bits: 10-bit tables would double 2^k (see tests/layout_choice.rs).
        assert_eq!(table["rows"], 512);
        assert!(table["error_bound"].as_f64().unwrap() < 0.04);
    }
    assert!(ok(&["inspect", s(&model)]).contains("error bound"));
}

/// LeNet-5 (two convolutions, two average pools, three dense layers; k = 14) through the
/// CLI. Slow (a minute in CI, parameters included), so behind `--ignored`; `.ci/run` runs it.
#[test]
#[ignore = "slow: run with --ignored"]
fn cli_proves_lenet5() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("lenet5.zkm");
    let input = common::data("lenet5.input.json");
    ok(&[
        "compile",
        s(&common::data("lenet5.onnx")),
        "--calibration",
        s(&input),
        "-o",
        s(&model),
    ]);
    let proof = dir.path().join("proof.json");
    ok(&["prove", s(&model), "--input", s(&input), "-o", s(&proof)]);
    let verified: serde_json::Value =
        serde_json::from_str(&ok(&["verify", s(&model), s(&proof), "--json"])).unwrap();
    assert_eq!(verified["valid"], true);
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::data("lenet5.expected.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(verified["argmax"], expected["argmax"]);
    let outputs = verified["outputs_float"].as_array().unwrap();
    for (ours, onnx) in outputs
        .iter()
        .zip(expected["output"][0].as_array().unwrap())
    {
        let (a, b) = (ours.as_f64().unwrap(), onnx.as_f64().unwrap());
        assert!((a - b).abs() < 0.02, "{a} vs ONNX Runtime {b}");
    }
}

#[test]
fn cli_malformed_onnx_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.onnx");
    std::fs::write(&bad, b"\x08\x07this is not a protobuf\xff\xff").unwrap();
    let eval = common::data("digits_mlp.eval.json");
    let out = dir.path().join("m.zkm");
    let line = fails(&["compile", s(&bad), "--calibration", s(&eval), "-o", s(&out)]);
    assert!(line.contains("bad.onnx"), "{line}");
    assert!(!out.exists(), "no partial model file");
}

#[test]
fn cli_unsupported_operator_names_op_and_node() {
    let dir = tempfile::tempdir().unwrap();
    let eval = common::data("digits_mlp.eval.json");
    let onnx = dir.path().join("selu.onnx");
    std::fs::write(&onnx, common::with_unsupported_op()).unwrap();
    let line = fails(&[
        "compile",
        s(&onnx),
        "--calibration",
        s(&eval),
        "-o",
        s(&dir.path().join("m.zkm")),
    ]);
    assert!(line.contains("unsupported operator Selu at node"), "{line}");
}

#[test]
fn cli_wrong_shape_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let model = compiled(dir.path());
    let input = dir.path().join("short.json");
    std::fs::write(&input, r#"{"input_data": [[0.5, 0.25, 1.0]]}"#).unwrap();
    let line = fails(&[
        "prove",
        s(&model),
        "--input",
        s(&input),
        "-o",
        s(&dir.path().join("p.json")),
    ]);
    assert!(
        line.contains("input has 3 values") && line.contains("takes 64"),
        "{line}"
    );
}

#[test]
fn cli_nan_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let model = compiled(dir.path());
    let input = dir.path().join("nan.json");
    std::fs::write(&input, r#"{"input_data": [[NaN, 0.5]]}"#).unwrap();
    let line = fails(&[
        "prove",
        s(&model),
        "--input",
        s(&input),
        "-o",
        s(&dir.path().join("p.json")),
    ]);
    assert!(
        line.contains("NaN") && line.contains("line 1, column"),
        "{line}"
    );
}

#[test]
fn cli_input_outside_calibrated_range_names_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let model = compiled(dir.path());
    let mut values = vec![0.0f32; 64];
    values[7] = 1000.0;
    let input = dir.path().join("big.json");
    std::fs::write(
        &input,
        serde_json::json!({ "input_data": [values] }).to_string(),
    )
    .unwrap();
    let proof = dir.path().join("p.json");
    let line = fails(&["prove", s(&model), "--input", s(&input), "-o", s(&proof)]);
    assert!(
        line.contains("[7] = 1000 ")
            && line.contains("calibrated range")
            && line.contains("--clamp"),
        "{line}"
    );
    assert!(!proof.exists());
}

#[test]
fn cli_truncated_proof_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let model = compiled(dir.path());
    let proof = dir.path().join("proof.json");
    std::fs::write(&proof, "{\"format_version\": 1, \"proof\": \"ab").unwrap();
    let line = fails(&["verify", s(&model), s(&proof)]);
    assert!(line.contains("not a proof bundle"), "{line}");
}

#[test]
fn cli_damaged_or_foreign_model_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let model = compiled(dir.path());
    let text = std::fs::read_to_string(&model).unwrap();
    let future = dir.path().join("future.zkm");
    std::fs::write(
        &future,
        text.replacen(
            &format!("\"format_version\":{MODEL_FORMAT_VERSION}"),
            "\"format_version\":99",
            1,
        ),
    )
    .unwrap();
    assert!(fails(&["inspect", s(&future)]).contains("format version 99"));
    let cut = dir.path().join("cut.zkm");
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    assert!(fails(&["inspect", s(&cut)]).contains("not a valid zkinfer model"));
}

#[test]
fn cli_proof_for_a_tampered_model_file_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let model = compiled(dir.path());
    let proof = dir.path().join("proof.json");
    let input = common::data("digits_mlp.input.json");
    ok(&["prove", s(&model), "--input", s(&input), "-o", s(&proof)]);
    // Change one bias of the model file: the verifier's key changes, the proof is refused.
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    let bias = &mut m["graph"]["nodes"][0]["op"]["Dense"]["bias"][0];
    *bias = serde_json::json!(bias.as_i64().unwrap() + 1);
    let tampered = dir.path().join("tampered.zkm");
    std::fs::write(&tampered, m.to_string()).unwrap();
    assert!(fails(&["verify", s(&tampered), s(&proof)]).contains("not for this model"));
}

/// Issue 27: a model file doctored where the circuit does not look (the output's scale) has
/// another identity; `verify --model-digest` refuses any file but the published one.
#[test]
fn verify_refuses_a_model_that_is_not_the_published_one() {
    let dir = tempfile::tempdir().unwrap();
    let model = compiled(dir.path());
    let proof = dir.path().join("proof.json");
    let input = common::data("digits_mlp.input.json");
    ok(&["prove", s(&model), "--input", s(&input), "-o", s(&proof)]);
    let report: serde_json::Value =
        serde_json::from_str(&ok(&["verify", s(&model), s(&proof), "--json"])).unwrap();
    let published = report["model_digest"].as_str().unwrap().to_owned();
    ok(&["verify", s(&model), s(&proof), "--model-digest", &published]);
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    let nodes = m["graph"]["nodes"].as_array_mut().unwrap();
    let scale = &mut nodes.last_mut().unwrap()["output"]["scale_exp"];
    *scale = serde_json::json!(scale.as_i64().unwrap() - 6);
    let doctored = dir.path().join("doctored.zkm");
    std::fs::write(&doctored, m.to_string()).unwrap();
    assert!(fails(&["verify", s(&doctored), s(&proof)]).contains("not for this model"));
    let e = fails(&[
        "verify",
        s(&doctored),
        s(&proof),
        "--model-digest",
        &published,
    ]);
    assert!(e.contains("not the published"), "{e}");
}

#[test]
fn cli_refuses_an_output_that_is_an_input_and_keeps_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let model = compiled(dir.path());
    let onnx = dir.path().join("m.onnx");
    std::fs::copy(common::data("digits_mlp.onnx"), &onnx).unwrap();
    let input = dir.path().join("x.json");
    std::fs::copy(common::data("digits_mlp.input.json"), &input).unwrap();
    let eval = common::data("digits_mlp.eval.json");
    let before = |p: &Path| std::fs::read(p).unwrap();
    let (onnx_bytes, model_bytes, input_bytes) = (before(&onnx), before(&model), before(&input));
    let err = fails(&[
        "compile",
        s(&onnx),
        "--calibration",
        s(&eval),
        "-o",
        s(&onnx),
    ]);
    assert!(err.contains("refusing to overwrite an input"), "{err}");
    let err = fails(&["prove", s(&model), "--input", s(&input), "-o", s(&model)]);
    assert!(err.contains("refusing to overwrite an input"), "{err}");
    let err = fails(&["prove", s(&model), "--input", s(&input), "-o", s(&input)]);
    assert!(err.contains("refusing to overwrite an input"), "{err}");
    assert_eq!(before(&onnx), onnx_bytes);
    assert_eq!(before(&model), model_bytes);
    assert_eq!(before(&input), input_bytes);
    // An unwritable output is reported before any proving.
    let missing = dir.path().join("no/such/folder/p.json");
    let err = fails(&["prove", s(&model), "--input", s(&input), "-o", s(&missing)]);
    assert!(err.contains("cannot write to"), "{err}");
}

#[test]
fn cli_inspect_into_a_closed_pipe_exits_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let model = compiled(dir.path());
    // The reader is gone before the first line is written (as `| head -1` after a line).
    let status = Command::new(env!("CARGO_BIN_EXE_zkinfer"))
        .args(["inspect", s(&model)])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            drop(child.stdout.take());
            child.wait_with_output()
        })
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert!(!String::from_utf8_lossy(&status.stderr).contains("panicked"));
}

#[test]
fn cli_json_reports_failures_as_json_and_help_names_the_params_dir() {
    let dir = tempfile::tempdir().unwrap();
    let model = compiled(dir.path());
    let proof = dir.path().join("p.json");
    let input = common::data("digits_mlp.input.json");
    ok(&["prove", s(&model), "--input", s(&input), "-o", s(&proof)]);
    let mut bundle: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
    bundle["proof"] = serde_json::Value::from(format!("{}00", bundle["proof"].as_str().unwrap()));
    std::fs::write(&proof, bundle.to_string()).unwrap();
    let out = zkinfer(&["verify", s(&model), s(&proof), "--json"]);
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], false);
    assert!(report["error"]
        .as_str()
        .unwrap()
        .contains("proofs of this model have exactly"));
    let compiled_json: serde_json::Value = serde_json::from_str(&ok(&[
        "compile",
        s(&common::data("digits_mlp.onnx")),
        "--calibration",
        s(&common::data("digits_mlp.eval.json")),
        "-o",
        s(&dir.path().join("again.zkm")),
        "--json",
    ]))
    .unwrap();
    assert_eq!(compiled_json["k"], 10);
    assert_eq!(compiled_json["reference"]["status"], "agrees");
    let help = ok(&["prove", "--help"]);
    assert!(
        help.contains("--params-dir") && help.contains("ZKINFER_PARAMS_DIR"),
        "{help}"
    );
}

#[test]
fn cli_proves_every_sample_and_verifies_many_proofs_with_one_key() {
    let dir = tempfile::tempdir().unwrap();
    let model = compiled(dir.path());
    let eval: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::data("digits_mlp.eval.json")).unwrap(),
    )
    .unwrap();
    let three = dir.path().join("three.json");
    let inputs: Vec<_> = eval["inputs"].as_array().unwrap()[..3].to_vec();
    std::fs::write(
        &three,
        serde_json::json!({ "input_data": inputs }).to_string(),
    )
    .unwrap();
    let out = dir.path().join("proofs");
    let proved: serde_json::Value = serde_json::from_str(&ok(&[
        "prove",
        s(&model),
        "--input",
        s(&three),
        "-o",
        s(&out),
        "--json",
    ]))
    .unwrap();
    assert_eq!(proved["proofs"].as_array().unwrap().len(), 3);
    let paths: Vec<_> = (0..3)
        .map(|i| out.join(format!("proof-{i}.json")))
        .collect();
    let mut args = vec!["verify", s(&model)];
    args.extend(paths.iter().map(|p| s(p)));
    args.push("--json");
    let verified: serde_json::Value = serde_json::from_str(&ok(&args)).unwrap();
    assert_eq!(verified["valid"], true);
    let reports = verified["proofs"].as_array().unwrap();
    assert_eq!(reports.len(), 3);
    for (r, p) in reports.iter().zip(proved["proofs"].as_array().unwrap()) {
        assert_eq!(r["outputs"], p["outputs"]);
    }
    // One bad proof among good ones: each is reported, and the exit status says it.
    let mut bad = ProofLike::read(&paths[2]);
    bad.tamper();
    bad.write(&paths[2]);
    let out = zkinfer(&["verify", s(&model), s(&paths[0]), s(&paths[2]), "--json"]);
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["proofs"][0]["valid"], true);
    assert_eq!(report["proofs"][1]["valid"], false);
}

/// A proof file edited as JSON.
struct ProofLike(serde_json::Value);

impl ProofLike {
    fn read(p: &Path) -> Self {
        Self(serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
    }
    fn tamper(&mut self) {
        let first = self.0["outputs"][0].as_i64().unwrap();
        self.0["outputs"][0] = serde_json::Value::from(first + 1);
        let f = self.0["outputs_float"][0].as_f64().unwrap();
        let scale = f / first as f64;
        self.0["outputs_float"][0] = serde_json::Value::from((first + 1) as f64 * scale);
    }
    fn write(&self, p: &Path) {
        std::fs::write(p, self.0.to_string()).unwrap();
    }
}

#[test]
fn cli_calibration_outliers_are_warned_about_and_forged_params_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let mut x: Vec<f64> = common::sample().iter().map(|v| f64::from(*v)).collect();
    x[5] = 1e30;
    let calibration = dir.path().join("outlier.json");
    std::fs::write(
        &calibration,
        serde_json::json!({ "input_data": [x] }).to_string(),
    )
    .unwrap();
    let out = zkinfer(&[
        "compile",
        s(&common::data("digits_mlp.onnx")),
        "--calibration",
        s(&calibration),
        "-o",
        s(&dir.path().join("m.zkm")),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: calibration sample 0, value 5 = 1.000e30"),
        "{stderr}"
    );
    // A forged parameter file in a private cache: reported, replaced, the proof is honest.
    let params = dir.path().join("params");
    std::fs::create_dir_all(&params).unwrap();
    let model = compiled(dir.path());
    // The shared test cache may not hold k = 10 yet on a clean clone: fill it first.
    common::cache().get(10).unwrap();
    let mut zeroed = std::fs::read(common::cache().path(10)).unwrap();
    zeroed[4..4 + 2 * 1024 * 32].fill(0);
    std::fs::write(params.join("ipa-pasta-k10.params"), zeroed).unwrap();
    let proof = dir.path().join("p.json");
    let out = Command::new(env!("CARGO_BIN_EXE_zkinfer"))
        .args([
            "prove",
            s(&model),
            "--input",
            s(&common::data("digits_mlp.input.json")),
        ])
        .args(["-o", s(&proof), "--params-dir", s(&params)])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("were not used") && stderr.contains("pinned"),
        "{stderr}"
    );
    let mut forged = ProofLike::read(&proof);
    forged.tamper();
    forged.write(&proof);
    let err = fails(&["verify", s(&model), s(&proof)]);
    assert!(err.contains("does not check against this model"), "{err}");
}
