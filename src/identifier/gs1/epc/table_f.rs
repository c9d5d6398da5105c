//! The TDS 14.5 encoding methods of AI values in "+" schemes and +AIDC data, TDS Table K (how many digits an AI
//! has, by its first two) and TDS Table F (AI → the methods of its one or two components), as printed in TDS 2.3
//! section 15.3.

use super::Fail;
use super::bits::Bits;
use super::fields;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Method {
    /// 14.5.4: this many digits, a 4-bit nibble each.
    Nibbles(usize),
    /// 14.5.2: (bits, digits): the digits as one integer, zero-padded.
    FixedBits(usize, usize),
    /// 14.5.6: (length-indicator bits, maximum characters).
    VarAlnum(usize, usize),
    /// 14.5.13: (length-indicator bits, maximum digits).
    VarNumeric(usize, usize),
    /// 14.5.5: digit nibbles, then an optional variable-length alphanumeric rest (its length bits, maximum).
    Delimited(usize, usize),
    /// 14.5.8: YYMMDD in 16 bits.
    Date6,
    /// 14.5.9: YYMMDDhhmm.
    DateTime10,
    /// 14.5.10: a date or a date range.
    DateOrRange,
    /// 14.5.11: a date with hours, minutes and seconds as far as its precision says.
    DateTimeVar,
    /// 14.5.12: ISO 3166-1 alpha-2.
    Country,
    /// 14.5.7: one bit, `0` or `1`.
    Bit,
    /// 14.5.14: one bit, 1 = a trailing `-`.
    Minus,
    /// 14.5.15: two 4-bit numbers 1–9, as `n/m`.
    Sequence,
}

impl Method {
    pub(super) fn decode(self, bits: &mut Bits<'_>) -> Result<String, Fail> {
        match self {
            Method::Nibbles(n) => fields::nibbles(bits, n),
            Method::FixedBits(width, digits) => fields::fixed_bits(bits, width, digits),
            Method::VarAlnum(len_bits, max) => fields::var_alnum(bits, len_bits, max),
            Method::VarNumeric(len_bits, max) => fields::var_numeric(bits, len_bits, max),
            Method::Delimited(len_bits, max) => fields::delimited(bits, len_bits, max),
            Method::Date6 => fields::date6(bits),
            Method::DateTime10 => fields::date_time10(bits),
            Method::DateOrRange => fields::date_or_range(bits),
            Method::DateTimeVar => fields::date_time_var(bits),
            Method::Country => fields::country(bits),
            Method::Bit => Ok(bits.read(1)?.to_string()),
            Method::Minus => fields::minus(bits),
            Method::Sequence => fields::sequence(bits),
        }
    }
}

/// Decodes one value by its methods, concatenated.
pub(super) fn decode_all(methods: &[Method], bits: &mut Bits<'_>) -> Result<String, Fail> {
    let mut out = String::new();
    for method in methods {
        out += &method.decode(bits)?;
    }
    Ok(out)
}

use Method::{
    Bit, Country, Date6, DateOrRange, DateTime10, DateTimeVar, Delimited, FixedBits, Minus,
    Nibbles, Sequence, VarAlnum, VarNumeric,
};

/// TDS Table K: the number of digits of the AIs beginning with these two digits. `30` is missing from the table
/// as printed in TDS 2.3, though Table F has a row for (30); it is a 2-digit AI (GS1 General Specifications
/// Figure 7.8.1-2).
pub(super) fn ai_length(first_two: u8) -> Option<usize> {
    match first_two {
        0..=2 | 10..=13 | 15..=17 | 20..=22 | 30 | 37 | 90..=99 => Some(2),
        23..=25 | 40..=42 | 71 => Some(3),
        31..=36 | 39 | 43 | 70 | 72 | 80..=82 => Some(4),
        _ => None,
    }
}

/// The Table F row of an AI: the methods of its components, in order.
pub(super) fn row(ai: &str) -> Option<&'static [Method]> {
    let digits = ai.parse::<u16>().ok()?;
    let row: &'static [Method] = match (ai.len(), digits) {
        (2, 0) => &[Nibbles(18)],
        (2, 1 | 2) => &[Nibbles(14)],
        (2, 10 | 21 | 22) | (3, 243 | 254 | 420) | (3, 710..=716) => &[VarAlnum(5, 20)],
        (2, 11..=13 | 15..=17) => &[Date6],
        (2, 20) => &[FixedBits(7, 2)],
        (2, 30 | 37) => &[VarNumeric(4, 8)],
        (2, 90) => &[VarAlnum(5, 30)],
        (2, 91..=99) => &[VarAlnum(7, 90)],
        (3, 235) => &[VarAlnum(5, 28)],
        (3, 240 | 241 | 250 | 251 | 400 | 401 | 403) => &[VarAlnum(5, 30)],
        (3, 242) => &[VarNumeric(3, 6)],
        (3, 253) => &[Nibbles(13), VarAlnum(5, 17)],
        (3, 255) => &[Nibbles(13), VarNumeric(4, 12)],
        (3, 402) => &[FixedBits(57, 17)],
        (3, 410..=417) => &[Nibbles(13)],
        (3, 421) => &[FixedBits(10, 3), VarAlnum(4, 9)],
        (3, 422 | 424 | 426) => &[FixedBits(10, 3)],
        (3, 423 | 425) => &[VarNumeric(4, 15)],
        (3, 427) => &[VarAlnum(2, 3)],
        (4, 3100..=3695) if digits % 10 <= 5 => &[FixedBits(20, 6)],
        (4, 3900..=3909 | 3920..=3929) => &[VarNumeric(4, 15)],
        (4, 3910..=3919 | 3930..=3939) => &[FixedBits(10, 3), VarNumeric(4, 15)],
        (4, 3940..=3943) => &[FixedBits(14, 4)],
        (4, 3950..=3953) => &[FixedBits(20, 6)],
        (4, 4300 | 4301 | 4310 | 4311 | 4320) => &[VarAlnum(6, 35)],
        (4, 4302..=4306 | 4312..=4316 | 8110 | 8112 | 8200 | 7257) => &[VarAlnum(7, 70)],
        (4, 4307 | 4317) => &[Country],
        (4, 4308 | 4319 | 7002 | 7230..=7239) => &[VarAlnum(5, 30)],
        (4, 4309) => &[FixedBits(67, 20)],
        (4, 4318 | 7020..=7022 | 7240 | 8002 | 8012) => &[VarAlnum(5, 20)],
        (4, 4321..=4323) => &[Bit],
        (4, 4324 | 4325 | 7003) => &[DateTime10],
        (4, 4326 | 7006) => &[Date6],
        (4, 4330..=4333) => &[FixedBits(20, 6), Minus],
        (4, 7001) => &[FixedBits(44, 13)],
        (4, 7004) => &[VarNumeric(3, 4)],
        (4, 7005) => &[VarAlnum(4, 12)],
        (4, 7007) => &[DateOrRange],
        (4, 7008) => &[VarAlnum(2, 3)],
        (4, 7009 | 7255) => &[VarAlnum(4, 10)],
        (4, 7010) => &[VarAlnum(2, 2)],
        (4, 7011 | 8008) => &[DateTimeVar],
        (4, 7023 | 8004 | 8010) => &[Delimited(5, 30)],
        (4, 7030..=7039) => &[FixedBits(10, 3), VarAlnum(5, 27)],
        (4, 7040 | 7041) => &[VarAlnum(3, 4)],
        (4, 7241) => &[Nibbles(2)],
        (4, 7242 | 8013 | 8020) => &[VarAlnum(5, 25)],
        (4, 7250) => &[FixedBits(27, 8)],
        (4, 7251) => &[FixedBits(40, 12)],
        (4, 7252) => &[FixedBits(4, 1)],
        (4, 7253 | 7259) => &[VarAlnum(6, 40)],
        (4, 7254) => &[VarAlnum(6, 30)],
        (4, 7256 | 8030) => &[VarAlnum(7, 90)],
        (4, 7258) => &[Sequence],
        (4, 8001) => &[FixedBits(47, 14)],
        (4, 8003) => &[Nibbles(14), VarAlnum(5, 16)],
        (4, 8005) => &[FixedBits(20, 6)],
        (4, 8006 | 8017 | 8018 | 8026) => &[Nibbles(18)],
        (4, 8007) => &[VarAlnum(5, 24)],
        (4, 8009) => &[VarAlnum(6, 50)],
        (4, 8011) => &[VarNumeric(4, 12)],
        (4, 8019) => &[VarNumeric(4, 10)],
        (4, 8111) => &[FixedBits(14, 4)],
        _ => return None,
    };
    Some(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows() {
        assert_eq!(row("3103"), Some(&[FixedBits(20, 6)][..]));
        assert_eq!(row("3695"), Some(&[FixedBits(20, 6)][..]));
        // 3106 and 37nn four-digit AIs do not exist
        assert_eq!(row("3106"), None);
        assert_eq!(row("3703"), None);
        assert_eq!(row("4330"), Some(&[FixedBits(20, 6), Minus][..]));
        assert_eq!(row("253"), Some(&[Nibbles(13), VarAlnum(5, 17)][..]));
        assert_eq!(row("7007"), Some(&[DateOrRange][..]));
        // (03) and (8014) are intentionally absent from Table F
        assert_eq!(row("03"), None);
        assert_eq!(row("8014"), None);
    }

    #[test]
    fn table_k() {
        assert_eq!(ai_length(1), Some(2));
        assert_eq!(ai_length(41), Some(3));
        assert_eq!(ai_length(80), Some(4));
        assert_eq!(ai_length(14), None);
        assert_eq!(ai_length(99), Some(2));
    }

    #[test]
    fn decode_all_concatenates() {
        // 4330: 001000 in 20 bits, then the minus bit
        let mut bits = Bits::hex(b"003e88");
        assert_eq!(
            decode_all(&[FixedBits(20, 6), Minus], &mut bits),
            Ok("001000-".to_owned())
        );
        assert_eq!(Method::Bit.decode(&mut Bits::hex(b"8")), Ok("1".to_owned()));
    }
}
