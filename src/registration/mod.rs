//! Turns a submitted anchor (management API body or import line) into a validated `AnchorRecord`.
//!
//! Every problem is reported with the JSON path of the offending field, so an issuer can fix it without guessing.

//!
//! - `submission`: the wire type and its serde (what a writer sends, and an import line);
//! - `validation`: the checks a submission passes to become an `AnchorRecord`;
//! - `write`: the retrying read-modify-write every management API writes through;
//! - `default_link`: settling an anchor's default link type against its ancestors;
//! - `patch`: a write that names only some fields, applied over the stored record inside the write.

mod default_link;
mod patch;
mod submission;
mod validation;
mod write;

pub use default_link::{Ancestor, Fallback, settle_default, settles_alone};
pub use patch::{LinkFields, Patch};
pub use submission::{Submission, parse, parse_line, parse_value};
pub use validation::{Validated, normalised, validate};
pub use write::{
    Each, Target, WriteError, Written, write, write_changed, write_each, write_each_changed,
};

use serde::Serialize;

/// A list of language tags as people type them in one field (a form's input, a CSV cell): separated by spaces, commas
/// or semicolons, empty pieces dropped (`"en, fr"`, `"en de"`, `"en;de"`). The one rule of the console's edit form
/// and its CSV upload.
pub fn languages(text: &str) -> Vec<String> {
    text.split([' ', ',', ';'])
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    /// The field names something no configuration knows (a link type): a bad request rather than a rule broken.
    #[serde(skip)]
    pub unknown_term: bool,
    /// The writer may not make this change (a lifecycle contributor's rule): `403`, not `422`.
    #[serde(skip)]
    pub refused: bool,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
            unknown_term: false,
            refused: false,
        }
    }

    /// A change the writer may not make (`403`).
    pub fn refused(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            refused: true,
            ..FieldError::new(field, message)
        }
    }

    pub(super) fn unknown(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            unknown_term: true,
            ..FieldError::new(field, message)
        }
    }
}

#[cfg(test)]
mod tests;
