//! A Digital Link back to its EPC URIs (GS1 EPC Tag Data Standard, sections 6 and 12): the pure identity
//! (`urn:epc:id:sgtin:0614141.812345.6789`, an LGTIN class `urn:epc:class:lgtin:…`) and, when a tag encoding and
//! a filter value are chosen, the tag URI (`urn:epc:tag:sgtin-96:3.0614141.812345.6789`). The reverse of
//! `epc_uri`.
//!
//! Every EPC URI splits its GS1 key after the GS1 Company Prefix, whose length the key does not tell: the caller
//! gives it (6 to 12 digits). The TDS 2.x "+" schemes carry whole AI values and need no split, but they have no
//! EPC URI (TDS 2.x defines them in binary only; their text forms are the element string and the Digital Link URI),
//! so nothing here applies to them.

use super::DigitalLink;

/// The GS1 Company Prefix lengths the TDS partition tables allow.
pub const GCP_DIGITS: std::ops::RangeInclusive<usize> = 6..=12;

/// Why a Digital Link has no EPC URI of the kind asked for. `parameter` names the request parameter at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToEpcError {
    #[error(
        "the EPC URI of AI ({ai}) splits its value after the GS1 Company Prefix: give its length in digits (6 to 12)"
    )]
    GcpLengthMissing { ai: &'static str },
    #[error("the GS1 Company Prefix length must be a number from 6 to 12, not \"{0}\"")]
    GcpLengthRange(String),
    #[error("a {gcp}-digit GS1 Company Prefix does not fit AI ({ai}): {reason}")]
    GcpLengthMismatch {
        gcp: usize,
        ai: &'static str,
        reason: &'static str,
    },
    #[error("{0}")]
    NoEpc(String),
    #[error(
        "unknown EPC tag encoding \"{0}\" (sgtin-96, sgtin-198, sscc-96, sgln-96, sgln-195, grai-96, grai-170, giai-96, giai-202, gsrn-96, gsrnp-96, gdti-96, gdti-113, gdti-174, sgcn-96, cpi-96, cpi-var, itip-110, itip-212)"
    )]
    UnknownEncoding(String),
    #[error("tag encoding {encoding} is for {scheme} EPCs, and this identifier is {actual}")]
    WrongScheme {
        encoding: &'static str,
        scheme: &'static str,
        actual: &'static str,
    },
    #[error("{encoding} cannot hold {field} \"{value}\": {reason}")]
    DoesNotFit {
        encoding: &'static str,
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error("the filter value must be one digit from 0 to 7, not \"{0}\"")]
    Filter(String),
    #[error("a filter value belongs to a tag URI: give the tag encoding (epcTag) too")]
    FilterWithoutTag,
}

impl ToEpcError {
    /// The request parameter (of `/api/v1/convert`) the error is about.
    pub fn parameter(&self) -> &'static str {
        match self {
            ToEpcError::GcpLengthMissing { .. }
            | ToEpcError::GcpLengthRange(_)
            | ToEpcError::GcpLengthMismatch { .. } => "gcpLength",
            ToEpcError::NoEpc(_) => "data",
            ToEpcError::UnknownEncoding(_)
            | ToEpcError::WrongScheme { .. }
            | ToEpcError::DoesNotFit { .. } => "epcTag",
            ToEpcError::Filter(_) | ToEpcError::FilterWithoutTag => "filter",
        }
    }
}

/// Reads a GS1 Company Prefix length as given (`"7"`).
pub fn gcp_length(text: &str) -> Result<usize, ToEpcError> {
    text.parse::<usize>()
        .ok()
        .filter(|n| GCP_DIGITS.contains(n) && !text.starts_with('+'))
        .ok_or_else(|| ToEpcError::GcpLengthRange(super::excerpt(text)))
}

/// Reads a filter value (`"3"`).
pub fn filter_value(text: &str) -> Result<u8, ToEpcError> {
    match text.as_bytes() {
        [d @ b'0'..=b'7'] => Ok(d - b'0'),
        _ => Err(ToEpcError::Filter(super::excerpt(text))),
    }
}

/// An EPC identity: its scheme and its fields, each as the URI writes it (escaped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Epc {
    /// `sgtin`, `lgtin`, …
    pub scheme: &'static str,
    /// The GS1 Company Prefix first, then the scheme's other fields.
    pub fields: Vec<String>,
    /// The key qualifiers of the Digital Link that the EPC has no field for (a batch and a CPV beside a serial), so
    /// the EPC names a coarser key: `01/…/21/…` for `01/…/22/…/10/…/21/…`.
    pub not_carried: Vec<String>,
}

impl Epc {
    /// `urn:epc:id:sgtin:…`, or `urn:epc:class:lgtin:…` for a GTIN with a batch and no serial.
    pub fn pure_identity(&self) -> String {
        let kind = if self.scheme == "lgtin" {
            "class"
        } else {
            "id"
        };
        format!("urn:epc:{kind}:{}:{}", self.scheme, self.fields.join("."))
    }

    /// `urn:epc:tag:sgtin-96:3.…`: the tag URI of a tag encoding, if the values fit it.
    pub fn tag_uri(&self, encoding: &str, filter: u8) -> Result<String, ToEpcError> {
        let tag = TAGS
            .iter()
            .find(|t| t.name == encoding)
            .ok_or_else(|| ToEpcError::UnknownEncoding(super::excerpt(encoding)))?;
        if tag.scheme != self.scheme {
            return Err(ToEpcError::WrongScheme {
                encoding: tag.name,
                scheme: tag.scheme,
                actual: self.scheme,
            });
        }
        let gcp_bits = partition_bits(self.fields[0].len());
        // the field after the company prefix and reference (for GIAI and CPI, the reference itself), and CPI's serial
        let checks = std::iter::once((tag.checked, tag.field_name, tag.last))
            .chain(tag.also.map(|(index, rule)| (index, "serial", rule)));
        for (index, name, rule) in checks {
            if let Some(value) = self.fields.get(index) {
                fits(tag.name, name, value, rule, gcp_bits)?;
            }
        }
        // a GLN without extension is extension 0 in either SGLN encoding's URI, as in the pure identity
        Ok(format!(
            "urn:epc:tag:{}:{filter}.{}",
            tag.name,
            self.fields.join(".")
        ))
    }
}

/// A tag encoding's name as the table spells it (`sgtin-96`), if idr writes it.
pub fn tag_encoding(name: &str) -> Option<&'static str> {
    TAGS.iter().find(|t| t.name == name).map(|t| t.name)
}

/// How a tag encoding holds one field.
#[derive(Clone, Copy, Debug)]
enum Rule {
    /// A decimal integer without leading zeros below 2^bits.
    Int(usize),
    /// An integer below 2^(bits − the company prefix's bits) (GIAI-96, CPI-96 part references).
    IntAfterGcp(usize),
    /// Digits, at most this many (a leading zero allowed).
    Digits(usize),
    /// 7-bit characters, at most this many.
    Chars(usize),
    /// At most 30 characters with the company prefix (GIAI-202, CPI-var), 7-bit.
    CharsAfterGcp,
    /// CPI-var's 6-bit part reference: digits, upper-case letters, `#`, `-`, `/`; 30 with the company prefix.
    Cpi6,
}

struct Tag {
    name: &'static str,
    scheme: &'static str,
    /// Index in `Epc::fields` of the field `last` constrains, and its name in messages.
    checked: usize,
    field_name: &'static str,
    last: Rule,
    /// A second constrained field (CPI's serial).
    also: Option<(usize, Rule)>,
}

const fn tag(name: &'static str, scheme: &'static str, checked: usize, last: Rule) -> Tag {
    Tag {
        name,
        scheme,
        checked,
        field_name: if checked == 1 { "reference" } else { "serial" },
        last,
        also: None,
    }
}

/// The tag encodings of the schemes with a Digital Link equivalent (TDS 2.3 section 14), and how each holds its
/// last field. SSCC-96, GSRN-96 and GSRNP-96 hold every key.
static TAGS: &[Tag] = &[
    tag("sgtin-96", "sgtin", 2, Rule::Int(38)),
    tag("sgtin-198", "sgtin", 2, Rule::Chars(20)),
    tag("sscc-96", "sscc", 9, Rule::Digits(0)),
    tag("sgln-96", "sgln", 2, Rule::Int(41)),
    tag("sgln-195", "sgln", 2, Rule::Chars(20)),
    tag("grai-96", "grai", 2, Rule::Int(38)),
    tag("grai-170", "grai", 2, Rule::Chars(16)),
    tag("giai-96", "giai", 1, Rule::IntAfterGcp(82)),
    tag("giai-202", "giai", 1, Rule::CharsAfterGcp),
    tag("gsrn-96", "gsrn", 9, Rule::Digits(0)),
    tag("gsrnp-96", "gsrnp", 9, Rule::Digits(0)),
    tag("gdti-96", "gdti", 2, Rule::Int(41)),
    tag("gdti-113", "gdti", 2, Rule::Digits(17)),
    tag("gdti-174", "gdti", 2, Rule::Chars(17)),
    tag("sgcn-96", "sgcn", 2, Rule::Digits(12)),
    Tag {
        also: Some((2, Rule::Int(31))),
        ..tag("cpi-96", "cpi", 1, Rule::IntAfterGcp(51))
    },
    Tag {
        also: Some((2, Rule::Int(40))),
        ..tag("cpi-var", "cpi", 1, Rule::Cpi6)
    },
    tag("itip-110", "itip", 4, Rule::Int(38)),
    tag("itip-212", "itip", 4, Rule::Chars(20)),
];

/// Bits of a company prefix of `digits` digits (TDS partition tables).
fn partition_bits(digits: usize) -> usize {
    match digits {
        12 => 40,
        11 => 37,
        10 => 34,
        9 => 30,
        8 => 27,
        7 => 24,
        _ => 20,
    }
}

fn fits(
    encoding: &'static str,
    field: &'static str,
    escaped: &str,
    rule: Rule,
    gcp_bits: usize,
) -> Result<(), ToEpcError> {
    let value = super::percent::decode(escaped)
        .map(|v| v.into_owned())
        .unwrap_or_else(|_| escaped.to_string());
    let no = |reason: String| ToEpcError::DoesNotFit {
        encoding,
        field,
        value: super::excerpt(&value),
        reason,
    };
    let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    let int = |bits: usize| {
        if !digits || (value.len() > 1 && value.starts_with('0')) {
            return Err(no("an integer without leading zeros is needed".into()));
        }
        match value.parse::<u128>() {
            Ok(n) if n < 1u128 << bits => Ok(()),
            _ => Err(no(format!("the value must be below 2^{bits}"))),
        }
    };
    match rule {
        Rule::Int(bits) => int(bits),
        Rule::IntAfterGcp(bits) => int(bits - gcp_bits),
        Rule::Digits(0) => Ok(()),
        Rule::Digits(n) if digits && value.len() <= n => Ok(()),
        Rule::Digits(n) => Err(no(format!("at most {n} digits"))),
        Rule::Chars(n) if value.len() <= n => Ok(()),
        Rule::Chars(n) => Err(no(format!("at most {n} characters"))),
        // the AI holds 30 characters with the company prefix, and so do these encodings
        Rule::CharsAfterGcp => Ok(()),
        Rule::Cpi6
            if value
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'Z' | b'#' | b'-' | b'/')) =>
        {
            Ok(())
        }
        Rule::Cpi6 => Err(no(
            "only digits, upper-case letters, #, - and / (6-bit characters)".into(),
        )),
    }
}

/// The EPC of a Digital Link's key, its company prefix `gcp` digits long (6 to 12). An instance (a GTIN with a
/// serial, an SSCC, a GLN, …) is a pure identity; a GTIN with a batch and no serial an LGTIN class. Key qualifiers
/// the EPC has no field for (a batch beside a serial, a CPV) are not in it.
pub fn epc_of(link: &DigitalLink, gcp: Option<usize>) -> Result<Epc, ToEpcError> {
    let key = &link.key;
    let ai = key.primary_ai();
    let value = key.primary_value();
    let qualifier = |q: &str| key.qualifiers().find(|(a, _)| *a == q).map(|(_, v)| v);
    // which scheme first, so that a key without an EPC says so whatever the company prefix length
    let scheme = match ai {
        "01" if qualifier("21").is_some() => "sgtin",
        "01" if qualifier("10").is_some() => "lgtin",
        "01" if qualifier("235").is_some() => "upui",
        "01" => {
            return Err(ToEpcError::NoEpc(
                "a GTIN has an EPC with a serial (21: SGTIN), a batch (10: LGTIN class) or a third-party serial (235: UPUI)"
                    .into(),
            ));
        }
        "00" => "sscc",
        "414" => "sgln",
        "417" => "pgln",
        "8003" => "grai",
        "8004" => "giai",
        "8018" => "gsrn",
        "8017" => "gsrnp",
        "253" => "gdti",
        "255" => "sgcn",
        "8010" => "cpi",
        "8006" if qualifier("21").is_some() => "itip",
        "8006" => {
            return Err(ToEpcError::NoEpc(
                "an ITIP has an EPC with a serial (21) only".into(),
            ));
        }
        other => {
            return Err(ToEpcError::NoEpc(format!(
                "AI ({other}) has no EPC URI (TDS 2.3 section 6)"
            )));
        }
    };
    let gcp = gcp.ok_or(ToEpcError::GcpLengthMissing { ai })?;
    if !GCP_DIGITS.contains(&gcp) {
        return Err(ToEpcError::GcpLengthRange(gcp.to_string()));
    }
    let mismatch = |reason| ToEpcError::GcpLengthMismatch { gcp, ai, reason };
    // the key without its check digit, its indicator or extension digit moved after the company prefix
    let lead_digit = |digits: &str| -> Result<[String; 2], ToEpcError> {
        let body = &digits[..digits.len() - 1];
        let (lead, rest) = body.split_at(1);
        if gcp > rest.len() {
            return Err(mismatch("the prefix is longer than the key"));
        }
        Ok([rest[..gcp].to_string(), format!("{lead}{}", &rest[gcp..])])
    };
    let split = |digits: &str| -> Result<[String; 2], ToEpcError> {
        if gcp > digits.len() {
            return Err(mismatch("the prefix is longer than the key"));
        }
        Ok([digits[..gcp].to_string(), digits[gcp..].to_string()])
    };
    let serial = |q: &str| qualifier(q).map(escape).unwrap_or_default();
    let fields: Vec<String> = match scheme {
        "sgtin" | "lgtin" => {
            let [cp, reference] = lead_digit(value)?;
            vec![
                cp,
                reference,
                serial(if scheme == "sgtin" { "21" } else { "10" }),
            ]
        }
        "upui" => {
            let [cp, reference] = lead_digit(value)?;
            vec![cp, reference, serial("235")]
        }
        "sscc" => lead_digit(value)?.into(),
        "sgln" => {
            if qualifier("254") == Some("0") {
                return Err(ToEpcError::NoEpc(
                    "a GLN extension (254) of 0 has no EPC: TDS reserves SGLN extension 0 for a GLN without extension"
                        .into(),
                ));
            }
            let [cp, reference] = split(&value[..12])?;
            let extension = qualifier("254").map_or_else(|| "0".to_string(), escape);
            vec![cp, reference, extension]
        }
        "pgln" => split(&value[..12])?.into(),
        "gsrn" | "gsrnp" => split(&value[..17])?.into(),
        "grai" | "gdti" | "sgcn" => {
            // GRAI: a leading 0, then 12 digits and a check digit; GDTI and GCN: 12 digits and a check digit
            let start = usize::from(scheme == "grai");
            let [cp, reference] = split(&value[start..start + 12])?;
            let serial = &value[start + 13..];
            if serial.is_empty() {
                return Err(ToEpcError::NoEpc(format!(
                    "a {} has an EPC with a serial component only",
                    scheme.to_ascii_uppercase()
                )));
            }
            vec![cp, reference, escape(serial)]
        }
        "giai" | "cpi" => {
            let parts = value.get(..gcp).zip(value.get(gcp..));
            let Some((cp, reference)) = parts.filter(|(cp, reference)| {
                !reference.is_empty() && cp.bytes().all(|b| b.is_ascii_digit())
            }) else {
                return Err(mismatch(
                    "the reference after the prefix would be empty, or the prefix is not all digits",
                ));
            };
            let mut fields = vec![cp.to_string(), escape(reference)];
            if scheme == "cpi" {
                let Some(serial) = qualifier("8011") else {
                    return Err(ToEpcError::NoEpc(
                        "a CPI has an EPC with its serial (8011) only".into(),
                    ));
                };
                fields.push(escape(serial));
            }
            fields
        }
        "itip" => {
            let [cp, reference] = lead_digit(&value[..14])?;
            vec![
                cp,
                reference,
                value[14..16].to_string(),
                value[16..18].to_string(),
                serial("21"),
            ]
        }
        // the schemes above are all `scheme` can be
        other => return Err(ToEpcError::NoEpc(format!("no EPC fields for {other}"))),
    };
    let carried = match scheme {
        "sgtin" | "itip" => "21",
        "lgtin" => "10",
        "upui" => "235",
        "sgln" => "254",
        "cpi" => "8011",
        _ => "",
    };
    let not_carried = key
        .qualifiers()
        .map(|(ai, _)| ai)
        .filter(|ai| *ai != carried)
        .map(String::from)
        .collect();
    Ok(Epc {
        scheme,
        fields,
        not_carried,
    })
}

/// A value as an EPC URI writes it: the characters TDS Table A-1 escapes (`"`, `%`, `&`, `/`, `<`, `>`, `?`)
/// percent-encoded, everything else as it is.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '"' | '%' | '&' | '/' | '<' | '>' | '?' => out.push_str(&format!("%{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[path = "to_epc_tests.rs"]
mod tests;
