//! Runs the engine-verdict vectors of `testdata/engine-verdicts.txt` (data, written from GS1's reference syntax
//! engine) through `parse_request` in strict mode.

use super::*;

const VECTORS: &str = include_str!("testdata/engine-verdicts.txt");

fn strict() -> ParseOptions {
    ParseOptions {
        legacy_gtin: false,
        convenience_alphas: false,
    }
}

/// The fixture's reason class of an error.
fn class(e: &Gs1Error) -> &'static str {
    match e {
        Gs1Error::InvalidValue { .. } => "value",
        Gs1Error::KeyAiInQuery(_) | Gs1Error::NotADataAttribute(_) | Gs1Error::DuplicateAi(_) => {
            "attribute"
        }
        Gs1Error::RequiredAiMissing { .. }
        | Gs1Error::ExclusiveAis(..)
        | Gs1Error::SerialRequiredWithSignature(_) => "association",
        Gs1Error::UnknownAi(_) => "unknown-ai",
        Gs1Error::InvalidPercentEncoding(_)
        | Gs1Error::NulCharacter(_)
        | Gs1Error::InvalidUtf8(_)
        | Gs1Error::IllegalUriCharacter(_) => "encoding",
        Gs1Error::InvalidCompressed { .. } | Gs1Error::UnsupportedEpcHeader { .. } => "compressed",
        Gs1Error::EmptyPath
        | Gs1Error::NoPrimaryKey(_)
        | Gs1Error::NotAPrimaryKey(_)
        | Gs1Error::MissingValue(_)
        | Gs1Error::EmptyValue(_)
        | Gs1Error::DataAttributeInPath(_)
        | Gs1Error::NotInPath(_)
        | Gs1Error::NotAQualifier { .. }
        | Gs1Error::QualifierOrder { .. }
        | Gs1Error::MixedAlternatives(..)
        | Gs1Error::MissingQualifier { .. }
        | Gs1Error::TooManyQualifiers => "path",
    }
}

#[test]
fn verdicts_match_the_reference_engine() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for (n, line) in VECTORS.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("! ").unwrap_or(line);
        let mut fields = line.splitn(3, ' ');
        let (Some(verdict), Some(want), Some(uri)) = (fields.next(), fields.next(), fields.next())
        else {
            panic!("line {}: malformed vector {line:?}", n + 1);
        };
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        let got = match parse_request(path, query, &strict()) {
            Ok(_) => "-",
            Err(e) => class(&e),
        };
        let expect_accept = match verdict {
            "accept" => true,
            "reject" => false,
            other => panic!("line {}: verdict {other:?}", n + 1),
        };
        if (got == "-") != expect_accept || got != want {
            let detail = parse_request(path, query, &strict()).err();
            failures.push(format!(
                "line {}: {uri}: want {verdict} {want}, got {got} ({detail:?})",
                n + 1
            ));
        }
        checked += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 100, "only {checked} vectors");
}
