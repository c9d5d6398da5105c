//! The worked examples of the standards (fixtures in `testdata/`), +AIDC data and hostnames built with a small
//! test-side encoder, refused strings, and a property test that no input panics.

use proptest::prelude::*;

use super::*;
use crate::identifier::gs1::{ParseOptions, parse_request};

const ANNEX_E3: &str = include_str!("testdata/tds-annex-e3.txt");
const REFUSED: &str = include_str!("testdata/tds-refused.txt");

fn lines(fixture: &str) -> impl Iterator<Item = &str> {
    fixture
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// The Digital Link a compressed segment resolves as: `/` + canonical path, then `?` + the data attributes.
fn resolved(segment: &str) -> Result<String, Gs1Error> {
    let dl = parse_request(&format!("/{segment}"), "", &ParseOptions::default())?;
    assert!(dl.compressed, "{segment}");
    let query: Vec<String> = dl
        .attributes
        .iter()
        .map(|(ai, value)| format!("{ai}={value}"))
        .collect();
    let mut out = format!("/{}", dl.key.canonical_path());
    if !query.is_empty() {
        out += "?";
        out += &query.join("&");
    }
    Ok(out)
}

// ---- a test-side encoder, independent of the decoder: bits as a string of '0' and '1'

fn b(value: u128, width: usize) -> String {
    format!("{value:0width$b}")
}

fn hex_bits(hex: &str) -> String {
    hex.chars()
        .map(|c| b(u128::from(c.to_digit(16).expect("hex")), 4))
        .collect()
}

/// `eh` + the bits padded to a 16-bit word, as in Gen2 EPC memory.
fn eh(bits: &str) -> String {
    let mut bits = bits.to_owned();
    while bits.len() % 16 != 0 {
        bits.push('0');
    }
    let hex: String = bits
        .as_bytes()
        .chunks(4)
        .map(|c| {
            let v = u32::from_str_radix(std::str::from_utf8(c).expect("ascii"), 2).expect("bits");
            char::from_digit(v, 16).expect("nibble")
        })
        .collect();
    format!("eh{hex}")
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// `ex` + the bits padded to a whole base64url character.
fn ex(bits: &str) -> String {
    let mut bits = bits.to_owned();
    while bits.len() % 6 != 0 {
        bits.push('0');
    }
    let text: String = bits
        .as_bytes()
        .chunks(6)
        .map(|c| {
            let v = usize::from_str_radix(std::str::from_utf8(c).expect("ascii"), 2).expect("bits");
            char::from(B64[v])
        })
        .collect();
    format!("ex{text}")
}

/// Digit nibbles (TDS 14.5.4).
fn nibbles(digits: &str) -> String {
    hex_bits(digits)
}

/// Variable-length alphanumeric (TDS 14.5.6): numeric if all digits, base64url if it can, else 7-bit.
fn alnum(value: &str) -> String {
    let len = b(value.len() as u128, 5);
    if value.bytes().all(|c| c.is_ascii_digit()) {
        // ceil(L * log2 10): the bits of the largest L-digit number
        let largest: u128 = "9".repeat(value.len()).parse().expect("digits");
        let width = largest.ilog2() as usize + 1;
        return format!("000{len}{}", b(value.parse().expect("digits"), width));
    }
    if value.bytes().all(|c| B64.contains(&c)) {
        let chars: String = value
            .bytes()
            .map(|c| b(B64.iter().position(|&x| x == c).expect("b64") as u128, 6))
            .collect();
        return format!("011{len}{chars}");
    }
    let chars: String = value.bytes().map(|c| b(u128::from(c), 7)).collect();
    format!("100{len}{chars}")
}

fn date(yymmdd: &str) -> String {
    let part = |r: std::ops::Range<usize>| yymmdd[r].parse::<u128>().expect("date");
    b(part(0..2), 7) + &b(part(2..4), 4) + &b(part(4..6), 5)
}

const GTIN: &str = "09506000134352";

/// SGTIN+ (header F7), toggle, filter 3, the GTIN, serial, then `tail`.
fn sgtin_plus(serial: &str, toggle: &str, tail: &str) -> String {
    format!(
        "11110111{toggle}011{}{}{tail}",
        nibbles(GTIN),
        alnum(serial)
    )
}

// ---- the worked examples

#[test]
fn epc_annex_e3_worked_examples() {
    let mut count = 0;
    for line in lines(ANNEX_E3) {
        let [scheme, hex, want] = line.split_whitespace().collect::<Vec<_>>()[..] else {
            panic!("bad fixture line {line:?}");
        };
        let segment = format!("eh{}", hex.to_ascii_lowercase());
        let decoded = decompress(&segment).unwrap_or_else(|e| panic!("{scheme}: {e}"));
        assert_eq!(decoded.scheme, scheme, "{segment}");
        assert_eq!(
            resolved(&segment).as_deref(),
            Ok(want),
            "{scheme} {segment}"
        );
        let base64 = ex(&hex_bits(hex));
        assert_eq!(resolved(&base64).as_deref(), Ok(want), "{scheme} {base64}");
        count += 1;
    }
    // one per scheme with a Digital Link equivalent but the deprecated GDTI-113 (42 of 43 headers), and the three
    // older examples
    assert_eq!(count, 45);
}

#[test]
fn epc_every_scheme_has_a_worked_example() {
    for scheme in schemes::SCHEMES {
        let listed = lines(ANNEX_E3).any(|l| l.split_whitespace().next() == Some(scheme.name));
        // GDTI-113 is deprecated; TDS gives no example (unit test below)
        assert!(listed || scheme.name == "GDTI-113", "{}", scheme.name);
    }
}

#[test]
fn epc_refused_strings() {
    for line in lines(REFUSED) {
        let segment = line.split_whitespace().next().expect("segment");
        assert!(
            resolved(segment).is_err(),
            "{line}: {:?}",
            resolved(segment)
        );
        // decompressing alone never panics either
        let _ = decompress(segment);
    }
}

#[test]
fn epc_gdti_113_numeric_string_serial() {
    // header 3A, filter 0, partition 5, company prefix 9521141, document type 12345, serial "0042" as 10042
    let bits = b(0x3A, 8) + "000101" + &b(9521141, 24) + &b(12345, 17) + &b(10042, 58);
    assert_eq!(
        resolved(&eh(&bits)).as_deref(),
        Ok("/253/95211411234540042")
    );
    // no leading 1 marker
    let bits = b(0x3A, 8) + "000101" + &b(9521141, 24) + &b(12345, 17) + &b(42, 58);
    assert!(resolved(&eh(&bits)).is_err());
}

#[test]
fn epc_classic_edge_cases() {
    // SGLN-96 with extension 0: a GLN without (254)
    let sgln = b(0x32, 8) + "011101" + &b(9521141, 24) + &b(12345, 17) + &b(0, 41);
    assert_eq!(resolved(&eh(&sgln)).as_deref(), Ok("/414/9521141123454"));
    // partition 0: a 12-digit company prefix and a 1-bit location reference with no digits
    let sgln = b(0x32, 8) + "011000" + &b(952114112345, 40) + "0" + &b(7, 41);
    assert_eq!(
        resolved(&eh(&sgln)).as_deref(),
        Ok("/414/9521141123454/254/7")
    );
    // ... whose single bit must be zero
    let sgln = b(0x32, 8) + "011000" + &b(952114112345, 40) + "1" + &b(7, 41);
    assert!(resolved(&eh(&sgln)).is_err());
    // a company prefix too large for its digits (partition 6: 6 digits in 20 bits)
    let sgtin = b(0x30, 8) + "011110" + &b(1_000_000, 20) + &b(0, 24) + &b(1, 38);
    assert!(decompress(&eh(&sgtin)).is_err());
    // SSCC-96 reserved bits must be zero
    let sscc = b(0x31, 8) + "000110" + &b(952012, 20) + &b(3456789123, 38) + &b(1, 24);
    assert!(decompress(&eh(&sscc)).is_err());
    // ITIP piece of 100 does not fit two digits
    let itip = b(0x40, 8)
        + "011101"
        + &b(9521141, 24)
        + &b(12345, 20)
        + &b(100, 7)
        + &b(2, 7)
        + &b(981, 38);
    assert!(decompress(&eh(&itip)).is_err());
}

// ---- +AIDC data (TDS 15.3)

#[test]
fn epc_aidc_data_becomes_qualifiers_and_attributes() {
    let g = GTIN;
    let cases = [
        // a batch is a key qualifier (path), an expiry date a data attribute (query)
        (
            sgtin_plus(
                "S1",
                "1",
                &(nibbles("10") + &alnum("ABC123") + &nibbles("17") + &date("261231")),
            ),
            format!("/01/{g}/10/ABC123/21/S1?17=261231"),
        ),
        // qualifiers in path order 22, 10, 21 whatever their order in the tag
        (
            sgtin_plus(
                "S1",
                "1",
                &(nibbles("10") + &alnum("L1") + &nibbles("22") + &alnum("V1")),
            ),
            format!("/01/{g}/22/V1/10/L1/21/S1"),
        ),
        // a 7-bit batch with '/' is percent-encoded in the path
        (
            sgtin_plus("S1", "1", &(nibbles("10") + &alnum("A/B"))),
            format!("/01/{g}/10/A%2FB/21/S1"),
        ),
        // a numeric batch keeps its leading zeros
        (
            sgtin_plus("S1", "1", &(nibbles("10") + &alnum("00123"))),
            format!("/01/{g}/10/00123/21/S1"),
        ),
        // production date and time (8008), precision 01 = hhmm
        (
            sgtin_plus(
                "S1",
                "1",
                &(nibbles("8008") + "01" + &date("260115") + &b(14, 5) + &b(30, 6)),
            ),
            format!("/01/{g}/21/S1?8008=2601151430"),
        ),
        // harvest date range (7007)
        (
            sgtin_plus(
                "S1",
                "1",
                &(nibbles("7007") + "1" + &date("260101") + &date("260131")),
            ),
            format!("/01/{g}/21/S1?7007=260101260131"),
        ),
        // net weight (3103): six digits in 20 bits
        (
            sgtin_plus("S1", "1", &(nibbles("3103") + &b(1250, 20))),
            format!("/01/{g}/21/S1?3103=001250"),
        ),
        // TDS 15.3 decodes what follows the EPC whatever the toggle bit says
        (
            sgtin_plus("S1", "0", &(nibbles("17") + &date("261231"))),
            format!("/01/{g}/21/S1?17=261231"),
        ),
        // DSGTIN+ with a best-before date (type 0010) and a batch in its +AIDC data
        (
            format!(
                "111110111011{}{}{}{}",
                "0010",
                date("270101"),
                nibbles(g),
                alnum("S1")
            ) + &nibbles("10")
                + &alnum("L9"),
            format!("/01/{g}/10/L9/21/S1?15=270101"),
        ),
        // GIAI+ with an alphanumeric remainder after the delimiter
        (
            format!("111110100000{}1110{}", nibbles("9506000"), alnum("A-1")),
            "/8004/9506000A-1".to_owned(),
        ),
        // SSCC+ with country of processing (4307, two base64url letters) and a temperature with its minus sign
        (
            format!("111110011011{}", nibbles("095201234567891235"))
                + &nibbles("4307")
                + &b(1, 6)
                + &b(17, 6)
                + &nibbles("4330")
                + &b(1850, 20)
                + "1",
            "/00/095201234567891235?4307=BR&4330=001850-".to_owned(),
        ),
    ];
    for (bits, want) in &cases {
        for segment in [eh(bits), ex(bits)] {
            assert_eq!(
                resolved(&segment).as_deref(),
                Ok(want.as_str()),
                "{segment}"
            );
        }
    }
}

#[test]
fn epc_refused_aidc_data() {
    let g = GTIN;
    let cases = [
        // header A0: special or reserved
        sgtin_plus("S1", "1", &(nibbles("a0") + "11111111")),
        // no AI begins with 14
        sgtin_plus("S1", "1", &(nibbles("14") + &"0".repeat(16))),
        // the serial again
        sgtin_plus("S1", "1", &(nibbles("21") + &alnum("S2"))),
        // 30 February (the date decoder allows 29; the AI's linter refuses 30 and 31)
        sgtin_plus(
            "S1",
            "1",
            &(nibbles("17") + &b(26, 7) + &b(2, 4) + &b(30, 5)),
        ),
        // encoding indicator 6 (reserved)
        sgtin_plus(
            "S1",
            "1",
            &(nibbles("10") + "110" + &b(2, 5) + &"0".repeat(12)),
        ),
        // a base64url batch shorter than its length indicator
        sgtin_plus(
            "S1",
            "1",
            &(nibbles("10") + "011" + &b(20, 5) + &"0".repeat(24)),
        ),
        // an AI with no Table F row: (03) is not permitted in an EPC
        sgtin_plus("S1", "1", &(nibbles("03") + &nibbles("09506000134352"))),
        // a data attribute whose required AI is absent: (4307) requires (00)
        sgtin_plus("S1", "1", &(nibbles("4307") + &b(1, 6) + &b(17, 6))),
        // DSGTIN+ date type 0111 (reserved)
        format!(
            "111110110011{}{}{}{}",
            "0111",
            date("270101"),
            nibbles(g),
            alnum("S1")
        ),
        // a GTIN nibble above 9
        format!("111101110011{}{}", nibbles("0950600013435A"), alnum("S1")),
        // data after a GIAI+ and its padding
        format!(
            "111110100000{}1111{}",
            nibbles("9506000"),
            "0".repeat(8) + "1"
        ),
    ];
    for bits in &cases {
        let segment = eh(bits);
        assert!(
            resolved(&segment).is_err(),
            "{segment}: {:?}",
            resolved(&segment)
        );
    }
}

// ---- '++' hostnames (TDS 14.5.16): read past, not used

fn code40(text: &str) -> String {
    const TABLE: &[u8; 40] = b"\0ABCDEFGHIJKLMNOPQRSTUVWXYZ-.:0123456789";
    let idx = |c: u8| TABLE.iter().position(|&x| x == c).expect("code 40") as u128;
    text.as_bytes()
        .chunks(3)
        .map(|g| {
            let get = |i: usize| g.get(i).map_or(0, |&c| idx(c));
            b(1600 * get(0) + 40 * get(1) + get(2) + 1, 16)
        })
        .collect()
}

#[test]
fn epc_hostnames_are_skipped() {
    let g = GTIN;
    let ascii = |s: &str| -> String { s.bytes().map(|c| b(u128::from(c), 7)).collect() };
    let hosts = [
        "0".to_owned() + &b(14, 6) + &code40("ID.EXAMPLE.ORG"),
        "1".to_owned() + &b(7, 6) + &ascii("a-b.c_d"),
        // 'qr.' (Table A), "loja", then a 14-bit sequence of Table B (2 units)
        "1".to_owned() + &b(7, 6) + &b(0b0011110, 7) + &ascii("loja") + "0000010" + &b(6, 7),
    ];
    for host in &hosts {
        let bits = format!("111111010011{}{}{host}", nibbles(g), alnum("S1"));
        assert_eq!(
            resolved(&eh(&bits)).as_deref(),
            Ok(format!("/01/{g}/21/S1").as_str())
        );
        // +AIDC data after the hostname
        let bits = bits + &nibbles("17") + &date("261231");
        assert_eq!(
            resolved(&eh(&bits)).as_deref(),
            Ok(format!("/01/{g}/21/S1?17=261231").as_str())
        );
    }
    // an empty hostname, a reserved character, a hostname longer than announced
    for host in [
        "0".to_owned() + &b(0, 6),
        "1".to_owned() + &b(1, 6) + &b(5, 7),
        "1".to_owned() + &b(1, 6) + "0000010" + &b(6, 7),
    ] {
        let bits = format!("111111010011{}{}{host}", nibbles(g), alnum("S1"));
        assert!(decompress(&eh(&bits)).is_err(), "{host}");
    }
}

#[test]
fn epc_looks_compressed_is_case_sensitive() {
    assert!(looks_compressed("eh30164596f40c0e5cbe991a83"));
    assert!(looks_compressed("exMBZFlvQMDly-mRqD"));
    assert!(!looks_compressed("EH30164596F40C0E5CBE991A83"));
    assert!(!looks_compressed("eh30164596F40C"));
    assert!(!looks_compressed("eh"));
    assert!(!looks_compressed("ex+/"));
    let long = format!("eh{}", "30".repeat(200));
    assert!(matches!(
        decompress(&long),
        Err(Gs1Error::InvalidCompressed { .. })
    ));
    assert!(matches!(
        decompress("eh99164596f40c0e5cbe991a83"),
        Err(Gs1Error::UnsupportedEpcHeader { header: 0x99, .. })
    ));
}

proptest! {
    /// No segment of any length panics, whatever its characters.
    #[test]
    fn epc_no_input_panics(body in "[0-9a-f]{0,200}", b64 in "[A-Za-z0-9_-]{0,200}", text in "\\PC{0,80}") {
        let _ = decompress(&format!("eh{body}"));
        let _ = decompress(&format!("ex{b64}"));
        let _ = decompress(&text);
        let _ = parse_request(&format!("/eh{body}"), "", &ParseOptions::default());
    }

    /// Random bits after every known header: decoded or refused, never a panic.
    #[test]
    fn epc_random_bits_after_each_header(index in 0..schemes::SCHEMES.len(), body in "[0-9a-f]{0,120}") {
        let header = schemes::SCHEMES[index].header;
        let segment = format!("eh{header:02x}{body}");
        if let Ok(decoded) = decompress(&segment) {
            prop_assert_eq!(decoded.scheme, schemes::SCHEMES[index].name);
        }
        let _ = parse_request(&format!("/{segment}"), "", &ParseOptions::default());
    }
}

/// Zero bits after the EPC are padding however many there are: eighty of them are not an SSCC of zeros, whatever
/// the +AIDC data toggle says (TDS 14.5.1 leaves the toggle non-essential to decoding).
#[test]
fn epc_long_zero_padding_is_not_aidc_data() {
    // TDS 2.3 Annex E.3's SGTIN+ (header F7, toggle 0), padded with 80 and with 200 zero bits
    for zeros in [20, 50] {
        let padded = format!("ehf73795211411234538566cb0afc4{}", "0".repeat(zeros));
        assert_eq!(
            resolved(&padded).as_deref(),
            Ok("/01/79521141123453/21/32a%2Fb"),
            "{padded}"
        );
    }
}
