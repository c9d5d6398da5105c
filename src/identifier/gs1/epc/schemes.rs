//! The EPC schemes of the GS1 EPC Tag Data Standard (TDS 2.3, Table 14-1) that have a GS1 Digital Link equivalent:
//! one row per EPC header. Classic schemes are a family (how the company prefix and reference make the key) and
//! the encoding of their last field; "+" schemes list the AIs they encode, each by its TDS 14.5 methods.

use super::table_f::Method::{self, Delimited, Nibbles, VarAlnum, VarNumeric};

/// The last field of a classic scheme: its width in bits and how it is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Field {
    /// An integer printed without leading zeros.
    Int(usize),
    /// 7-bit characters, right-padded with zero bits.
    Str7(usize),
    /// An integer whose leading `1` marks where the digits start (TDS "numeric string").
    NumStr(usize),
}

/// How a classic scheme's fields after filter and partition make its Digital Link AIs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Family {
    /// (01) from indicator + company prefix + item reference; (21) from the serial.
    Sgtin(Field),
    /// (00) from extension digit + company prefix + serial reference; 24 reserved bits.
    Sscc,
    /// (414) from company prefix + location reference; (254) from the extension (empty or 0: none).
    Sgln(Field),
    /// (8003) = `0` + company prefix + asset type + check digit + serial.
    Grai(Field),
    /// (8004) = company prefix + asset reference, which takes all the bits left.
    Giai(Field),
    /// (8018) or (8017) from company prefix + service reference; 24 reserved bits.
    Gsrn(&'static str),
    /// (253) = company prefix + document type + check digit + serial.
    Gdti(Field),
    /// (255) = company prefix + coupon reference + check digit + serial.
    Sgcn(Field),
    /// (8010) = company prefix + integer part reference; (8011) a 31-bit serial.
    Cpi96,
    /// (8010) = company prefix + 6-bit part reference ended by a zero character; (8011) a 40-bit serial.
    CpiVar,
    /// (8006) = GTIN + piece + total (7 bits each, 2 digits); (21) from the serial.
    Itip(Field),
}

impl Family {
    /// Bits of company prefix + reference, and the digits they make (TDS partition tables).
    pub(super) fn partition_total(self) -> (usize, usize) {
        match self {
            Family::Sgtin(_) | Family::Itip(_) => (44, 13),
            Family::Sscc | Family::Gsrn(_) => (58, 17),
            Family::Sgln(_) | Family::Gdti(_) | Family::Sgcn(_) => (41, 12),
            Family::Grai(_) => (44, 12),
            // the reference is not a fixed number of digits
            Family::Giai(Field::Int(_)) => (82, 0),
            Family::Giai(_) => (188, 0),
            Family::Cpi96 => (51, 0),
            Family::CpiVar => (0, 0),
        }
    }
}

/// One AI a "+" scheme encodes after its filter (without the AI digits), by its methods in order; the values of
/// all methods are concatenated.
pub(super) type Encoded = (&'static str, &'static [Method]);

#[derive(Debug)]
pub(super) enum Layout {
    /// Header, filter (3), partition (3), company prefix, reference, last field.
    Classic(Family),
    /// Header, +AIDC data toggle (1), filter (3), [DSGTIN+: date type (4), date (16)], the encoded AIs,
    /// [`++`: hostname], [+AIDC data]. The first AI is the primary key.
    Plus {
        dated: bool,
        hostname: bool,
        ais: &'static [Encoded],
    },
}

#[derive(Debug)]
pub(super) struct Scheme {
    pub header: u8,
    pub name: &'static str,
    /// Bit length; `None` for the variable-length schemes.
    pub bits: Option<usize>,
    pub layout: Layout,
}

const fn classic(header: u8, name: &'static str, bits: usize, family: Family) -> Scheme {
    Scheme {
        header,
        name,
        bits: Some(bits),
        layout: Layout::Classic(family),
    }
}

const fn plus(
    header: u8,
    name: &'static str,
    dated: bool,
    hostname: bool,
    ais: &'static [Encoded],
) -> Scheme {
    Scheme {
        header,
        name,
        bits: None,
        layout: Layout::Plus {
            dated,
            hostname,
            ais,
        },
    }
}

// The AIs of the "+" schemes (TDS 2.3 section 14.6), each with its TDS 14.5 methods.
const SGTIN: &[Encoded] = &[("01", &[Nibbles(14)]), ("21", &[VarAlnum(5, 20)])];
const SSCC: &[Encoded] = &[("00", &[Nibbles(18)])];
const SGLN: &[Encoded] = &[("414", &[Nibbles(13)]), ("254", &[VarAlnum(5, 20)])];
const GRAI: &[Encoded] = &[("8003", &[Nibbles(14), VarAlnum(5, 16)])];
const GIAI: &[Encoded] = &[("8004", &[Delimited(5, 30)])];
const GSRN: &[Encoded] = &[("8018", &[Nibbles(18)])];
const GSRNP: &[Encoded] = &[("8017", &[Nibbles(18)])];
const GDTI: &[Encoded] = &[("253", &[Nibbles(13), VarAlnum(5, 17)])];
const SGCN: &[Encoded] = &[("255", &[Nibbles(13), VarNumeric(4, 12)])];
const CPI: &[Encoded] = &[
    ("8010", &[Delimited(5, 30)]),
    ("8011", &[VarNumeric(4, 12)]),
];
const ITIP: &[Encoded] = &[("8006", &[Nibbles(18)]), ("21", &[VarAlnum(5, 20)])];

/// TDS 2.3 Table 14-1, the headers with a GS1 Digital Link equivalent, sorted by header.
pub(super) const SCHEMES: &[Scheme] = &[
    classic(0x2C, "GDTI-96", 96, Family::Gdti(Field::Int(41))),
    classic(0x2D, "GSRN-96", 96, Family::Gsrn("8018")),
    classic(0x2E, "GSRNP-96", 96, Family::Gsrn("8017")),
    classic(0x30, "SGTIN-96", 96, Family::Sgtin(Field::Int(38))),
    classic(0x31, "SSCC-96", 96, Family::Sscc),
    classic(0x32, "SGLN-96", 96, Family::Sgln(Field::Int(41))),
    classic(0x33, "GRAI-96", 96, Family::Grai(Field::Int(38))),
    classic(0x34, "GIAI-96", 96, Family::Giai(Field::Int(0))),
    classic(0x36, "SGTIN-198", 198, Family::Sgtin(Field::Str7(140))),
    classic(0x37, "GRAI-170", 170, Family::Grai(Field::Str7(112))),
    classic(0x38, "GIAI-202", 202, Family::Giai(Field::Str7(0))),
    classic(0x39, "SGLN-195", 195, Family::Sgln(Field::Str7(140))),
    classic(0x3A, "GDTI-113", 113, Family::Gdti(Field::NumStr(58))),
    classic(0x3C, "CPI-96", 96, Family::Cpi96),
    Scheme {
        header: 0x3D,
        name: "CPI-var",
        bits: None,
        layout: Layout::Classic(Family::CpiVar),
    },
    classic(0x3E, "GDTI-174", 174, Family::Gdti(Field::Str7(119))),
    classic(0x3F, "SGCN-96", 96, Family::Sgcn(Field::NumStr(41))),
    classic(0x40, "ITIP-110", 110, Family::Itip(Field::Int(38))),
    classic(0x41, "ITIP-212", 212, Family::Itip(Field::Str7(140))),
    plus(0xE6, "CPI++", false, true, CPI),
    plus(0xE7, "GSRN++", false, true, GSRN),
    plus(0xE8, "GSRNP++", false, true, GSRNP),
    plus(0xE9, "SGLN++", false, true, SGLN),
    plus(0xEA, "GDTI++", false, true, GDTI),
    plus(0xEB, "GRAI++", false, true, GRAI),
    plus(0xEC, "SGCN++", false, true, SGCN),
    plus(0xED, "ITIP++", false, true, ITIP),
    plus(0xEE, "GIAI++", false, true, GIAI),
    plus(0xEF, "SSCC++", false, true, SSCC),
    plus(0xF0, "CPI+", false, false, CPI),
    plus(0xF1, "GRAI+", false, false, GRAI),
    plus(0xF2, "SGLN+", false, false, SGLN),
    plus(0xF3, "ITIP+", false, false, ITIP),
    plus(0xF4, "GSRN+", false, false, GSRN),
    plus(0xF5, "GSRNP+", false, false, GSRNP),
    plus(0xF6, "GDTI+", false, false, GDTI),
    plus(0xF7, "SGTIN+", false, false, SGTIN),
    plus(0xF8, "SGCN+", false, false, SGCN),
    plus(0xF9, "SSCC+", false, false, SSCC),
    plus(0xFA, "GIAI+", false, false, GIAI),
    plus(0xFB, "DSGTIN+", true, false, SGTIN),
    plus(0xFC, "DSGTIN++", true, true, SGTIN),
    plus(0xFD, "SGTIN++", false, true, SGTIN),
];

/// The scheme of an EPC header, if it has a Digital Link equivalent.
pub(super) fn by_header(header: u8) -> Option<&'static Scheme> {
    SCHEMES
        .binary_search_by_key(&header, |s| s.header)
        .ok()
        .map(|i| &SCHEMES[i])
}

/// Company prefix bits and digits by partition value 0..=6 (TDS partition tables; 7 is invalid).
pub(super) const PARTITIONS: &[(usize, usize)] = &[
    (40, 12),
    (37, 11),
    (34, 10),
    (30, 9),
    (27, 8),
    (24, 7),
    (20, 6),
];

/// DSGTIN+ date type indicator (4 bits) → the AI of its date (TDS 14.5.3); 7–15 are reserved.
pub(super) const DATE_TYPES: &[&str] = &["11", "13", "15", "16", "17", "7006", "7007"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_fixed_layouts_add_up() {
        assert!(SCHEMES.windows(2).all(|w| w[0].header < w[1].header));
        for s in SCHEMES {
            let Layout::Classic(family) = s.layout else {
                continue;
            };
            let last = match family {
                Family::Sgtin(f)
                | Family::Sgln(f)
                | Family::Grai(f)
                | Family::Gdti(f)
                | Family::Sgcn(f) => f,
                Family::Itip(f) => {
                    let (Field::Int(w) | Field::Str7(w) | Field::NumStr(w)) = f;
                    assert_eq!(Some(8 + 6 + 44 + 14 + w), s.bits, "{}", s.name);
                    continue;
                }
                Family::Sscc | Family::Gsrn(_) => Field::Int(24),
                Family::Cpi96 => Field::Int(31),
                Family::Giai(_) | Family::CpiVar => Field::Int(0),
            };
            let (Field::Int(w) | Field::Str7(w) | Field::NumStr(w)) = last;
            if let Some(bits) = s.bits {
                assert_eq!(8 + 6 + family.partition_total().0 + w, bits, "{}", s.name);
            }
        }
        assert_eq!(by_header(0x30).map(|s| s.name), Some("SGTIN-96"));
        assert_eq!(by_header(0xFB).map(|s| s.name), Some("DSGTIN+"));
        for refused in [0x00, 0x2F, 0x35, 0x3B, 0xE2, 0xFE, 0xFF] {
            assert!(by_header(refused).is_none(), "{refused:#x}");
        }
    }
}
