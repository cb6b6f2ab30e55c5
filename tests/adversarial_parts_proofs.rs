#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Adversarial review of proving in parts (issue 13), at the proof level: an honest
//! three-part proof with its link commitments dropped, copied, respelt or added, its parts
//! showing what they should hide, other versions, no parts or one part repeated, and parts
//! of a model of the same architecture with other weights. Each is refused, naming how.

mod common;

use std::sync::Arc;

use common::parts::{compile, integer_input, proof, three_parts, verifier};
use zkinfer::api::BUNDLE_FORMAT_VERSION;
use zkinfer::error::VerifyError;
use zkinfer::{LinkSeed, PartedProof, PartedProver};

fn is_part_error(e: &VerifyError, part: usize, inner: fn(&VerifyError) -> bool) -> bool {
    matches!(e, VerifyError::Part { part: p, source } if *p == part && inner(source))
}

#[test]
fn tampered_link_commitments_are_refused() {
    let (proof, _) = proof();
    let v = verifier();

    // Both sides of a link dropped: "nothing" links nothing.
    let mut none = proof.clone();
    none.parts[0].output_commitment = None;
    none.parts[1].input_commitment = None;
    let e = v.verify(&none).unwrap_err();
    assert!(matches!(e, VerifyError::Link { from: 0, .. }), "{e}");

    // Link 1's commitment copied onto link 0: the strings match, part 0's proof does not.
    let mut dup = proof.clone();
    let c1 = dup.parts[1].output_commitment.clone();
    dup.parts[0].output_commitment = c1.clone();
    dup.parts[1].input_commitment = c1;
    let e = v.verify(&dup).unwrap_err();
    assert!(
        is_part_error(&e, 0, |s| matches!(s, VerifyError::InvalidProof(_))),
        "{e}"
    );

    // The same element spelt differently on both sides (uppercase hex, or plus the
    // modulus): equal strings, but not the canonical spelling, refused before any proof.
    let c0 = proof.parts[0].output_commitment.clone().unwrap();
    for spelling in [c0.to_uppercase(), non_canonical(&c0)] {
        let mut odd = proof.clone();
        odd.parts[0].output_commitment = Some(spelling.clone());
        odd.parts[1].input_commitment = Some(spelling);
        let e = v.verify(&odd).unwrap_err();
        assert!(
            is_part_error(&e, 0, |s| matches!(s, VerifyError::Commitment { .. })),
            "{e}"
        );
    }

    // One side changed only: refused as a broken link, before any cryptography.
    let mut one = proof.clone();
    one.parts[1].input_commitment = one.parts[2].input_commitment.clone();
    let e = v.verify(&one).unwrap_err();
    assert!(matches!(e, VerifyError::Link { from: 0, .. }), "{e}");

    // The last part's public outputs also offered as a commitment (output hashed there?).
    let mut both = proof.clone();
    both.parts[2].output_commitment = Some(c0.clone());
    let e = v.verify(&both).unwrap_err();
    assert!(
        is_part_error(&e, 2, |s| matches!(s, VerifyError::Commitment { .. })),
        "{e}"
    );

    // An intermediate part showing values besides its commitment.
    let mut shown = proof.clone();
    shown.parts[0].outputs = vec![0; 12];
    shown.parts[0].outputs_float = vec![0.0; 12];
    let e = v.verify(&shown).unwrap_err();
    assert!(
        is_part_error(&e, 0, |s| matches!(s, VerifyError::Shape { .. })),
        "{e}"
    );

    // A private input offered as public on the first part.
    let mut public = proof.clone();
    public.parts[0].public_input = Some(vec![0; 8]);
    let e = v.verify(&public).unwrap_err();
    assert!(
        is_part_error(&e, 0, |s| matches!(s, VerifyError::Shape { .. })),
        "{e}"
    );

    // An input commitment added to the first part, whose input is private.
    let mut input = proof.clone();
    input.parts[0].input_commitment = Some(c0);
    let e = v.verify(&input).unwrap_err();
    assert!(
        is_part_error(&e, 0, |s| matches!(s, VerifyError::Commitment { .. })),
        "{e}"
    );

    // Other format versions, of the whole proof or of a part.
    let mut version = proof.clone();
    version.format_version += 1;
    assert!(matches!(
        v.verify(&version),
        Err(VerifyError::FormatVersion { .. })
    ));
    let mut circuit = proof.clone();
    circuit.parts[1].circuit_version += 1;
    let e = v.verify(&circuit).unwrap_err();
    assert!(
        is_part_error(&e, 1, |s| matches!(s, VerifyError::CircuitVersion { .. })),
        "{e}"
    );

    // An empty proof, and a proof of one part repeated three times.
    let empty = PartedProof {
        format_version: BUNDLE_FORMAT_VERSION,
        parts: Vec::new(),
    };
    assert!(matches!(
        v.verify(&empty),
        Err(VerifyError::PartCount { got: 0, .. })
    ));
    let mut same = proof.clone();
    same.parts = vec![proof.parts[1].clone(); 3];
    let e = v.verify(&same).unwrap_err();
    assert!(matches!(e, VerifyError::Part { part: 0, .. }), "{e}");
    assert!(e.to_string().contains("is part 1's"), "{e}");

    // The honest proof still verifies after all this.
    v.verify(proof).unwrap();
}

/// `text` (a canonical element's 64 hex digits, little-endian) plus the field's modulus, if
/// that still fits 256 bits; else the same digits with a leading-zero byte changed.
fn non_canonical(text: &str) -> String {
    // Pallas base field modulus p = 0x40000000000000000000000000000000224698fc094cf91b992d30ed00000001.
    let p = hex_le("40000000000000000000000000000000224698fc094cf91b992d30ed00000001");
    let mut v = [0u8; 32];
    hex::decode_to_slice(text, &mut v).unwrap();
    let mut carry = 0u16;
    for i in 0..32 {
        let s = u16::from(v[i]) + u16::from(p[i]) + carry;
        v[i] = (s & 0xff) as u8;
        carry = s >> 8;
    }
    assert_eq!(carry, 0, "x + p fits 256 bits for x < 2^254");
    hex::encode(v)
}

fn hex_le(be: &str) -> [u8; 32] {
    let mut b = [0u8; 32];
    hex::decode_to_slice(be, &mut b).unwrap();
    b.reverse();
    b
}

/// Attack: swap part proofs between two models of the same architecture and cuts but other
/// weights. Every foreign part is named by its digest, whatever its place.
#[test]
fn parts_of_a_model_of_the_same_architecture_are_refused() {
    let (proof, _) = proof();
    let model = three_parts();
    let n = model.graph.nodes.len();
    let other = Arc::new(compile(1).split_at(&[1, n - 2]).unwrap());
    assert_eq!(other.parts, model.parts);
    let prover = PartedProver::new(&other, common::cache()).unwrap();
    // A part proof of the other model, made with the seed of... any: the links are checked
    // after the digests.
    let (foreign, _) = prover
        .prove_part(&integer_input(&other, 0), 1, &LinkSeed::random())
        .unwrap();
    let mut mixed = proof.clone();
    // Make the links match the foreign part, so only the digest can refuse it.
    mixed.parts[0].output_commitment = foreign.input_commitment.clone();
    mixed.parts[2].input_commitment = foreign.output_commitment.clone();
    mixed.parts[1] = foreign;
    let e = verifier().verify(&mixed).unwrap_err();
    assert!(matches!(e, VerifyError::Part { part: 1, .. }), "{e}");
    assert!(e.to_string().contains("not for part 1"), "{e}");
    // And with its digest relabelled as ours: the proof fails against our key.
    let mut relabelled = mixed.clone();
    relabelled.parts[1].model_digest = proof.parts[1].model_digest.clone();
    let e = verifier().verify(&relabelled).unwrap_err();
    assert!(matches!(e, VerifyError::Part { .. }), "{e}");
    assert!(
        matches!(&e, VerifyError::Part { source, .. } if matches!(**source, VerifyError::InvalidProof(_))),
        "{e}"
    );
}
