//! AI table types, table look-ups and value validation against a dictionary
//! format specification (component character sets, lengths and linters).

use super::ai_table::{AI_CODES, AIS, ALPHAS, KEYS, Linter};
use super::{charset, lint};

/// Character set of one component ("N", "X" = CSET 82, "Y" = CSET 39, "Z" = CSET 64).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cset {
    N,
    X,
    Y,
    Z,
}

/// Where an AI may appear in a Digital Link URI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// A `dlpkey` primary key.
    Primary,
    /// A key qualifier of at least one primary key.
    Qualifier,
    /// Anything else: at most a query-string data attribute.
    Attribute,
}

/// One component of an AI's format, e.g. `N13,csum` or `[X..17]`.
#[derive(Debug)]
pub(crate) struct Component {
    pub cset: Cset,
    pub min: u8,
    pub max: u8,
    pub optional: bool,
    /// The dictionary's linters for this component, run in order after the character-set check.
    pub linters: &'static [Linter],
}

#[derive(Debug)]
pub(crate) struct AiEntry {
    pub ai: &'static str,
    /// Dictionary flag `?`: permitted as a Digital Link data attribute.
    pub dl_attr: bool,
    pub role: Role,
    pub components: &'static [Component],
    /// Dictionary `req=` attributes: each needs one of its groups (AI patterns, `n` any digit) wholly present.
    pub req: &'static [&'static [&'static [&'static str]]],
    /// Dictionary `ex=`: AI patterns that must not appear alongside this AI.
    pub ex: &'static [&'static str],
}

/// A primary key and its alternative, ordered qualifier sequences.
#[derive(Debug)]
pub(crate) struct KeySpec {
    pub ai: &'static str,
    pub alternatives: &'static [&'static [&'static str]],
    /// Qualifiers that must be present (dictionary `req=` naming own qualifiers).
    pub required: &'static [&'static str],
}

/// Numeric search key of a 2-4 digit AI: digit count * 10000 + value, so
/// look-ups compare small integers instead of strings (same as the generator).
const fn ai_code(ai: &str) -> Option<u16> {
    let bytes = ai.as_bytes();
    if bytes.len() < 2 || bytes.len() > 4 {
        return None;
    }
    let mut value = 0u16;
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            return None;
        }
        value = value * 10 + (bytes[i] - b'0') as u16;
        i += 1;
    }
    // len <= 4, so len * 10000 + 9999 < u16::MAX
    Some(bytes.len() as u16 * 10000 + value)
}

/// `ai_code` of each `KEYS` entry, same order: finding a primary key compares integers, not strings.
static KEY_CODES: [u16; KEYS.len()] = key_codes();

const fn key_codes() -> [u16; KEYS.len()] {
    let mut codes = [0; KEYS.len()];
    let mut i = 0;
    while i < KEYS.len() {
        codes[i] = match ai_code(KEYS[i].ai) {
            Some(code) => code,
            None => panic!("primary key AIs are 2 to 4 digits"),
        };
        i += 1;
    }
    codes
}

/// Longest value any AI allows: the sum of its components' maximum lengths, which `validate` enforces.
pub(crate) const MAX_VALUE_LEN: usize = max_value_len();

const fn max_value_len() -> usize {
    let mut longest = 0;
    let mut i = 0;
    while i < AIS.len() {
        let components = AIS[i].components;
        let mut len = 0;
        let mut c = 0;
        while c < components.len() {
            len += components[c].max as usize;
            c += 1;
        }
        if len > longest {
            longest = len;
        }
        i += 1;
    }
    longest
}

/// Position of an AI code in `AI_SLOTS`: 2-digit AIs first, then the 3- and 4-digit ones.
const fn slot(code: u16) -> usize {
    let (len, value) = ((code / 10000) as usize, (code % 10000) as usize);
    match len {
        2 => value,
        3 => 100 + value,
        _ => 1100 + value,
    }
}

/// No AI of that code.
const NO_AI: u16 = u16::MAX;

/// `AIS` index of every possible 2 to 4 digit AI (`NO_AI` for most), built at compile time from `AI_CODES`: looking
/// an AI up is one load rather than a binary search, for 22 KB of table.
static AI_SLOTS: [u16; 11100] = ai_slots();

const _: () = assert!(AI_CODES.len() < NO_AI as usize);

const fn ai_slots() -> [u16; 11100] {
    let mut slots = [NO_AI; 11100];
    let mut i = 0;
    while i < AI_CODES.len() {
        // the dictionary has far fewer than 65535 AIs
        slots[slot(AI_CODES[i])] = i as u16;
        i += 1;
    }
    slots
}

pub(crate) fn lookup_ai(ai: &str) -> Option<&'static AiEntry> {
    let index = AI_SLOTS[slot(ai_code(ai)?)];
    AIS.get(usize::from(index))
}

pub(crate) fn key_index(ai: &str) -> Option<usize> {
    let code = ai_code(ai)?;
    KEY_CODES.iter().position(|&c| c == code)
}

/// AI equality. AIs are 2 to 4 bytes: an inline loop is cheaper than the `bcmp` call `==` on `str` makes.
pub(crate) fn same_ai(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

pub(crate) fn alpha_to_ai(alpha: &str) -> Option<&'static str> {
    ALPHAS
        .binary_search_by(|(a, _)| (*a).cmp(alpha))
        .ok()
        .map(|i| ALPHAS[i].1)
}

fn cset_ok(cset: Cset, data: &[u8]) -> bool {
    match cset {
        Cset::N => charset::all_in(data, charset::DIGIT),
        Cset::X => charset::all_in(data, charset::CSET82),
        Cset::Y => charset::all_in(data, charset::CSET39),
        // base64url with at most two trailing '=' pad characters
        Cset::Z => {
            let body = data.strip_suffix(b"==").or_else(|| data.strip_suffix(b"="));
            charset::all_in(body.unwrap_or(data), charset::CSET64)
        }
    }
}

fn cset_reason(cset: Cset) -> &'static str {
    match cset {
        Cset::N => "must contain digits only",
        Cset::X => "contains a character outside GS1 CSET 82",
        Cset::Y => "contains a character outside GS1 CSET 39",
        Cset::Z => "contains a character outside base64url",
    }
}

fn lint(linters: &[Linter], data: &[u8]) -> Result<(), &'static str> {
    linters.iter().try_for_each(|&l| lint::run(l, data))
}

/// Checks that `prefix` can begin a value of the AI: each character in the character set of the component it falls
/// in, and no longer than the longest value. Linters (check digits and the like) need the whole value, so they are
/// not run.
pub(crate) fn validate_prefix(entry: &AiEntry, prefix: &str) -> Result<(), &'static str> {
    let mut rest = prefix.as_bytes();
    if rest.is_empty() {
        return Err("is empty");
    }
    for comp in entry.components {
        let take = rest.len().min(usize::from(comp.max));
        let (part, tail) = rest.split_at(take);
        if !cset_ok(comp.cset, part) {
            return Err(cset_reason(comp.cset));
        }
        rest = tail;
        if rest.is_empty() {
            return Ok(());
        }
    }
    Err("is longer than any value of this AI")
}

/// Checks `value` against the AI's component list. Components consume
/// prefixes of their length; optional ones may be skipped once data runs out.
pub(crate) fn validate(entry: &AiEntry, value: &str) -> Result<(), &'static str> {
    let mut rest = value.as_bytes();
    if rest.is_empty() {
        return Err("is empty");
    }
    for comp in entry.components {
        if rest.is_empty() && comp.optional {
            return Ok(());
        }
        let (min, max) = (usize::from(comp.min), usize::from(comp.max));
        if rest.len() < min {
            return Err("is too short");
        }
        let take = rest.len().min(max);
        let (part, tail) = rest.split_at(take);
        if !cset_ok(comp.cset, part) {
            return Err(cset_reason(comp.cset));
        }
        lint(comp.linters, part)?;
        rest = tail;
    }
    if rest.is_empty() {
        Ok(())
    } else {
        Err("is too long")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ai: &str, v: &str) -> Result<(), &'static str> {
        validate(lookup_ai(ai).expect("known AI"), v)
    }

    #[test]
    fn table_is_sorted_and_complete() {
        assert!(AI_CODES.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(AI_CODES.len(), AIS.len());
        for (code, e) in AI_CODES.iter().zip(AIS) {
            assert_eq!(ai_code(e.ai), Some(*code));
        }
        assert_eq!(lookup_ai("01").map(|e| e.ai), Some("01"));
        assert!(
            lookup_ai("001").is_none() && lookup_ai("1").is_none() && lookup_ai("0x").is_none()
        );
        assert!(KEYS.windows(2).all(|w| w[0].ai < w[1].ai));
        assert!(ALPHAS.windows(2).all(|w| w[0].0 < w[1].0));
        // ranges are expanded
        assert!(lookup_ai("3103").is_some() && lookup_ai("3106").is_none());
        assert!(lookup_ai("91").is_some() && lookup_ai("99").is_some());
    }

    #[test]
    fn slot_table_agrees_with_the_sorted_codes() {
        for digits in 2..=4 {
            for value in 0..10usize.pow(digits) {
                let ai = format!("{value:0width$}", width = digits as usize);
                let code = ai_code(&ai).expect("digits");
                let want = AI_CODES.binary_search(&code).ok().map(|i| &AIS[i]);
                assert!(
                    lookup_ai(&ai).map(std::ptr::from_ref) == want.map(std::ptr::from_ref),
                    "{ai}"
                );
            }
        }
    }

    #[test]
    fn component_rules() {
        assert_eq!(check("01", "09520123456788"), Ok(()));
        assert_eq!(check("01", "09520123456787"), Err("invalid check digit"));
        assert_eq!(check("01", "0952012345678"), Err("is too short"));
        assert_eq!(check("01", "095201234567880"), Err("is too long"));
        assert_eq!(check("10", "ABC/()*"), Ok(()));
        assert_eq!(
            check("10", "A B"),
            Err("contains a character outside GS1 CSET 82")
        );
        assert_eq!(check("10", "123456789012345678901"), Err("is too long"));
        // CPID starts with a GS1 Company Prefix (gcppos1), as GS1's engine requires
        assert_eq!(check("8010", "0614AB-1/#"), Ok(()));
        assert_eq!(
            check("8010", "ab"),
            Err("contains a character outside GS1 CSET 39")
        );
        assert_eq!(check("8030", "AbC-_x=="), Ok(()));
        assert_eq!(
            check("8030", "Ab+"),
            Err("contains a character outside base64url")
        );
        // GRAI: zero digit, N13 with check digit, optional serial
        assert_eq!(check("8003", "00614141123452"), Ok(()));
        assert_eq!(check("8003", "00614141123452AB12"), Ok(()));
        assert_eq!(check("8003", "10614141123452"), Err("digit must be 0"));
        assert_eq!(check("8011", "0"), Ok(()));
        assert_eq!(check("8011", "012"), Err("must not start with 0"));
        assert_eq!(
            lint(&[Linter::Hasnondigit], b"123"),
            Err("must contain a non-digit")
        );
        assert_eq!(lint(&[Linter::Hasnondigit], b"12A"), Ok(()));
        assert_eq!(check("7040", "1ABC"), Ok(()));
        assert_eq!(check("7040", "1AB"), Err("is too short"));
    }
}
