//! Named check-digit algorithms that identifier-scheme files can refer to (`check_digit = "abn-mod89"`).

use serde::Deserialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum CheckDigit {
    /// GS1 mod-10 over all digits (GTIN, GLN, SSCC…): the last digit is the check digit.
    #[serde(rename = "gs1-mod10")]
    Gs1Mod10,
    /// ISO 7064 MOD 97-10 (LEI, ISO 17442; IBAN's rule): letters count as 10–35, the whole number mod 97 is 1.
    #[serde(rename = "iso7064-mod97-10")]
    Mod97_10,
    /// Australian Business Number: first digit minus one, weighted sum divisible by 89.
    #[serde(rename = "abn-mod89")]
    AbnMod89,
    /// ISO 7064 MOD 11-2 (ISNI, ORCID): the last character is a digit or `X`.
    #[serde(rename = "iso7064-mod11-2")]
    Mod11_2,
}

impl CheckDigit {
    pub fn name(self) -> &'static str {
        match self {
            CheckDigit::Gs1Mod10 => "gs1-mod10",
            CheckDigit::Mod97_10 => "iso7064-mod97-10",
            CheckDigit::AbnMod89 => "abn-mod89",
            CheckDigit::Mod11_2 => "iso7064-mod11-2",
        }
    }

    /// Whether `value` (already matched against the scheme's pattern) carries a correct check digit.
    pub fn is_valid(self, value: &str) -> bool {
        let bytes = value.as_bytes();
        match self {
            CheckDigit::Gs1Mod10 => {
                bytes.len() > 1
                    && bytes.iter().all(u8::is_ascii_digit)
                    && super::gs1::mod10_valid(bytes)
            }
            CheckDigit::Mod97_10 => mod97_10(bytes),
            CheckDigit::AbnMod89 => abn(bytes),
            CheckDigit::Mod11_2 => mod11_2(bytes),
        }
    }
}

fn mod97_10(bytes: &[u8]) -> bool {
    if bytes.len() < 3 {
        return false;
    }
    let mut rem: u32 = 0;
    for &b in bytes {
        rem = match b {
            b'0'..=b'9' => (rem * 10 + u32::from(b - b'0')) % 97,
            b'A'..=b'Z' => (rem * 100 + u32::from(b - b'A') + 10) % 97,
            _ => return false,
        };
    }
    rem == 1
}

fn abn(bytes: &[u8]) -> bool {
    const WEIGHTS: [u32; 11] = [10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19];
    if bytes.len() != 11 || !bytes.iter().all(u8::is_ascii_digit) || bytes[0] == b'0' {
        return false;
    }
    let sum: u32 = bytes
        .iter()
        .zip(WEIGHTS)
        .enumerate()
        .map(|(i, (&b, w))| (u32::from(b - b'0') - u32::from(i == 0)) * w)
        .sum();
    sum % 89 == 0
}

fn mod11_2(bytes: &[u8]) -> bool {
    let Some((&check, body)) = bytes.split_last() else {
        return false;
    };
    if body.is_empty() || !body.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let total = body
        .iter()
        .fold(0u32, |t, &b| (t + u32::from(b - b'0')) * 2 % 11);
    let expected = (12 - total % 11) % 11;
    match check {
        b'X' => expected == 10,
        b'0'..=b'9' => expected == u32::from(check - b'0'),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::CheckDigit::*;

    // Published identifiers, not values computed by this code.
    #[test]
    fn lei_mod97_10() {
        for lei in [
            "5493001KJTIIGC8Y1R12",
            "HWUPKR0MPOU8FGXBT394",
            "7LTWFZYICNSX8D621K86",
            "529900T8BM49AURSDO55",
        ] {
            assert!(Mod97_10.is_valid(lei), "{lei}");
        }
        assert!(!Mod97_10.is_valid("5493001KJTIIGC8Y1R13"));
        assert!(!Mod97_10.is_valid("5493001KJTIIGC8Y1R21"), "swapped digits");
        assert!(!Mod97_10.is_valid("5493001kjtiigc8y1r12"), "lower case");
    }

    #[test]
    fn abn_mod89() {
        // The ATO's own ABN, and the ABR's worked example.
        assert!(AbnMod89.is_valid("51824753556"));
        assert!(AbnMod89.is_valid("53004085616"));
        assert!(!AbnMod89.is_valid("51824753557"));
        assert!(!AbnMod89.is_valid("15824753556"));
        assert!(!AbnMod89.is_valid("5182475355"), "ten digits");
    }

    #[test]
    fn mod11_2_orcid_isni() {
        assert!(Mod11_2.is_valid("0000000218250097"));
        assert!(Mod11_2.is_valid("000000021694233X"));
        assert!(Mod11_2.is_valid("0000000121032683"));
        assert!(!Mod11_2.is_valid("0000000218250098"));
        assert!(!Mod11_2.is_valid("000000021694233x"));
    }

    #[test]
    fn gs1_mod10() {
        assert!(Gs1Mod10.is_valid("09520123456788"));
        assert!(Gs1Mod10.is_valid("9520123456788"));
        assert!(!Gs1Mod10.is_valid("09520123456787"));
        assert!(!Gs1Mod10.is_valid("0952012345678A"));
    }
}
