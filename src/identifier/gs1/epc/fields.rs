//! One decoder per kind of field of the EPC Tag Data Standard: integers, zero-padded digit strings, the "numeric
//! string" with its leading marker digit, 7-bit and 6-bit character strings, and the TDS 14.5 methods of the "+"
//! schemes (digit nibbles, variable-length alphanumeric with its encoding indicator, dates).

use super::Fail;
use super::bits::Bits;

fn invalid<T>(reason: &'static str) -> Result<T, Fail> {
    Err(Fail::Invalid(reason))
}

/// `v` as exactly `digits` decimal digits, zero-padded; a value of more digits is invalid (0 digits hold only 0).
pub(super) fn padded(v: u128, digits: usize) -> Result<String, Fail> {
    let text = if v == 0 { String::new() } else { v.to_string() };
    if text.len() > digits {
        return invalid("a field holds more digits than its partition allows");
    }
    Ok(format!("{text:0>digits$}"))
}

/// An integer field printed in decimal without leading zeros (serials of the 96-bit schemes).
pub(super) fn integer(bits: &mut Bits<'_>, width: usize) -> Result<String, Fail> {
    Ok(bits.read(width)?.to_string())
}

/// A "numeric string" field (SGCN-96, GDTI-113): the integer's first digit is a `1` marking where the digits
/// start, so that leading zeros survive; it is dropped.
pub(super) fn numeric_string(bits: &mut Bits<'_>, width: usize) -> Result<String, Fail> {
    let text = bits.read(width)?.to_string();
    match text.strip_prefix('1') {
        Some(digits) if !digits.is_empty() => Ok(digits.to_owned()),
        _ => invalid("a numeric-string field lacks its leading 1 marker"),
    }
}

/// Whether `c` may stand in a decoded AI value: a printable ISO 646 character (the AI's own character set is
/// checked afterwards by the normal AI validation).
fn printable(c: u8) -> bool {
    (0x21..=0x7e).contains(&c)
}

/// A string of 7-bit characters in a field of `width` bits, right-padded with zero bits.
pub(super) fn chars7(bits: &mut Bits<'_>, width: usize) -> Result<String, Fail> {
    let mut out = String::new();
    let mut used = 0;
    while used + 7 <= width {
        let c = bits.peek(7)? as u8;
        if c == 0 {
            break;
        }
        if !printable(c) {
            return invalid("a 7-bit character field holds a control character");
        }
        bits.read(7)?;
        out.push(char::from(c));
        used += 7;
    }
    bits.zeros(
        width - used,
        "non-zero bits after the end of a character field",
    )?;
    Ok(out)
}

/// A 6-bit character string ended by a zero character (CPI-var part reference): 1–31 stand for `A`–`_`
/// (the value with bit 6 set), 32–63 for themselves.
pub(super) fn chars6_terminated(bits: &mut Bits<'_>, max: usize) -> Result<String, Fail> {
    let mut out = String::new();
    loop {
        // 6 bits: < 64
        let c = bits.read(6)? as u8;
        if c == 0 {
            return Ok(out);
        }
        if out.len() == max {
            return invalid("a 6-bit character field is longer than its scheme allows");
        }
        let c = if c < 0x20 { c | 0x40 } else { c };
        if !printable(c) {
            return invalid("a 6-bit character field holds a space");
        }
        out.push(char::from(c));
    }
}

/// `count` digits, one 4-bit nibble each (TDS 14.5.4 fixed-length numeric).
pub(super) fn nibbles(bits: &mut Bits<'_>, count: usize) -> Result<String, Fail> {
    (0..count)
        .map(|_| match bits.read(4)? {
            // < 10
            d @ 0..=9 => Ok(char::from(b'0' + d as u8)),
            _ => invalid("a digit nibble is greater than 9"),
        })
        .collect()
}

/// Bits of a numeric string of `digits` digits held as one integer: ceil(digits × log2 10) (TDS Table B).
pub(super) fn int_bits(digits: usize) -> usize {
    // 10^38 - 1 < 2^127; callers refuse longer values
    let digits = u32::try_from(digits.min(MAX_INT_DIGITS)).unwrap_or(38);
    (10u128.pow(digits) - 1)
        .checked_ilog2()
        .map_or(0, |log| log as usize + 1)
}

/// The most digits a `u128` holds.
const MAX_INT_DIGITS: usize = 38;

/// A digit string of `digits` digits held as one integer, zero-padded to that length.
fn digits_as_integer(bits: &mut Bits<'_>, digits: usize) -> Result<String, Fail> {
    if digits > MAX_INT_DIGITS {
        // only the 90-character AIs (91–99, 7256, 8030) could announce this many
        return invalid("a numeric value longer than 38 digits is not decoded");
    }
    padded(bits.read(int_bits(digits))?, digits)
}

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// TDS Table 14-8: the URN Code 40 alphabet (index 0 = no character).
const CODE40: &[u8; 40] = b"\0ABCDEFGHIJKLMNOPQRSTUVWXYZ-.:0123456789";

/// `len` characters of URN Code 40: 16 bits for each group of 3 (value = 1600·c1 + 40·c2 + c3 + 1).
pub(super) fn code40(bits: &mut Bits<'_>, len: usize) -> Result<String, Fail> {
    let mut out = String::new();
    for _ in 0..len.div_ceil(3) {
        let v = bits.read(16)?;
        if v == 0 || v > 64_000 {
            return invalid("invalid URN Code 40 group");
        }
        let v = (v - 1) as usize;
        for index in [v / 1600, v / 40 % 40, v % 40] {
            if index != 0 {
                out.push(char::from(CODE40[index]));
            }
        }
    }
    if out.len() != len {
        return invalid("URN Code 40 value of the wrong length");
    }
    Ok(out)
}

/// TDS 14.5.6: a 3-bit encoding indicator, a `len_bits` length indicator (at most `max`), then the characters.
pub(super) fn var_alnum(bits: &mut Bits<'_>, len_bits: usize, max: usize) -> Result<String, Fail> {
    let indicator = bits.read(3)?;
    let len = bits.read(len_bits)? as usize;
    if len > max {
        return invalid("a value is longer than its AI allows");
    }
    let each = |bits: &mut Bits<'_>, width: usize, map: &dyn Fn(u8) -> Option<u8>| {
        (0..len)
            .map(|_| {
                // width <= 7 bits
                let v = bits.read(width)? as u8;
                map(v).map(char::from).ok_or(Fail::Invalid(
                    "a 7-bit character outside the GS1 character sets",
                ))
            })
            .collect::<Result<String, Fail>>()
    };
    match indicator {
        0 => digits_as_integer(bits, len),
        1 => each(bits, 4, &|v| Some(b"0123456789ABCDEF"[usize::from(v)])),
        2 => each(bits, 4, &|v| Some(b"0123456789abcdef"[usize::from(v)])),
        3 => each(bits, 6, &|v| Some(BASE64URL[usize::from(v)])),
        4 => each(bits, 7, &|v| printable(v).then_some(v)),
        5 => code40(bits, len),
        _ => invalid("reserved encoding indicator"),
    }
}

/// TDS 14.5.13: a `len_bits` length indicator (at most `max` digits), then the digits as one integer.
pub(super) fn var_numeric(
    bits: &mut Bits<'_>,
    len_bits: usize,
    max: usize,
) -> Result<String, Fail> {
    let len = bits.read(len_bits)? as usize;
    if len > max {
        return invalid("a value is longer than its AI allows");
    }
    digits_as_integer(bits, len)
}

/// TDS 14.5.5: digit nibbles ended by `1111`, or by the delimiter `1110` and a variable-length alphanumeric rest.
pub(super) fn delimited(bits: &mut Bits<'_>, len_bits: usize, max: usize) -> Result<String, Fail> {
    let mut out = String::new();
    loop {
        match bits.read(4)? {
            // < 10
            d @ 0..=9 => out.push(char::from(b'0' + d as u8)),
            0b1111 => return Ok(out),
            0b1110 => {
                out += &var_alnum(bits, len_bits, max.saturating_sub(out.len()))?;
                return Ok(out);
            }
            _ => return invalid("invalid nibble in a delimited numeric value"),
        }
        if out.len() > max {
            return invalid("a value is longer than its AI allows");
        }
    }
}

/// Days of each month; 29 for February (the century is not known here: the AI's `yymmdd` linter decides).
const DAYS: &[u128] = &[31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/// TDS 14.5.8 (and 14.5.3, the prioritised date): YYMMDD in 16 bits (YY 7, MM 4, DD 5); DD 00 is allowed.
pub(super) fn date6(bits: &mut Bits<'_>) -> Result<String, Fail> {
    let (yy, mm, dd) = (bits.read(7)?, bits.read(4)?, bits.read(5)?);
    let days = usize::try_from(mm)
        .ok()
        .and_then(|m| DAYS.get(m.checked_sub(1)?));
    if yy > 99 || days.is_none_or(|&days| dd > days) {
        return invalid("a date field holds no valid date");
    }
    Ok(format!("{yy:02}{mm:02}{dd:02}"))
}

/// Hours (5 bits) then `more` fields of minutes/seconds (6 bits each), as two digits each (TDS 14.5.9, 14.5.11).
fn time(bits: &mut Bits<'_>, more: usize) -> Result<String, Fail> {
    let hh = bits.read(5)?;
    let mut out = format!("{hh:02}");
    for _ in 0..more {
        let v = bits.read(6)?;
        if v > 59 {
            return invalid("a time field holds no valid time");
        }
        out += &format!("{v:02}");
    }
    Ok(out)
}

/// TDS 14.5.9: YYMMDDhhmm.
pub(super) fn date_time10(bits: &mut Bits<'_>) -> Result<String, Fail> {
    Ok(date6(bits)? + &time(bits, 1)?)
}

/// TDS 14.5.10: one bit (0 a date, 1 a range), then one or two dates.
pub(super) fn date_or_range(bits: &mut Bits<'_>) -> Result<String, Fail> {
    let range = bits.read(1)? == 1;
    let first = date6(bits)?;
    if range {
        return Ok(first + &date6(bits)?);
    }
    Ok(first)
}

/// TDS 14.5.11: 2 bits of precision (00 hh, 01 hhmm, 10 hhmmss, 11 the date alone), the date, then the time.
pub(super) fn date_time_var(bits: &mut Bits<'_>) -> Result<String, Fail> {
    let precision = bits.read(2)?;
    let date = date6(bits)?;
    match precision {
        0 => Ok(date + &time(bits, 0)?),
        1 => Ok(date + &time(bits, 1)?),
        2 => Ok(date + &time(bits, 2)?),
        _ => Ok(date),
    }
}

/// TDS 14.5.12: an ISO 3166-1 alpha-2 code as two base64url letters (A–Z only).
pub(super) fn country(bits: &mut Bits<'_>) -> Result<String, Fail> {
    (0..2)
        .map(|_| match bits.read(6)? {
            // < 26
            v @ 0..=25 => Ok(char::from(b'A' + v as u8)),
            _ => invalid("a country code letter outside A-Z"),
        })
        .collect()
}

/// TDS 14.5.2: `digits` digits as an integer of `width` bits, zero-padded.
pub(super) fn fixed_bits(bits: &mut Bits<'_>, width: usize, digits: usize) -> Result<String, Fail> {
    padded(bits.read(width)?, digits)
}

/// TDS 14.5.14: one bit, 1 = a minus sign.
pub(super) fn minus(bits: &mut Bits<'_>) -> Result<String, Fail> {
    Ok(if bits.read(1)? == 1 { "-" } else { "" }.to_owned())
}

/// TDS 14.5.15: a sequence indicator `n/m`, two 4-bit numbers 1–9.
pub(super) fn sequence(bits: &mut Bits<'_>) -> Result<String, Fail> {
    let (n, m) = (bits.read(4)?, bits.read(4)?);
    if !(1..=9).contains(&n) || !(1..=9).contains(&m) {
        return invalid("a sequence indicator outside 1-9");
    }
    Ok(format!("{n}/{m}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Bits<'_> {
        Bits::hex(s.as_bytes())
    }

    #[test]
    fn padded_and_integer() {
        assert_eq!(padded(42, 5), Ok("00042".to_owned()));
        assert_eq!(padded(0, 0), Ok(String::new()));
        assert!(padded(1, 0).is_err());
        assert!(padded(100_000, 5).is_err());
        assert_eq!(integer(&mut hex("3039"), 16), Ok("12345".to_owned()));
    }

    #[test]
    fn numeric_string_drops_its_marker() {
        // 0x19907 = 104711 (SGCN-96 example of TDS Annex E.3)
        assert_eq!(
            numeric_string(&mut hex("19907"), 20),
            Ok("04711".to_owned())
        );
        assert!(numeric_string(&mut hex("00000"), 20).is_err());
        // 0x5 = 5: no leading 1
        assert!(numeric_string(&mut hex("5"), 4).is_err());
    }

    #[test]
    fn seven_bit_strings() {
        // "32a/b": 0110011 0110010 1100001 0101111 1100010, then zero bits to 40
        let mut bits = hex("66cb0afc40");
        assert_eq!(chars7(&mut bits, 40), Ok("32a/b".to_owned()));
        assert!(bits.rest_is_zero());
        // a character after a zero one
        assert!(chars7(&mut hex("0104"), 14).is_err());
        // a control character (0x01)
        assert!(chars7(&mut hex("0200"), 7).is_err());
    }

    #[test]
    fn six_bit_terminated() {
        // 'A' = 000001, '5' = 110101, end
        assert_eq!(
            chars6_terminated(&mut Bits::base64(b"B1A"), 10),
            Ok("A5".to_owned())
        );
        assert!(chars6_terminated(&mut Bits::base64(b"B1A"), 1).is_err());
        // never terminated
        assert!(chars6_terminated(&mut Bits::base64(b"B1"), 10).is_err());
    }

    #[test]
    fn digit_nibbles() {
        assert_eq!(nibbles(&mut hex("0952"), 4), Ok("0952".to_owned()));
        assert!(nibbles(&mut hex("09a2"), 4).is_err());
    }

    #[test]
    fn integer_widths_follow_table_b() {
        // ceil(L * log2 10)
        let want = [0, 4, 7, 10, 14, 17, 20, 24, 27, 30, 34, 37, 40];
        for (digits, bits) in want.iter().enumerate() {
            assert_eq!(int_bits(digits), *bits, "{digits}");
        }
        assert_eq!(int_bits(20), 67);
    }

    #[test]
    fn variable_alphanumeric_indicators() {
        // 000 numeric, length 4, 5678 in 14 bits (GDTI+ example): 000 00100 01011000101110
        assert_eq!(var_alnum(&mut hex("0458b8"), 5, 17), Ok("5678".to_owned()));
        // 001 upper hex, length 2: 001 00010 1010 1111 -> "AF"
        assert_eq!(var_alnum(&mut hex("22af"), 5, 20), Ok("AF".to_owned()));
        // 010 lower hex
        assert_eq!(var_alnum(&mut hex("42af"), 5, 20), Ok("af".to_owned()));
        // 011 base64url, length 6: "rif981" (ITIP+ example)
        assert_eq!(
            var_alnum(&mut hex("66ae27fdf35"), 5, 20),
            Ok("rif981".to_owned())
        );
        // 101 URN Code 40, length 3: "ABC" = 1600*1 + 40*2 + 3 + 1 = 1684 = 0x0694
        assert_eq!(var_alnum(&mut hex("a30694"), 5, 20), Ok("ABC".to_owned()));
        // 110 reserved
        assert!(var_alnum(&mut hex("c3"), 5, 20).is_err());
        // longer than the AI allows
        assert!(var_alnum(&mut hex("87"), 5, 6).is_err());
    }

    #[test]
    fn numeric_and_delimited() {
        // length 5, 4711 in 17 bits: 0101 00001001001100111
        assert_eq!(
            var_numeric(&mut hex("509338"), 4, 12),
            Ok("04711".to_owned())
        );
        assert!(var_numeric(&mut hex("d0"), 4, 12).is_err());
        // digits 9 5 2 then end
        assert_eq!(delimited(&mut hex("952f"), 5, 30), Ok("952".to_owned()));
        // delimiter then 7-bit "a/b": 1110 100 00011 1100001 0101111 1100010
        assert_eq!(
            delimited(&mut hex("1e83c2bf10"), 5, 30),
            Ok("1a/b".to_owned())
        );
        assert!(delimited(&mut hex("1c"), 5, 30).is_err());
        assert!(delimited(&mut hex("111"), 5, 30).is_err());
    }

    #[test]
    fn dates_and_times() {
        // 2CDE: 0010110 0110 11110 = 22, 06, 30
        assert_eq!(date6(&mut hex("2cde")), Ok("220630".to_owned()));
        // month 14
        assert!(date6(&mut hex("2dde")).is_err());
        // 31 September: 0010110 1001 11111
        assert!(date6(&mut hex("2d3f")).is_err());
        // 30 September, and day 00
        assert_eq!(date6(&mut hex("2d3e")), Ok("220930".to_owned()));
        assert_eq!(date6(&mut hex("2d20")), Ok("220900".to_owned()));
        // + 13:45 = 01101 101101
        assert_eq!(
            date_time10(&mut hex("2cde6da")),
            Ok("2206301345".to_owned())
        );
        // single date, then a range
        assert_eq!(date_or_range(&mut hex("166f0")), Ok("220630".to_owned()));
        assert_eq!(
            date_or_range(&mut hex("966f166f0")),
            Ok("220630220630".to_owned())
        );
        // precision 11: the date alone
        assert_eq!(date_time_var(&mut hex("cb378")), Ok("220630".to_owned()));
        // precision 00: hh 13
        assert_eq!(date_time_var(&mut hex("0b379a")), Ok("22063013".to_owned()));
    }

    #[test]
    fn country_fixed_bits_minus() {
        // 'D' = 3, 'E' = 4: 000011 000100
        assert_eq!(country(&mut hex("0c4")), Ok("DE".to_owned()));
        assert!(country(&mut hex("fc4")).is_err());
        assert_eq!(
            fixed_bits(&mut hex("003e8"), 20, 6),
            Ok("001000".to_owned())
        );
        assert!(fixed_bits(&mut hex("fffff"), 20, 6).is_err());
        assert_eq!(minus(&mut hex("8")), Ok("-".to_owned()));
        assert_eq!(minus(&mut hex("0")), Ok(String::new()));
        assert_eq!(sequence(&mut hex("23")), Ok("2/3".to_owned()));
        assert!(sequence(&mut hex("a3")).is_err());
        assert!(sequence(&mut hex("20")).is_err());
    }
}
