//! Conversions between signed integers and field elements.
//!
//! The integer forward pass works in `i64`; circuits work in a prime field `F`. A negative
//! integer `-a` is the field element `p - a`. These are the only conversions in the crate,
//! so the encoding of negatives is defined once.
//!
//! Reading an element back ([`to_i64`]) uses the little-endian byte representation that the
//! Pasta fields (and every halo2 field in common use) expose through `PrimeField::to_repr`.

use ff::PrimeField;

/// The field element for a signed integer.
pub fn felt<F: PrimeField>(v: i64) -> F {
    if v >= 0 {
        F::from(v.unsigned_abs())
    } else {
        -F::from(v.unsigned_abs())
    }
}

/// `2^bits` as a field element.
///
/// # Panics
/// If `bits >= 128` (no chip asks for a power that large).
pub fn pow2<F: PrimeField>(bits: u32) -> F {
    assert!(bits < 128, "pow2: 2^{bits} is not a supported constant");
    F::from_u128(1u128 << bits)
}

/// The low 64 bits of a field element's canonical representative.
pub fn low_u64<F: PrimeField>(f: &F) -> u64 {
    let repr = f.to_repr();
    let mut bytes = [0u8; 8];
    for (dst, src) in bytes.iter_mut().zip(repr.as_ref().iter()) {
        *dst = *src;
    }
    u64::from_le_bytes(bytes)
}

/// The signed integer a field element encodes, if it lies in `[-2^63, 2^63)`.
pub fn to_i64<F: PrimeField>(f: &F) -> Option<i64> {
    let fits = |g: &F| g.to_repr().as_ref().iter().skip(8).all(|b| *b == 0);
    if fits(f) {
        i64::try_from(low_u64(f)).ok()
    } else {
        let neg = -*f;
        if fits(&neg) {
            // -(2^63) is the one negative whose magnitude does not fit in i64.
            let mag = low_u64(&neg);
            0i64.checked_sub_unsigned(mag)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ff::Field;
    use pasta_curves::Fp;

    #[test]
    fn felt_round_trips_at_the_edges() {
        for v in [0, 1, -1, 255, -256, i64::MAX, i64::MIN, i64::MIN + 1] {
            assert_eq!(to_i64(&felt::<Fp>(v)), Some(v), "{v}");
        }
    }

    #[test]
    fn to_i64_rejects_elements_far_from_zero() {
        assert_eq!(to_i64(&pow2::<Fp>(64)), None);
        assert_eq!(to_i64(&-pow2::<Fp>(64)), None);
        assert_eq!(to_i64(&(felt::<Fp>(i64::MIN) - Fp::ONE)), None);
    }
}
