//! Rules between the AIs of one URI (path and query together), from the syntax dictionary: `req=` (an AI needs
//! another), `ex=` (two AIs exclude each other), and a digital signature (8030) needing a serialised key.

use super::error::Gs1Error;
use super::format::AiEntry;

/// AIs whose serial component is optional but required next to a digital signature (8030).
const SERIALISED_WITH_SIGNATURE: [&str; 3] = ["253", "255", "8003"];

/// Checks the rules over every AI of the URI. `elements` yields each (entry, decoded value) once; it is called
/// again for each look-up, so it must be cheap to restart (it walks a key and a short list, allocating nothing).
pub(crate) fn check<'a, I>(elements: I) -> Result<(), Gs1Error>
where
    I: Iterator<Item = (&'static AiEntry, &'a str)> + Clone,
{
    for (entry, _) in elements.clone() {
        // `ex=`: an AI is not exclusive of itself, even when it matches a pattern
        for pattern in entry.ex {
            if let Some(other) = present(elements.clone(), pattern, entry.ai) {
                return Err(Gs1Error::ExclusiveAis(entry.ai, other));
            }
        }
        for groups in entry.req {
            let satisfied = groups.iter().any(|group| {
                group
                    .iter()
                    .all(|p| present(elements.clone(), p, entry.ai).is_some())
            });
            if !satisfied {
                let requires = groups
                    .iter()
                    .map(|g| g.join("+"))
                    .collect::<Vec<_>>()
                    .join(",");
                return Err(Gs1Error::RequiredAiMissing {
                    ai: entry.ai,
                    requires,
                });
            }
        }
    }
    signature_needs_serial(elements)
}

/// The first AI other than `itself` that `pattern` matches (`n` stands for any digit).
fn present<'a>(
    mut elements: impl Iterator<Item = (&'static AiEntry, &'a str)>,
    pattern: &str,
    itself: &str,
) -> Option<&'static str> {
    elements
        .find(|(e, _)| e.ai != itself && matches(pattern, e.ai))
        .map(|(e, _)| e.ai)
}

fn matches(pattern: &str, ai: &str) -> bool {
    pattern.len() == ai.len()
        && pattern
            .bytes()
            .zip(ai.bytes())
            .all(|(p, a)| p == a || p == b'n')
}

fn signature_needs_serial<'a>(
    elements: impl Iterator<Item = (&'static AiEntry, &'a str)> + Clone,
) -> Result<(), Gs1Error> {
    if !elements.clone().any(|(e, _)| e.ai == "8030") {
        return Ok(());
    }
    for (entry, value) in elements {
        if SERIALISED_WITH_SIGNATURE.contains(&entry.ai) && value.len() == mandatory_len(entry) {
            return Err(Gs1Error::SerialRequiredWithSignature(entry.ai));
        }
    }
    Ok(())
}

/// Length of the AI's mandatory components: a value this long has no optional (serial) part.
fn mandatory_len(entry: &AiEntry) -> usize {
    entry
        .components
        .iter()
        .filter(|c| !c.optional)
        .map(|c| usize::from(c.min))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::super::format::lookup_ai;
    use super::*;

    fn run(ais: &[(&str, &str)]) -> Result<(), Gs1Error> {
        let elements: Vec<(&'static AiEntry, &str)> = ais
            .iter()
            .map(|(ai, v)| (lookup_ai(ai).expect("known AI"), *v))
            .collect();
        check(elements.iter().copied())
    }

    #[test]
    fn patterns() {
        assert!(matches("310n", "3103") && matches("31nn", "3199") && matches("01", "01"));
        assert!(!matches("310n", "3110") && !matches("01", "010") && !matches("nn", "011"));
    }

    #[test]
    fn requisites_and_exclusions() {
        let gtin = ("01", "09520123456788");
        assert_eq!(run(&[gtin, ("10", "A")]), Ok(()));
        assert!(matches!(
            run(&[("00", "106141412345678908"), ("10", "A")]),
            Err(Gs1Error::RequiredAiMissing { ai: "10", .. })
        ));
        // 7004 requires 01 and 10 together
        assert!(run(&[gtin, ("7004", "1")]).is_err());
        assert_eq!(run(&[gtin, ("10", "A"), ("7004", "1")]), Ok(()));
        assert_eq!(
            run(&[gtin, ("37", "25")]),
            Err(Gs1Error::ExclusiveAis("01", "37"))
        );
        // 3103 excludes other 310n AIs, but not itself
        assert_eq!(run(&[gtin, ("3103", "000195")]), Ok(()));
        assert_eq!(
            run(&[gtin, ("3103", "000195"), ("3102", "001950")]),
            Err(Gs1Error::ExclusiveAis("3103", "3102"))
        );
        // two req= attributes (250: req=01,8006 and req=21) must both hold
        assert!(run(&[gtin, ("250", "X")]).is_err());
        assert_eq!(run(&[gtin, ("21", "S"), ("250", "X")]), Ok(()));
    }

    #[test]
    fn signature_needs_a_serialised_key() {
        let gdti = ("253", "9524321234569");
        assert_eq!(
            run(&[gdti, ("8030", "QUJD")]),
            Err(Gs1Error::SerialRequiredWithSignature("253"))
        );
        assert_eq!(run(&[("253", "9524321234569X1"), ("8030", "QUJD")]), Ok(()));
        assert_eq!(run(&[gdti]), Ok(()));
    }
}
