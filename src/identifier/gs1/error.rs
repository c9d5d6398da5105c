//! Errors of the GS1 Digital Link parser. Every message names the AI and/or
//! the offending segment so a 400 response can explain itself.

/// Longest excerpt of request data quoted in an error message, so hostile
/// input cannot make error strings (and logs) arbitrarily large.
const MAX_EXCERPT: usize = 64;

/// Copies at most `MAX_EXCERPT` bytes of `s` (on a char boundary) for a message.
pub(crate) fn excerpt(s: &str) -> String {
    if s.len() <= MAX_EXCERPT {
        return s.to_owned();
    }
    let mut end = MAX_EXCERPT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Gs1Error {
    #[error("empty path: no GS1 primary key")]
    EmptyPath,
    #[error("invalid percent-encoding in segment \"{0}\"")]
    InvalidPercentEncoding(String),
    #[error("segment \"{0}\" decodes to a NUL character")]
    NulCharacter(String),
    #[error("segment \"{0}\" does not decode to valid UTF-8")]
    InvalidUtf8(String),
    #[error("unknown AI ({0})")]
    UnknownAi(String),
    #[error("no GS1 primary key found in path (at segment \"{0}\"; expected /AI/value pairs)")]
    NoPrimaryKey(String),
    #[error("AI ({0}) is not a GS1 Digital Link primary key")]
    NotAPrimaryKey(&'static str),
    #[error("AI ({0}) has no value (odd number of path segments)")]
    MissingValue(&'static str),
    #[error("AI ({0}) has an empty value")]
    EmptyValue(&'static str),
    #[error("AI ({ai}) value \"{value}\": {reason}")]
    InvalidValue {
        ai: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("AI ({0}) is a data attribute and must be in the query string, not the path")]
    DataAttributeInPath(&'static str),
    #[error("AI ({0}) is neither a primary key nor a key qualifier and cannot appear in the path")]
    NotInPath(&'static str),
    #[error("AI ({ai}) is not a key qualifier of primary key ({primary})")]
    NotAQualifier {
        ai: &'static str,
        primary: &'static str,
    },
    #[error("qualifier ({first}) must come before ({second})")]
    QualifierOrder {
        first: &'static str,
        second: &'static str,
    },
    #[error("qualifiers ({0}) and ({1}) are alternatives and cannot be combined")]
    MixedAlternatives(&'static str, &'static str),
    #[error("AI ({0}) appears more than once")]
    DuplicateAi(&'static str),
    #[error("primary key ({primary}) requires qualifier ({qualifier})")]
    MissingQualifier {
        primary: &'static str,
        qualifier: &'static str,
    },
    #[error("AI ({ai}) requires AI ({requires}) in the same URI")]
    RequiredAiMissing {
        ai: &'static str,
        /// The dictionary's alternatives, e.g. `01,02,8006`: one of them (all of a `+` group) must be present.
        requires: String,
    },
    #[error("AIs ({0}) and ({1}) must not be used together")]
    ExclusiveAis(&'static str, &'static str),
    #[error("AI ({0}) must carry its serial component when a digital signature (8030) is given")]
    SerialRequiredWithSignature(&'static str),
    #[error("the URI contains a character that is not allowed in a URI (\"{0}\")")]
    IllegalUriCharacter(String),
    #[error("too many key qualifiers in path")]
    TooManyQualifiers,
    #[error("AI ({0}) is a key or key qualifier and must be in the path, not the query string")]
    KeyAiInQuery(&'static str),
    #[error("AI ({0}) is not permitted as a Digital Link data attribute")]
    NotADataAttribute(&'static str),
    #[error("invalid compressed URI segment \"{segment}\": {reason}")]
    InvalidCompressed {
        segment: String,
        reason: &'static str,
    },
    #[error("compressed URI segment \"{segment}\": unsupported EPC header 0x{header:02x}")]
    UnsupportedEpcHeader { segment: String, header: u8 },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_ai_and_segment() {
        let e = Gs1Error::InvalidValue {
            ai: "01",
            value: "09520123456787".into(),
            reason: "invalid check digit",
        };
        assert_eq!(
            e.to_string(),
            "AI (01) value \"09520123456787\": invalid check digit"
        );
        assert_eq!(
            Gs1Error::InvalidPercentEncoding("AB%ZZ".into()).to_string(),
            "invalid percent-encoding in segment \"AB%ZZ\""
        );
    }

    #[test]
    fn excerpt_is_bounded_and_char_safe() {
        let long = "é".repeat(100);
        let e = excerpt(&long);
        assert!(e.len() <= MAX_EXCERPT + 3);
        assert!(e.ends_with("..."));
    }
}
