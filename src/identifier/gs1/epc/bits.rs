//! A bounds-checked bit reader over the characters of an `eh` (4 bits each) or `ex` (6 bits each) segment, most
//! significant bit first. Nothing is copied: each read looks the characters up again.

use super::Fail;

/// Bits of one `eh` character.
const HEX_BITS: usize = 4;
/// Bits of one `ex` character.
const BASE64_BITS: usize = 6;

pub(super) struct Bits<'a> {
    chars: &'a [u8],
    width: usize,
    pos: usize,
}

/// The value of a lower-case hex digit; callers checked the character set.
fn hex_value(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => 0,
    }
}

/// The index of a base64url character (RFC 4648 §5); callers checked the character set.
fn base64_value(c: u8) -> u8 {
    match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        _ => 63,
    }
}

impl<'a> Bits<'a> {
    /// Over `eh` hex digits.
    pub(super) fn hex(chars: &'a [u8]) -> Self {
        Self {
            chars,
            width: HEX_BITS,
            pos: 0,
        }
    }

    /// Over `ex` base64url characters.
    pub(super) fn base64(chars: &'a [u8]) -> Self {
        Self {
            chars,
            width: BASE64_BITS,
            pos: 0,
        }
    }

    fn len(&self) -> usize {
        self.chars.len() * self.width
    }

    pub(super) fn remaining(&self) -> usize {
        self.len() - self.pos
    }

    fn bit(&self, i: usize) -> u128 {
        let c = self.chars[i / self.width];
        let value = if self.width == HEX_BITS {
            hex_value(c)
        } else {
            base64_value(c)
        };
        u128::from((value >> (self.width - 1 - i % self.width)) & 1)
    }

    /// The next `n` (at most 128) bits as an unsigned integer, without consuming them.
    pub(super) fn peek(&self, n: usize) -> Result<u128, Fail> {
        if n > 128 || n > self.remaining() {
            return Err(Fail::Invalid(
                "the binary string ends before the field it announces",
            ));
        }
        Ok((self.pos..self.pos + n).fold(0, |acc, i| acc << 1 | self.bit(i)))
    }

    /// Takes the next `n` (at most 128) bits as an unsigned integer.
    pub(super) fn read(&mut self, n: usize) -> Result<u128, Fail> {
        let v = self.peek(n)?;
        self.pos += n;
        Ok(v)
    }

    /// Takes `n` bits (any number) that must all be zero: reserved bits and padding.
    pub(super) fn zeros(&mut self, n: usize, what: &'static str) -> Result<(), Fail> {
        if n > self.remaining() {
            return Err(Fail::Invalid(
                "the binary string ends before the field it announces",
            ));
        }
        if (self.pos..self.pos + n).any(|i| self.bit(i) != 0) {
            return Err(Fail::Invalid(what));
        }
        self.pos += n;
        Ok(())
    }

    /// Whether every bit left is zero (word padding after the last field).
    pub(super) fn rest_is_zero(&self) -> bool {
        (self.pos..self.len()).all(|i| self.bit(i) == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_msb_first_across_characters() {
        let mut bits = Bits::hex(b"a5f");
        assert_eq!(bits.remaining(), 12);
        assert_eq!(bits.read(3), Ok(0b101));
        assert_eq!(bits.read(6), Ok(0b001011));
        assert_eq!(bits.peek(3), Ok(0b111));
        assert_eq!(bits.read(3), Ok(0b111));
        assert!(bits.read(1).is_err());
        // base64url: 'B' = 1, '_' = 63
        let mut bits = Bits::base64(b"B_");
        assert_eq!(bits.read(12), Ok(0x7F));
    }

    #[test]
    fn bounds_and_zero_runs() {
        let mut bits = Bits::hex(b"0010");
        assert!(bits.peek(17).is_err());
        assert!(bits.peek(129).is_err());
        assert_eq!(bits.zeros(8, "x"), Ok(()));
        assert!(!bits.rest_is_zero());
        assert_eq!(bits.zeros(8, "x"), Err(Fail::Invalid("x")));
        let mut long = Bits::hex(b"ffffffffffffffffffffffffffffffffff");
        assert_eq!(long.read(128), Ok(u128::MAX));
        assert_eq!(long.read(8), Ok(0xff));
    }
}
