//! GS1 check digit (mod 10) and GMN check character pair algorithms.

/// GS1 mod-10: weights 3,1,3,... starting at the digit left of the check digit.
/// `data` must be ASCII digits (the caller checks the character set first).
pub(crate) fn mod10_valid(data: &[u8]) -> bool {
    let Some((&check, body)) = data.split_last() else {
        return false;
    };
    mod10_digit(body) == Some(check)
}

/// The check digit (as an ASCII byte) for `body`, or `None` for non-digits.
pub(crate) fn mod10_digit(body: &[u8]) -> Option<u8> {
    let digit = |b: u8| Some(u32::from(b.wrapping_sub(b'0'))).filter(|&d| d <= 9);
    // Weights 3, 1, 3, ... from the right: two digits a step (right 3, left 1), and a left-over first digit (even
    // position from the right) weighs 3.
    let pairs = body.rchunks_exact(2);
    let mut sum = match pairs.remainder() {
        [first] => 3 * digit(*first)?,
        _ => 0,
    };
    for pair in pairs {
        sum += digit(pair[0])? + 3 * digit(pair[1])?;
    }
    // (10 - sum mod 10) mod 10 is < 10, so the cast cannot truncate
    Some(b'0' + ((10 - sum % 10) % 10) as u8)
}

/// CSET 82 in weight order (GS1 General Specifications, alphanumeric check pair).
const CSET82: &[u8] =
    b"!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
/// CSET 32 in weight order: the alphabet of the two check characters.
const CSET32: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
/// Prime weights, applied right to left (the character before the pair gets 2).
/// 97 primes cover the longest AI (99 characters) as in the GS1 reference linter.
const PRIMES: [u32; 97] = [
    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
    101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167, 173, 179, 181, 191, 193,
    197, 199, 211, 223, 227, 229, 233, 239, 241, 251, 257, 263, 269, 271, 277, 281, 283, 293, 307,
    311, 313, 317, 331, 337, 347, 349, 353, 359, 367, 373, 379, 383, 389, 397, 401, 409, 419, 421,
    431, 433, 439, 443, 449, 457, 461, 463, 467, 479, 487, 491, 499, 503, 509,
];

/// GMN (8013) / MUDI check character pair (`csumalpha` linter).
pub(crate) fn alpha_pair_valid(data: &[u8]) -> bool {
    let Some(split) = data.len().checked_sub(2) else {
        return false;
    };
    let (body, pair) = data.split_at(split);
    if body.len() > PRIMES.len() {
        return false;
    }
    let mut sum = 0u32;
    for (&b, &weight) in body.iter().rev().zip(PRIMES.iter()) {
        let Some(value) = CSET82.iter().position(|&c| c == b) else {
            return false;
        };
        // position < 82, so the cast is lossless
        sum += value as u32 * weight;
    }
    sum %= 1021;
    // sum < 1021 < 1024, so both halves index the 32-entry alphabet
    pair[0] == CSET32[(sum >> 5) as usize] && pair[1] == CSET32[(sum & 31) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mod10_spec_examples() {
        assert!(mod10_valid(b"09520123456788"));
        assert!(!mod10_valid(b"09520123456787"));
        // SSCC and GLN examples from the EPC Tag Data Standard
        assert!(mod10_valid(b"106141412345678908"));
        assert!(mod10_valid(b"0614141123452"));
        assert!(!mod10_valid(b""));
        assert!(!mod10_valid(b"0952012345678A"));
    }

    #[test]
    fn mod10_matches_the_textbook_loop() {
        let textbook = |body: &[u8]| -> Option<u8> {
            let mut sum = 0;
            for (i, &b) in body.iter().rev().enumerate() {
                let d = u32::from(b.checked_sub(b'0').filter(|d| *d <= 9)?);
                sum += d * if i % 2 == 0 { 3 } else { 1 };
            }
            Some(b'0' + ((10 - sum % 10) % 10) as u8)
        };
        let digits = b"09520123456788106141412345678908";
        for len in 0..=digits.len() {
            for start in 0..=digits.len() - len {
                let body = &digits[start..start + len];
                assert_eq!(mod10_digit(body), textbook(body), "{body:?}");
                for bad in [b'/', b':', b'A', 0] {
                    for at in 0..len {
                        let mut body = body.to_vec();
                        body[at] = bad;
                        assert_eq!(mod10_digit(&body), None);
                    }
                }
            }
        }
    }

    #[test]
    fn alpha_pair_reference_vectors() {
        // vectors from the GS1 General Specifications / syntax engine unit tests
        assert!(alpha_pair_valid(b"1987654Ad4X4bL5ttr2310c2K"));
        assert!(alpha_pair_valid(b"12345678901234567890123NT"));
        assert!(alpha_pair_valid(b"12345_!\"%&'()*+,-./LC"));
        assert!(alpha_pair_valid(b"22"));
        assert!(!alpha_pair_valid(b"33"));
        assert!(!alpha_pair_valid(b"1987654Ad4X4bL5ttr2310cXK"));
        assert!(!alpha_pair_valid(b"1987654Ad4X4bL5ttr2310c2X"));
        assert!(!alpha_pair_valid(b"2"));
        assert!(!alpha_pair_valid(b" 2345678901234567890123NT"));
    }
}
