//! `zkinfer serve` as a user runs it: the real binary on an ephemeral loopback port, driven
//! over HTTP. Covers prove, verify, batch, registration, every class of bad request (a JSON
//! 4xx naming the fault, never a 5xx), a full queue (503 with Retry-After), the token, and a
//! graceful shutdown that finishes the proof in flight.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod served;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use served::{call, models_dir, send, serve, TOKEN};
use zkinfer::{ProofBundle, Verifier};

#[test]
fn service_proves_verifies_batches_and_registers() {
    let dir = models_dir();
    let served = serve(dir.path(), &["--token", TOKEN]);
    assert_eq!(
        served.get("/healthz").json(),
        json!({ "ok": true, "models": 1 })
    );
    let models = served.get("/v1/models").json();
    let listed = &models["models"][0];
    assert_eq!(listed["id"], "digits");
    assert_eq!(
        listed["verifier_key_warm"], true,
        "verifying keys are built at start"
    );
    assert_eq!(listed["prover_key_warm"], false);
    let info = served.get("/v1/models/digits").json();
    assert_eq!(info["inspection"]["k"], common::model().layout().unwrap().k);

    // Prove: the answer is a bundle that the library's own verifier accepts, whose outputs
    // match ONNX Runtime's within the quantisation error.
    let proved = served.prove();
    assert_eq!(proved.status, 200, "{}", proved.body);
    let bundle: ProofBundle = serde_json::from_str(&proved.body).unwrap();
    let verifier = Verifier::setup(common::model(), &common::cache()).unwrap();
    let outputs = verifier.verify(&bundle).unwrap();
    for (got, want) in outputs.iter().zip(common::expected_logits()) {
        assert!((got - want).abs() < 0.1, "{got} vs ONNX Runtime {want}");
    }

    let verdict = served.post("/v1/verify", None, &proved.body).json();
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert_eq!(verdict["model"], "digits");
    assert_eq!(verdict["outputs"], json!(bundle.outputs));

    // A bundle whose outputs were edited is a verdict, not a request error.
    let mut edited = bundle.clone();
    edited.outputs[0] += 1;
    edited.outputs_float = common::model().graph.outputs_to_float(&edited.outputs);
    let edited = serde_json::to_string(&edited).unwrap();
    let verdict = served.post("/v1/verify", None, &edited).json();
    assert_eq!(verdict["valid"], false);
    assert_eq!(verdict["error"]["kind"], "invalid_proof", "{verdict}");

    // A batch names each bundle's verdict.
    let mut foreign = bundle.clone();
    foreign.model_digest = "ab".repeat(32);
    let batch = format!(
        "[{}, {edited}, {}, {}]",
        proved.body,
        serde_json::to_string(&foreign).unwrap(),
        proved.body
    );
    let report = served.post("/v1/verify/batch", None, &batch).json();
    assert_eq!(report["valid"], false);
    let kinds: Vec<Value> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["error"]["kind"].clone())
        .collect();
    assert_eq!(
        kinds,
        [
            Value::Null,
            json!("invalid_proof"),
            json!("unknown_model"),
            Value::Null
        ]
    );
    let all_good = format!("{{\"bundles\": [{0}, {0}]}}", proved.body);
    assert_eq!(
        served.post("/v1/verify/batch", None, &all_good).json()["valid"],
        true
    );

    // Registration, with the token only: a second name for a served model is refused (its
    // proofs name it by key), the same name is replaced only when asked.
    let model_json = serde_json::to_string(common::model().as_ref()).unwrap();
    let put = |id: &str, token| {
        call(
            "PUT",
            &format!("{}/v1/models/{id}", served.base),
            token,
            Some(&model_json),
        )
    };
    put("again", None).error(401, "unauthorised", "Bearer");
    put("again", Some(TOKEN)).error(409, "key_conflict", "'digits'");
    put("digits", Some(TOKEN)).error(409, "exists", "replace=true");
    let registered = put("digits?replace=true", Some(TOKEN));
    assert_eq!(registered.status, 200, "{}", registered.body);
    assert_eq!(registered.json()["digest"], listed["digest"]);
    assert_eq!(registered.json()["replaced"], true);
    assert_eq!(served.get("/healthz").json()["models"], 1);

    let metrics = served.get("/metrics").body;
    assert!(
        metrics.contains("zkinfer_http_requests_total{method=\"POST\",endpoint=\"/v1/models/{id}/prove\",status=\"200\"} 1"),
        "{metrics}"
    );
    // The replacement dropped the replaced model's keys (its proving key was warm).
    assert!(
        metrics.contains("zkinfer_keys_in_memory{role=\"prover\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("zkinfer_keys_in_memory{role=\"verifier\"} 1"),
        "{metrics}"
    );

    // A model with a hashed input, registered here: its proofs come with their openings,
    // which exist only in this answer.
    let hashed = common::compile_with(zkinfer::Visibilities {
        input: zkinfer::Visibility::Hashed,
        output: zkinfer::Visibility::Public,
        ..zkinfer::Visibilities::default()
    });
    let registered = call(
        "PUT",
        &format!("{}/v1/models/hashed", served.base),
        Some(TOKEN),
        Some(&serde_json::to_string(&hashed).unwrap()),
    );
    assert_eq!(registered.status, 201, "{}", registered.body);
    let input = std::fs::read_to_string(common::data("digits_mlp.input.json")).unwrap();
    let proved = served.post("/v1/models/hashed/prove", Some(TOKEN), &input);
    assert_eq!(proved.status, 200, "{}", proved.body);
    let answer = proved.json();
    let opening = &answer["openings"]["openings"][0];
    assert_eq!(opening["tensor"], "input");
    assert_eq!(opening["commitment"], answer["bundle"]["input_commitment"]);
    let verdict = served
        .post("/v1/verify", None, &answer["bundle"].to_string())
        .json();
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert_eq!(verdict["input_commitment"], opening["commitment"]);
    let opening: zkinfer::api::Opening = serde_json::from_value(opening.clone()).unwrap();
    hashed.check_opening(&opening).unwrap();
}

#[test]
fn bad_requests_get_json_4xx_naming_the_fault() {
    let dir = models_dir();
    let served = serve(dir.path(), &["--token", TOKEN, "--body-limit-mib", "1"]);
    let prove = |token, body: &str| served.post("/v1/models/digits/prove", token, body);
    prove(None, "[1]").error(401, "unauthorised", "Bearer");
    prove(Some("wrong"), "[1]").error(401, "unauthorised", "Bearer");
    prove(Some(TOKEN), "{\"input\": [1, 2").error(400, "bad_input", "not valid JSON");
    prove(Some(TOKEN), "{\"inptu\": [1]}").error(400, "bad_input", "\"input_data\"");
    prove(Some(TOKEN), "[[1, \"x\"]]").error(400, "bad_input", "not a number");
    prove(Some(TOKEN), "[1, 2, 3]").error(422, "bad_input", "takes 64");
    prove(Some(TOKEN), &format!("[{}]", ["99"; 64].join(","))).error(
        422,
        "bad_input",
        "outside the calibrated range",
    );
    let two = format!("[[{0}], [{0}]]", ["0"; 64].join(","));
    prove(Some(TOKEN), &two).error(400, "bad_input", "one sample per request");
    served
        .post("/v1/models/nope/prove", Some(TOKEN), "[1]")
        .error(404, "unknown_model", "'nope'");
    served
        .post("/v1/models/digits/prove?clamp=maybe", Some(TOKEN), "[1]")
        .error(400, "bad_query", "clamp");
    served
        .post("/v1/models/digits/prove?fast=1", Some(TOKEN), "[1]")
        .error(400, "bad_query", "'fast'");
    // An oversized body is refused with 413 after the limit is read; the server then closes
    // the connection, and a client still sending may see that first (EPIPE): both refuse it.
    let huge = format!("[{}]", vec!["0"; 600_000].join(","));
    match send(
        "POST",
        &format!("{}/v1/models/digits/prove", served.base),
        Some(TOKEN),
        Some(&huge),
    ) {
        Some(reply) => reply.error(413, "too_large", ""),
        None => assert_eq!(served.get("/healthz").status, 200, "the server lives on"),
    }

    served
        .post("/v1/verify", None, "not json")
        .error(400, "bad_json", "proof bundle");
    served
        .post("/v1/verify", None, "{\"format_version\": 1}")
        .error(400, "bad_json", "missing field");
    let bundle = ProofBundle {
        format_version: 1,
        circuit_version: 3,
        model_digest: "00".repeat(32),
        outputs: vec![0; 10],
        outputs_float: vec![0.0; 10],
        public_input: None,
        input_commitment: None,
        output_commitment: None,
        weights_commitment: None,
        proof: "00".into(),
    };
    let unknown = serde_json::to_string(&bundle).unwrap();
    served
        .post("/v1/verify", None, &unknown)
        .error(404, "unknown_model", "digest");
    let mut extra: Value = serde_json::from_str(&unknown).unwrap();
    extra["surprise"] = json!(1);
    served.post("/v1/verify", None, &extra.to_string()).error(
        400,
        "bad_json",
        "unknown field `surprise`",
    );
    served
        .post("/v1/verify/batch", None, "[]")
        .error(400, "bad_batch", "1 to");
    served
        .post("/v1/verify/batch", None, "[{}]")
        .error(400, "bad_json", "bundles[0]");

    let put = |id: &str, body: &str| {
        call(
            "PUT",
            &format!("{}/v1/models/{id}", served.base),
            Some(TOKEN),
            Some(body),
        )
    };
    put(".hidden", "{}").error(400, "bad_id", "'.hidden'");
    put(&"m".repeat(65), "{}").error(400, "bad_id", "1-64");
    let version = zkinfer::api::MODEL_FORMAT_VERSION;
    put("m", &format!("{{\"format_version\": {version}}}")).error(
        400,
        "bad_model",
        "missing field",
    );
    put("m", "{\"format_version\": 99}").error(400, "bad_model", "version");

    served
        .get("/v1/nothing")
        .error(404, "not_found", "/v1/nothing");
    served
        .get("/v1/verify")
        .error(405, "method_not_allowed", "GET");
    // After all that, nothing answered 5xx and the server still works.
    let metrics = served.get("/metrics").body;
    assert!(!metrics.contains("status=\"5"), "{metrics}");
    assert_eq!(served.get("/healthz").status, 200);
}

#[test]
fn a_full_queue_answers_503_with_retry_after() {
    let dir = models_dir();
    let served = serve(dir.path(), &["--max-proofs", "1", "--proof-queue", "0"]);
    // The first proof (which also builds the proving key) holds the one slot; a second
    // arriving meanwhile is refused at once. Retried in case the first ends too soon to see.
    for _ in 0..5 {
        let second = std::thread::scope(|s| {
            let first = s.spawn(|| served.prove());
            let second = served
                .proof_running(Duration::from_secs(60))
                .then(|| served.prove());
            let first = first.join().unwrap();
            assert_eq!(first.status, 200, "{}", first.body);
            second
        });
        if let Some(second) = second.filter(|r| r.status != 200) {
            second.error(503, "queue_full", "retry later");
            assert_eq!(second.retry_after.as_deref(), Some("1"));
            return;
        }
    }
    panic!("never saw a full queue");
}

#[test]
fn shutdown_finishes_the_proof_in_flight_then_exits() {
    let dir = models_dir();
    let mut served = serve(dir.path(), &[]);
    std::thread::scope(|s| {
        let proving = s.spawn(|| served.prove());
        assert!(
            served.proof_running(Duration::from_secs(60)),
            "no proof started"
        );
        let pid = served.child.id().to_string();
        // The shell's own `kill`: no procps needed.
        let signalled = Command::new("sh")
            .args(["-c", &format!("kill -TERM {pid}")])
            .status()
            .unwrap();
        assert!(signalled.success());
        let reply = proving.join().unwrap();
        assert_eq!(reply.status, 200, "{}", reply.body);
        let bundle: ProofBundle = serde_json::from_str(&reply.body).unwrap();
        let verifier = Verifier::setup(common::model(), &common::cache()).unwrap();
        verifier.verify(&bundle).unwrap();
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = served.child.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "still running");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    let refused = ureq::get(&format!("{}/healthz", served.base)).call();
    assert!(
        matches!(refused, Err(ureq::Error::Transport(_))),
        "{refused:?}"
    );
}

#[test]
fn the_key_cache_evicts_the_least_recently_used_within_its_budget() {
    use zkinfer::serve::keys::{estimated_bytes, KeyCache, Role};
    use zkinfer::Prover;
    let model = common::model();
    let verifier = estimated_bytes(&model, Role::Verifier);
    let prover = estimated_bytes(&model, Role::Prover);
    assert!(prover > verifier && verifier > 0, "{prover} {verifier}");
    // Room for one verifier and one prover. Keys are indexed by digest: "a" and "b" stand
    // for two models here.
    let keys = KeyCache::new(common::cache(), prover + verifier);
    keys.get::<Verifier>("a", &model).unwrap();
    keys.get::<Verifier>("b", &model).unwrap();
    keys.get::<Verifier>("a", &model).unwrap(); // "a" is now the more recently used
    assert_eq!(keys.stats().evictions, 0);
    keys.get::<Prover>("a", &model).unwrap();
    assert!(keys.holds("a", Role::Prover) && keys.holds("a", Role::Verifier));
    assert!(
        !keys.holds("b", Role::Verifier),
        "the least recently used key goes"
    );
    let stats = keys.stats();
    assert_eq!((stats.provers, stats.verifiers, stats.evictions), (1, 1, 1));
    assert_eq!(stats.bytes, prover + verifier);
    // A key larger than the whole budget is still kept, alone.
    let small = KeyCache::new(common::cache(), verifier);
    small.get::<Verifier>("a", &model).unwrap();
    small.get::<Prover>("a", &model).unwrap();
    assert!(small.holds("a", Role::Prover) && !small.holds("a", Role::Verifier));
}

/// Two owners' models of one architecture with hashed params share a verifying key but not
/// their weights: the service proves each with its own weights and verifies each proof
/// against its own commitment.
#[test]
fn models_of_one_architecture_with_hashed_params_stay_apart() {
    let a = common::compile_with(zkinfer::Visibilities {
        params: zkinfer::Visibility::Hashed,
        ..zkinfer::Visibilities::default()
    });
    let mut graph = a.graph.clone();
    let zkinfer::graph::qgraph::QOp::Dense(dense) = &mut graph.nodes[0].op else {
        panic!("a dense layer first");
    };
    dense.bias[0] += 1;
    let b = zkinfer::CompiledModel::from_graph(graph, a.visibility).unwrap();
    let dir = tempfile::tempdir().unwrap();
    a.save(&dir.path().join("a.zkm")).unwrap();
    b.save(&dir.path().join("b.zkm")).unwrap();
    let served = serve(dir.path(), &[]);
    let input = std::fs::read_to_string(common::data("digits_mlp.input.json")).unwrap();
    let mut bundles = Vec::new();
    for (id, model) in [("a", &a), ("b", &b)] {
        let proved = served.post(&format!("/v1/models/{id}/prove"), None, &input);
        assert_eq!(proved.status, 200, "{}", proved.body);
        // No tensor of the proof is hashed (only the model's params): the answer is the
        // bundle itself.
        let bundle = proved.json();
        assert_eq!(
            bundle["weights_commitment"],
            model.weights.as_ref().unwrap().commitment.as_str()
        );
        let verdict = served.post("/v1/verify", None, &bundle.to_string()).json();
        assert_eq!(verdict["valid"], true, "{verdict}");
        assert_eq!(verdict["model"], id, "{verdict}");
        bundles.push(bundle);
    }
    // One architecture, two owners' weights: two models (the identity binds the commitment).
    assert_ne!(bundles[0]["model_digest"], bundles[1]["model_digest"]);
    // The verifier file of a verifies a's proofs and refuses to prove. It has a's key, so it
    // is served apart from a (one key is served under one id: see service_hostile.rs).
    let verifier_dir = tempfile::tempdir().unwrap();
    a.verifier_file()
        .unwrap()
        .save(&verifier_dir.path().join("v.zkm"))
        .unwrap();
    let verifying = serve(verifier_dir.path(), &[]);
    verifying
        .post("/v1/models/v/prove", None, &input)
        .error(409, "verifier_file", "cannot prove");
    let verdict = verifying
        .post("/v1/verify", None, &bundles[0].to_string())
        .json();
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert_eq!(verdict["model"], "v", "{verdict}");
    let models = verifying.get("/v1/models").json();
    let listed = &models["models"][0];
    assert_eq!(listed["id"], "v");
    assert_eq!(
        listed["weights_commitment"],
        bundles[0]["weights_commitment"]
    );
    assert_eq!(listed["verifier_file"], true);
    // b's proof claiming a's identity and commitment: a's key and commitment refuse it.
    let mut claimed = bundles[1].clone();
    claimed["model_digest"] = bundles[0]["model_digest"].clone();
    claimed["weights_commitment"] = bundles[0]["weights_commitment"].clone();
    let verdict = served.post("/v1/verify", None, &claimed.to_string()).json();
    assert_eq!(verdict["valid"], false, "{verdict}");
}

/// Issue 28: a model proven in parts is served as one model: registered from the models
/// folder, proven part by part with each part's proving key kept in the cache (a second proof
/// builds none), verified at `/v1/verify` as the proof in parts the prove endpoint answers,
/// with a part of another inference named as a broken link.
#[test]
fn service_proves_and_verifies_a_model_in_parts_with_its_parts_keys_kept() {
    use common::parts::{samples, three_parts};
    let dir = tempfile::tempdir().unwrap();
    let model = three_parts();
    model.save(&dir.path().join("residual.zkm")).unwrap();
    let served = serve(dir.path(), &["--token", TOKEN]);
    let listed = &served.get("/v1/models").json()["models"][0];
    assert_eq!(listed["id"], "residual");
    assert_eq!(listed["verifier_key_warm"], true, "{listed}");
    assert_eq!(listed["prover_key_warm"], false, "{listed}");
    let info = served.get("/v1/models/residual").json();
    assert_eq!(
        info["inspection"]["parts"].as_array().unwrap().len(),
        3,
        "{info}"
    );

    let input = json!({ "input_data": [samples()[0]] }).to_string();
    let prove = || served.post("/v1/models/residual/prove", Some(TOKEN), &input);
    let first = prove();
    assert_eq!(first.status, 200, "{}", first.body);
    let proof: zkinfer::PartedProof = serde_json::from_str(&first.body).unwrap();
    assert_eq!(proof.parts.len(), 3);
    assert_eq!(served.gauge("zkinfer_keys_in_memory{role=\"prover\"}"), 3.0);
    let second = prove();
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(served.gauge("zkinfer_keys_in_memory{role=\"prover\"}"), 3.0);
    assert_eq!(
        served.get("/v1/models").json()["models"][0]["prover_key_warm"],
        true
    );

    let x = model.quantise_input(&samples()[0], false).unwrap();
    let expected = model.graph.outputs_to_float(&model.graph.eval(&x).unwrap());
    let verdict = served.post("/v1/verify", None, &first.body).json();
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert_eq!(verdict["model"], "residual");
    assert_eq!(verdict["outputs_float"], json!(expected));

    // Part 1 of the second inference in the first: the links of two inferences differ.
    let other: zkinfer::PartedProof = serde_json::from_str(&second.body).unwrap();
    let mut mixed = proof.clone();
    mixed.parts[1] = other.parts[1].clone();
    let verdict = served
        .post("/v1/verify", None, &serde_json::to_string(&mixed).unwrap())
        .json();
    assert_eq!(verdict["valid"], false, "{verdict}");
    assert_eq!(verdict["error"]["kind"], "parts", "{verdict}");
    // Checked before any key is used: a part missing, a part out of place, and one bundle
    // naming the model proven in parts (its digest is public) are verdicts, never a 5xx.
    let mut short = proof.clone();
    short.parts.pop();
    let mut swapped = proof.clone();
    swapped.parts.swap(1, 2);
    let mut single = proof.parts[2].clone();
    single.model_digest = listed["digest"].as_str().unwrap().to_owned();
    for body in [
        serde_json::to_string(&short).unwrap(),
        serde_json::to_string(&swapped).unwrap(),
        serde_json::to_string(&single).unwrap(),
    ] {
        let reply = served.post("/v1/verify", None, &body);
        assert_eq!(reply.status, 200, "{}", reply.body);
        let verdict = reply.json();
        assert_eq!(verdict["valid"], false, "{verdict}");
        assert!(
            ["parts", "invalid_proof"].contains(&verdict["error"]["kind"].as_str().unwrap()),
            "{verdict}"
        );
    }
    // A proof in parts of a model this server does not hold.
    let mut foreign = proof.clone();
    foreign.parts[0].model_digest = "ab".repeat(32);
    served
        .post(
            "/v1/verify",
            None,
            &serde_json::to_string(&foreign).unwrap(),
        )
        .error(404, "unknown_model", "proven in parts");
    drop(served);
    // `--warm-provers` builds every part's proving key at start.
    let warm = serve(dir.path(), &["--token", TOKEN, "--warm-provers"]);
    assert_eq!(warm.gauge("zkinfer_keys_in_memory{role=\"prover\"}"), 3.0);
}

/// A model in parts with hashed params, served from its verifier file: a proof in parts is
/// found by its first part's digest and that part's own weights commitment, and verifies; a
/// proof whose last part was made with other weights does not.
#[test]
fn service_verifies_a_hashed_params_model_in_parts_from_its_verifier_file() {
    use common::parts::{compile_with, samples};
    use zkinfer::{PartedProver, Visibilities, Visibility};
    let dir = tempfile::tempdir().unwrap();
    let hashed = Visibilities {
        params: Visibility::Hashed,
        ..Visibilities::default()
    };
    let parted = |seed| {
        let model = compile_with(seed, false, hashed);
        let n = model.graph.nodes.len();
        model.split_at(&[1, n - 2]).unwrap()
    };
    let owner = parted(0);
    owner
        .verifier_file()
        .unwrap()
        .save(&dir.path().join("residual.zkm"))
        .unwrap();
    let served = serve(dir.path(), &[]);
    let x = owner.quantise_input(&samples()[0], false).unwrap();
    let prover = PartedProver::new(&owner, common::cache()).unwrap();
    let (proof, _) = prover.prove(&x).unwrap();
    let body = serde_json::to_string(&proof).unwrap();
    let verdict = served.post("/v1/verify", None, &body).json();
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert_eq!(verdict["model"], "residual");
    assert_eq!(
        verdict["weights_commitment"].as_str(),
        owner.weights.as_ref().map(|w| w.commitment.as_str()),
        "{verdict}"
    );
    // Another owner's last part (its own commitment) in place of the owner's.
    let theirs = parted(1);
    let (other, _) = PartedProver::new(&theirs, common::cache())
        .unwrap()
        .prove(&x)
        .unwrap();
    let mut spliced = proof.clone();
    spliced.parts[2] = other.parts[2].clone();
    let reply = served.post(
        "/v1/verify",
        None,
        &serde_json::to_string(&spliced).unwrap(),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["valid"], false, "{}", reply.body);
}
