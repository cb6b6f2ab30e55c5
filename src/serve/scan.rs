//! A bound on a JSON body's arrays, checked before it is parsed.
//!
//! Parsed into typed bundles, a body costs about its size, except in its integer arrays: the
//! text `0,` becomes an 8-byte `i64` (and a growing `Vec` up to twice that), so a 32 MiB
//! bundle whose `outputs` are 16 M zeros would take 256 MiB. No bundle a server can verify
//! holds more values than its largest model takes in or puts out, and no batch more than
//! [`super::MAX_BATCH`] bundles: a body with a longer array is refused after one pass over
//! its bytes, which allocates nothing.

/// Deeper nesting is left to the parser, which refuses it (serde_json stops at 128).
const MAX_DEPTH: usize = 128;

/// The length of the first array of `json` longer than `max`, if any (counted up to
/// `max + 1`). Strings are skipped; a malformed body is left to the parser to name.
pub fn array_longer_than(json: &[u8], max: usize) -> Option<usize> {
    // Per open bracket: whether it is an array, and its elements so far.
    let mut open: Vec<(bool, usize)> = Vec::new();
    let (mut in_string, mut escaped, mut in_scalar) = (false, false, false);
    for &b in json {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | b',' | b':' => {
                in_scalar = false;
                continue;
            }
            b']' | b'}' => {
                in_scalar = false;
                open.pop();
                continue;
            }
            _ if in_scalar => continue, // a number's or literal's further bytes
            _ => {}
        }
        // A value starts here: it counts in the array it is in.
        if let Some((true, n)) = open.last_mut() {
            *n += 1;
            if *n > max {
                return Some(*n);
            }
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' if open.len() < MAX_DEPTH => open.push((b == b'[', 0)),
            b'[' | b'{' => return None,
            _ => in_scalar = true,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::array_longer_than;

    #[test]
    fn arrays_are_counted_at_every_depth_and_strings_skipped() {
        assert_eq!(array_longer_than(b"[1,2,3]", 3), None);
        assert_eq!(array_longer_than(b"[1,2,3,4]", 3), Some(4));
        assert_eq!(array_longer_than(b"{\"a\":[[1,2],[1,2,3,4]]}", 3), Some(4));
        assert_eq!(array_longer_than(b"[\"1,2,3,4,[5]\"]", 1), None);
        assert_eq!(array_longer_than(b"[\"a\\\"b\",2]", 2), None);
        assert_eq!(array_longer_than(b"[{\"x\":1,\"y\":2,\"z\":3}]", 1), None);
        assert_eq!(array_longer_than(b"[]", 0), None);
        assert_eq!(array_longer_than(b"[12, -3.5e7, true]", 3), None);
        assert_eq!(array_longer_than(b"[12, -3.5e7, true, null]", 3), Some(4));
    }
}
