//! The TDS 2.x "+" and "++" schemes: +AIDC data toggle, filter, [DSGTIN: prioritised date], the AIs of the key
//! encoded without their AI digits, [`++`: custom hostname], then +AIDC data (TDS 15.3): AI header, value by
//! Table F, repeated until the padding.

use super::bits::Bits;
use super::schemes::{DATE_TYPES, Encoded};
use super::{Element, Fail, fields, table_f};
use crate::identifier::gs1::format;

/// Decodes what follows the header of a "+" or "++" scheme.
pub(super) fn decode(
    bits: &mut Bits<'_>,
    dated: bool,
    hostname: bool,
    ais: &'static [Encoded],
) -> Result<Vec<Element>, Fail> {
    // the +AIDC data toggle only helps tag selection over the air: TDS 15.3 decodes whatever follows the EPC
    let _toggle = bits.read(1)?;
    let _filter = bits.read(3)?;
    let date = if dated {
        let ai = usize::try_from(bits.read(4)?)
            .ok()
            .and_then(|t| DATE_TYPES.get(t))
            .ok_or(Fail::Invalid("reserved DSGTIN+ date type"))?;
        Some((*ai, fields::date6(bits)?))
    } else {
        None
    };
    let mut out = Vec::with_capacity(ais.len() + 2);
    for &(ai, methods) in ais {
        out.push((ai, table_f::decode_all(methods, bits)?));
    }
    out.extend(date);
    if hostname {
        skip_hostname(bits)?;
    }
    aidc_data(bits, &mut out)?;
    Ok(out)
}

/// Bits of one character of a 7-bit hostname (TDS 14.5.16).
const HOST_CHAR_BITS: usize = 7;

/// TDS 14.5.16: a custom hostname (1 bit: 0 URN Code 40, 1 7-bit; 6-bit length). It is read to find what follows
/// it, not used: the resolver keeps the stem of the request (EPCB 4.2).
fn skip_hostname(bits: &mut Bits<'_>) -> Result<(), Fail> {
    let seven_bit = bits.read(1)? == 1;
    let len = bits.read(6)? as usize;
    if len == 0 {
        return Err(Fail::Invalid("empty custom hostname"));
    }
    if !seven_bit {
        return fields::code40(bits, len).map(drop);
    }
    // 7-bit characters; 0–3 start a 14-bit optimisation sequence (Tables 14-12 to 14-15) counted as two, and
    // 4–29 are not assigned
    let mut left = len;
    while left > 0 {
        let code = bits.read(HOST_CHAR_BITS)?;
        let units = match code {
            0..=3 => {
                bits.read(HOST_CHAR_BITS)?;
                2
            }
            4..=29 => return Err(Fail::Invalid("reserved hostname character")),
            _ => 1,
        };
        left = left
            .checked_sub(units)
            .ok_or(Fail::Invalid("hostname longer than its length indicator"))?;
    }
    Ok(())
}

/// Bits of a +AIDC data header: the AI's first two digits.
const HEADER_BITS: usize = 8;
/// Bits of an SSCC after its `00` header; a zero header with fewer bits after it is padding.
const SSCC_BITS: usize = 72;

/// TDS 15.3: +AIDC data after the EPC, until fewer than 8 bits remain or the rest is padding. All bits after the
/// last value must be zero.
fn aidc_data(bits: &mut Bits<'_>, out: &mut Vec<Element>) -> Result<(), Fail> {
    while bits.remaining() >= HEADER_BITS {
        // zero bits to the end are padding, however many (all zeros would otherwise read as an SSCC of zeros)
        if bits.rest_is_zero()
            || bits.peek(HEADER_BITS)? == 0 && bits.remaining() < HEADER_BITS + SSCC_BITS
        {
            break;
        }
        let ai = aidc_ai(bits)?;
        let methods = table_f::row(ai).ok_or(Fail::Invalid(
            "+AIDC data names an AI that TDS Table F does not list",
        ))?;
        out.push((ai, table_f::decode_all(methods, bits)?));
    }
    if !bits.rest_is_zero() {
        return Err(Fail::Invalid("non-zero bits after the end of the EPC"));
    }
    Ok(())
}

/// An AI header of +AIDC data: two digit nibbles, then as many more as Table K says.
fn aidc_ai(bits: &mut Bits<'_>) -> Result<&'static str, Fail> {
    let digit = |bits: &mut Bits<'_>| match bits.read(4)? {
        // < 10
        d @ 0..=9 => Ok(d as u8),
        _ => Err(Fail::Invalid(
            "+AIDC data header with a nibble A-F (special or reserved)",
        )),
    };
    let (first, second) = (digit(bits)?, digit(bits)?);
    let len = table_f::ai_length(first * 10 + second).ok_or(Fail::Invalid(
        "no GS1 AI begins with the two digits of a +AIDC data header",
    ))?;
    let mut ai = [b'0' + first, b'0' + second, 0, 0];
    for slot in &mut ai[2..len] {
        *slot = b'0' + digit(bits)?;
    }
    let ai = std::str::from_utf8(&ai[..len]).unwrap_or_default();
    format::lookup_ai(ai)
        .map(|entry| entry.ai)
        .ok_or(Fail::Invalid("+AIDC data names an unknown AI"))
}
