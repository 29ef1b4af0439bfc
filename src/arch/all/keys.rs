//! Order-preserving keys: `a < b` as floats exactly when `key(a) < key(b)`
//! as integers, with `-0.0` and `+0.0` equal. NaN has no key; callers
//! reject it first.

/// The `u32` key of a non-NaN `f32`.
#[inline(always)]
pub(crate) fn order_key(x: f32) -> u32 {
    // -0.0 and +0.0 are the same score: fold -0.0 onto +0.0.
    let bits = if x == 0.0 { 0 } else { x.to_bits() };
    // Negative: flip every bit; positive: set the sign bit. Branch-free, so
    // a tile of keys vectorises.
    bits ^ (((bits as i32) >> 31) as u32 | 0x8000_0000)
}

/// The `f32` a key stands for (`+0.0` for zero).
#[inline(always)]
pub(crate) fn key_value(key: u32) -> f32 {
    let bits = if key >> 31 == 1 {
        key & 0x7fff_ffff
    } else {
        !key
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_like_floats() {
        let xs = [
            f32::NEG_INFINITY,
            -3.5,
            -f32::MIN_POSITIVE,
            -1e-45,
            0.0,
            1e-45,
            f32::MIN_POSITIVE,
            2.0,
            f32::MAX,
            f32::INFINITY,
        ];
        for w in xs.windows(2) {
            assert!(order_key(w[0]) < order_key(w[1]), "{} {}", w[0], w[1]);
        }
        assert_eq!(order_key(-0.0), order_key(0.0));
        for x in xs {
            assert_eq!(key_value(order_key(x)).to_bits(), x.to_bits());
        }
    }
}
