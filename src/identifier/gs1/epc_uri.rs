//! EPC URIs (GS1 EPC Tag Data Standard, sections 6 and 12) to the AIs of their GS1 keys: pure identities
//! (`urn:epc:id:sgtin:0614141.812345.6789`), tag URIs (`urn:epc:tag:sgtin-96:3.0614141.812345.6789`, the filter
//! value first) and LGTIN classes (`urn:epc:class:lgtin:0614141.812345.ABC`). The company prefix and the reference
//! become the key, with its check digit computed; URI escapes (`%2F`) are decoded. The binary forms are `epc.rs`.

use super::carrier::CarrierError;
use super::check_digit::mod10_digit;
use super::error::excerpt;
use super::percent;

/// What an EPC URI said besides its AIs: where its company prefix ends, and the tag encoding and filter of a tag
/// URI. Enough to write the same URI back (`to_epc`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpcForm {
    /// Digits of the GS1 Company Prefix.
    pub gcp_digits: usize,
    /// A tag URI's encoding (`sgtin-96`) and filter value.
    pub tag: Option<(&'static str, u8)>,
}

/// AIs and their values, in element-string order.
pub(crate) type Elements = Vec<(&'static str, String)>;

/// The AIs, in element-string order, of an EPC URI, and its form.
pub(crate) fn elements(uri: &str) -> Result<(Elements, EpcForm), CarrierError> {
    // "urn:epc:" is case-insensitive (RFC 8141 namespace identifier); the rest is as the TDS writes it.
    let rest = &uri["urn:epc:".len()..];
    let (kind, rest) = rest
        .split_once(':')
        .ok_or_else(|| epc(format!("\"{}\" is not an EPC URI", excerpt(uri))))?;
    let mut tag = None;
    let (scheme, fields) = match kind {
        "id" => split_scheme(rest)?,
        "class" => split_scheme(rest)?,
        "tag" => {
            let rest = skip_control_info(rest)?;
            let (scheme, fields) = split_scheme(rest)?;
            let (encoding, base) = tag_scheme(scheme).ok_or_else(|| epc(unknown_tag(scheme)))?;
            let (filter, fields) = fields.split_once('.').ok_or_else(|| {
                epc(format!(
                    "{scheme}: expected the filter value, then the fields"
                ))
            })?;
            let filter = match filter.as_bytes() {
                [d @ b'0'..=b'7'] => d - b'0',
                _ => {
                    return Err(epc(format!(
                        "{scheme}: the filter value is one digit, 0 to 7"
                    )));
                }
            };
            tag = Some((encoding, filter));
            (base, fields)
        }
        _ => {
            return Err(epc(format!(
                "\"urn:epc:{}:\" has no GS1 key (pure identity urn:epc:id:, tag urn:epc:tag:, class urn:epc:class:lgtin:)",
                excerpt(kind)
            )));
        }
    };
    if kind == "class" && scheme != "lgtin" {
        return Err(epc(format!(
            "EPC class \"{}\" has no GS1 key",
            excerpt(scheme)
        )));
    }
    if kind != "class" && scheme == "lgtin" {
        return Err(epc("lgtin is a class: urn:epc:class:lgtin:…".into()));
    }
    // the last field may hold "." (TDS GS3A3 characters): split only as often as the scheme has fields
    let fields: Vec<&str> = fields.splitn(field_count(scheme), '.').collect();
    let elements = map(scheme, &fields)?;
    let form = EpcForm {
        gcp_digits: fields[0].len(),
        tag,
    };
    Ok((elements, form))
}

/// The TDS 2.x "+" schemes have no EPC URI: say so rather than "unknown".
fn unknown_tag(scheme: &str) -> String {
    if scheme.ends_with('+') {
        format!(
            "\"{}\": the TDS 2.x \"+\" schemes have no EPC tag URI (TDS defines them in binary only); give the EPC \
             binary string as a Digital Link path (/eh… or /ex…) or the element string",
            excerpt(scheme)
        )
    } else {
        format!("unknown EPC tag encoding \"{}\"", excerpt(scheme))
    }
}

fn epc(reason: String) -> CarrierError {
    CarrierError::Epc(reason)
}

fn split_scheme(rest: &str) -> Result<(&str, &str), CarrierError> {
    rest.split_once(':')
        .ok_or_else(|| epc("expected \"<scheme>:<fields>\"".into()))
}

/// A tag URI may start with control information: `[att=x01;umi=1]`.
fn skip_control_info(rest: &str) -> Result<&str, CarrierError> {
    match rest.strip_prefix('[') {
        None => Ok(rest),
        Some(r) => r
            .split_once(']')
            .map(|(_, after)| after)
            .ok_or_else(|| epc("unclosed \"[\" in the tag URI".into())),
    }
}

/// A tag encoding as the table spells it, and its pure-identity scheme (`sgtin-96` → `sgtin`).
fn tag_scheme(encoding: &str) -> Option<(&'static str, &'static str)> {
    const ENCODINGS: &[(&str, &str)] = &[
        ("sgtin-96", "sgtin"),
        ("sgtin-198", "sgtin"),
        ("sscc-96", "sscc"),
        ("sgln-96", "sgln"),
        ("sgln-195", "sgln"),
        ("grai-96", "grai"),
        ("grai-170", "grai"),
        ("giai-96", "giai"),
        ("giai-202", "giai"),
        ("gsrn-96", "gsrn"),
        ("gsrnp-96", "gsrnp"),
        ("gdti-96", "gdti"),
        ("gdti-113", "gdti"),
        ("gdti-174", "gdti"),
        ("sgcn-96", "sgcn"),
        ("cpi-96", "cpi"),
        ("cpi-var", "cpi"),
        ("itip-110", "itip"),
        ("itip-212", "itip"),
    ];
    ENCODINGS.iter().find(|(e, _)| *e == encoding).copied()
}

/// How many fields a scheme's URI has (an unknown scheme: split at every ".").
fn field_count(scheme: &str) -> usize {
    match scheme {
        "sscc" | "giai" | "gsrn" | "gsrnp" | "pgln" => 2,
        "itip" => 5,
        "sgtin" | "lgtin" | "sgln" | "grai" | "gdti" | "sgcn" | "cpi" | "upui" => 3,
        _ => usize::MAX,
    }
}

/// Each scheme's fields and its key: the TDS's correspondence between EPC and GS1 element strings.
fn map(scheme: &str, f: &[&str]) -> Result<Vec<(&'static str, String)>, CarrierError> {
    let want = |n: usize, names: &str| {
        if f.len() == n {
            Ok(())
        } else {
            Err(epc(format!(
                "{scheme}: expected {n} fields separated by \".\" ({names})"
            )))
        }
    };
    Ok(match scheme {
        "sgtin" => {
            want(3, "company prefix, indicator and item reference, serial")?;
            vec![("01", gtin(scheme, f[0], f[1])?), ("21", text(f[2])?)]
        }
        "lgtin" => {
            want(3, "company prefix, indicator and item reference, lot")?;
            vec![("01", gtin(scheme, f[0], f[1])?), ("10", text(f[2])?)]
        }
        "sscc" => {
            want(2, "company prefix, extension digit and serial reference")?;
            vec![("00", leading_digit_key(scheme, f[0], f[1], 17)?)]
        }
        "sgln" => {
            want(3, "company prefix, location reference, extension")?;
            let gln = key(scheme, f[0], f[1], 12)?;
            // An extension of "0" means none (TDS, SGLN); so, leniently, does an empty one.
            match text(f[2])? {
                ext if ext == "0" || ext.is_empty() => vec![("414", gln)],
                ext => vec![("414", gln), ("254", ext)],
            }
        }
        "grai" => {
            want(3, "company prefix, asset type, serial")?;
            let grai = key(scheme, f[0], f[1], 12)?;
            vec![("8003", format!("0{grai}{}", text(f[2])?))]
        }
        "giai" => {
            want(2, "company prefix, individual asset reference")?;
            company_prefix(scheme, f[0])?;
            vec![("8004", format!("{}{}", f[0], text(f[1])?))]
        }
        "gsrn" | "gsrnp" => {
            want(2, "company prefix, service reference")?;
            let ai = if scheme == "gsrn" { "8018" } else { "8017" };
            vec![(ai, key(scheme, f[0], f[1], 17)?)]
        }
        "gdti" | "sgcn" => {
            want(3, "company prefix, reference, serial")?;
            let ai = if scheme == "gdti" { "253" } else { "255" };
            vec![(
                ai,
                format!("{}{}", key(scheme, f[0], f[1], 12)?, text(f[2])?),
            )]
        }
        "cpi" => {
            want(3, "company prefix, component/part reference, serial")?;
            company_prefix(scheme, f[0])?;
            vec![
                ("8010", format!("{}{}", f[0], text(f[1])?)),
                ("8011", text(f[2])?),
            ]
        }
        "itip" => {
            want(
                5,
                "company prefix, indicator and item reference, piece, total, serial",
            )?;
            let pieces = [f[2], f[3]];
            if pieces.iter().any(|p| p.len() != 2 || !all_digits(p)) {
                return Err(epc("itip: piece and total are 2 digits each".into()));
            }
            let itip = format!("{}{}{}", gtin(scheme, f[0], f[1])?, f[2], f[3]);
            vec![("8006", itip), ("21", text(f[4])?)]
        }
        "pgln" => {
            want(2, "company prefix, party reference")?;
            vec![("417", key(scheme, f[0], f[1], 12)?)]
        }
        "upui" => {
            want(
                3,
                "company prefix, indicator and item reference, third-party controlled serial",
            )?;
            vec![("01", gtin(scheme, f[0], f[1])?), ("235", text(f[2])?)]
        }
        other => {
            return Err(epc(format!(
                "EPC scheme \"{}\" has no GS1 Digital Link equivalent",
                excerpt(other)
            )));
        }
    })
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A GS1 Company Prefix: 6 to 12 digits.
fn company_prefix(scheme: &str, cp: &str) -> Result<(), CarrierError> {
    if all_digits(cp) && (6..=12).contains(&cp.len()) {
        Ok(())
    } else {
        Err(epc(format!(
            "{scheme}: the company prefix \"{}\" must be 6 to 12 digits",
            excerpt(cp)
        )))
    }
}

/// Company prefix + reference (`digits` together, the reference may be empty) + check digit.
fn key(scheme: &str, cp: &str, reference: &str, digits: usize) -> Result<String, CarrierError> {
    company_prefix(scheme, cp)?;
    if !(reference.is_empty() || all_digits(reference)) || cp.len() + reference.len() != digits {
        return Err(epc(format!(
            "{scheme}: company prefix and reference must be {digits} digits together"
        )));
    }
    with_check_digit(format!("{cp}{reference}"))
}

/// GTIN: the reference's first digit (indicator) first, then company prefix and item reference, then the check digit.
fn gtin(scheme: &str, cp: &str, indicator_and_ref: &str) -> Result<String, CarrierError> {
    leading_digit_key(scheme, cp, indicator_and_ref, 13)
}

/// The keys whose reference starts with a digit that goes in front of the company prefix (GTIN indicator, SSCC
/// extension digit).
fn leading_digit_key(
    scheme: &str,
    cp: &str,
    reference: &str,
    digits: usize,
) -> Result<String, CarrierError> {
    company_prefix(scheme, cp)?;
    if !all_digits(reference) || cp.len() + reference.len() != digits {
        return Err(epc(format!(
            "{scheme}: company prefix and reference must be {digits} digits together, the reference at least one"
        )));
    }
    with_check_digit(format!("{}{cp}{}", &reference[..1], &reference[1..]))
}

fn with_check_digit(mut body: String) -> Result<String, CarrierError> {
    let check = mod10_digit(body.as_bytes()).ok_or_else(|| epc("not digits".into()))?;
    body.push(char::from(check));
    Ok(body)
}

/// A field as text: URI escapes decoded once.
fn text(field: &str) -> Result<String, CarrierError> {
    Ok(percent::decode(field)?.into_owned())
}
