//! The GCP-partitioned schemes of TDS 1.x (SGTIN-96 … ITIP-212): filter, partition, company prefix, reference,
//! last field; then the GS1 key rebuilt with its check digit.

use super::bits::Bits;
use super::schemes::{Family, Field, PARTITIONS};
use super::{Element, Fail, fields};
use crate::identifier::gs1::check_digit::mod10_digit;

/// Bits of the reserved field of SSCC-96, GSRN-96 and GSRNP-96.
const RESERVED_BITS: usize = 24;
/// Serial bits of CPI-96 and CPI-var.
const CPI96_SERIAL_BITS: usize = 31;
const CPIVAR_SERIAL_BITS: usize = 40;
/// Bits of the ITIP piece and total fields (two digits each).
const ITIP_PART_BITS: usize = 7;
/// The longest GIAI and CPI (AIs 8004, 8010): 30 characters.
const MAX_GIAI_CPI: usize = 30;

/// `body` followed by its GS1 mod-10 check digit.
fn with_check_digit(body: String) -> Result<String, Fail> {
    let check = mod10_digit(body.as_bytes()).ok_or(Fail::Invalid("a key holds a non-digit"))?;
    let mut key = body;
    key.push(char::from(check));
    Ok(key)
}

/// The key of the SGTIN, SSCC and ITIP: the reference's first digit (indicator or extension) goes in front.
fn lead_digit_key(cp: &str, reference: &str) -> Result<String, Fail> {
    let (lead, rest) = reference.split_at(1.min(reference.len()));
    with_check_digit(format!("{lead}{cp}{rest}"))
}

fn last_field(bits: &mut Bits<'_>, field: Field) -> Result<String, Fail> {
    match field {
        Field::Int(width) => fields::integer(bits, width),
        Field::Str7(width) => fields::chars7(bits, width),
        Field::NumStr(width) => fields::numeric_string(bits, width),
    }
}

/// Decodes what follows the header of a classic scheme.
pub(super) fn decode(bits: &mut Bits<'_>, family: Family) -> Result<Vec<Element>, Fail> {
    let _filter = bits.read(3)?;
    let partition = bits.read(3)? as usize;
    let &(cp_bits, cp_digits) = PARTITIONS
        .get(partition)
        .ok_or(Fail::Invalid("invalid partition value 7"))?;
    let cp = fields::padded(bits.read(cp_bits)?, cp_digits)?;
    let (total_bits, total_digits) = family.partition_total();
    let ref_bits = total_bits.saturating_sub(cp_bits);
    // the reference of the fixed-digit families: zero-padded to the digits the partition leaves
    let reference =
        |bits: &mut Bits<'_>| fields::padded(bits.read(ref_bits)?, total_digits - cp_digits);
    let out = match family {
        Family::Sgtin(serial) => {
            let gtin = lead_digit_key(&cp, &reference(bits)?)?;
            vec![("01", gtin), ("21", last_field(bits, serial)?)]
        }
        Family::Sscc => {
            let sscc = lead_digit_key(&cp, &reference(bits)?)?;
            bits.zeros(RESERVED_BITS, "non-zero reserved bits")?;
            vec![("00", sscc)]
        }
        Family::Gsrn(ai) => {
            let gsrn = with_check_digit(cp + &reference(bits)?)?;
            bits.zeros(RESERVED_BITS, "non-zero reserved bits")?;
            vec![(ai, gsrn)]
        }
        Family::Sgln(extension) => {
            let gln = with_check_digit(cp + &reference(bits)?)?;
            let ext = last_field(bits, extension)?;
            // TDS: an extension of 0 (SGLN-96) or of no characters (SGLN-195) means a GLN without (254)
            let mut out = vec![("414", gln)];
            if !ext.is_empty() && ext != "0" {
                out.push(("254", ext));
            }
            out
        }
        Family::Grai(serial) => {
            let grai = with_check_digit(format!("0{cp}{}", reference(bits)?))?;
            vec![("8003", grai + &last_field(bits, serial)?)]
        }
        Family::Gdti(serial) | Family::Sgcn(serial) => {
            let ai = if matches!(family, Family::Gdti(_)) {
                "253"
            } else {
                "255"
            };
            let key = with_check_digit(cp + &reference(bits)?)?;
            vec![(ai, key + &last_field(bits, serial)?)]
        }
        Family::Giai(Field::Int(_)) => vec![("8004", cp + &fields::integer(bits, ref_bits)?)],
        Family::Giai(_) => vec![("8004", cp + &fields::chars7(bits, ref_bits)?)],
        Family::Cpi96 => {
            let part = fields::integer(bits, ref_bits)?;
            let serial = fields::integer(bits, CPI96_SERIAL_BITS)?;
            vec![("8010", cp + &part), ("8011", serial)]
        }
        Family::CpiVar => {
            let part = fields::chars6_terminated(bits, MAX_GIAI_CPI - cp_digits)?;
            let serial = fields::integer(bits, CPIVAR_SERIAL_BITS)?;
            vec![("8010", cp + &part), ("8011", serial)]
        }
        Family::Itip(serial) => {
            let gtin = lead_digit_key(&cp, &reference(bits)?)?;
            let piece = fields::padded(bits.read(ITIP_PART_BITS)?, 2)?;
            let total = fields::padded(bits.read(ITIP_PART_BITS)?, 2)?;
            vec![
                ("8006", format!("{gtin}{piece}{total}")),
                ("21", last_field(bits, serial)?),
            ]
        }
    };
    Ok(out)
}
