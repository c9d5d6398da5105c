//! Checks of idr's JSON output against the three JSON schemas it must satisfy:
//!
//! * the GS1 linkset schema (`gs1-linkset-schema.json`, RFC 9264 linkset as profiled by GS1),
//! * the UNTP 0.7.0 linkset schema (`untp-0.7.0-linkset-schema.json`),
//! * the GS1 resolver description file schema (`gs1-description-file-schema.json`,
//!   served at `/.well-known/gs1resolver`).
//!
//! The official schema files live in `shared/reference/schemas/`, which is not shipped with the
//! repository, so their rules are encoded here by hand (`*_violations`). When the folder is
//! present beside the crate root, [`official_violations`] also runs the real schema through the
//! `jsonschema` crate (Draft 7, format assertions on), and [`assert_valid`] applies both.
//!
//! Semantics mirrored on purpose (JSON Schema Draft 7 with ECMA-262 regexes):
//! * `pattern` / `patternProperties` are *searches*: a pattern without `$` only constrains the
//!   start of the string, e.g. an `anchor` or `href` only needs `http(s)://` followed by one
//!   allowed character.
//! * `\w` is ASCII only (`[A-Za-z0-9_]`), as in ECMA-262.
//! * The GS1 schema writes its URL character class as `a-z`, `A-z`, `0-9`, `.`, `/`; the range
//!   `A-z` also takes the six ASCII characters between `Z` and `a`: `[ \ ] ^ _` and the backtick.
//!   The UNTP schema has the intended `A-Z`. Neither class contains `-`, `#`, `:`, `?`, `%`...
//! * The relation-key pattern is an alternation whose first branch starts with a negative
//!   lookahead evaluated at position 0: a lowercase name `[a-z-]+` is a relation key unless it
//!   *starts with* `anchor` or `itemDescription` (UNTP: also `description`). The second branch is
//!   a full `http(s)://` URL made only of the URL class above.
//! * A member is checked by its `properties` schema and/or by the relation-key schema when its
//!   name matches; a member matched by neither is rejected (`additionalProperties: false`).
//! * Keywords only constrain values of their own type: e.g. `supportedLinkType` items have no
//!   `type`, so a non-object item passes; `format` only checks strings.
//! * In the description file schema `hasTelephone` sits beside `properties` inside `contact`, so
//!   it is an unknown keyword and the official schema does not check it. We don't either.

use regex::Regex;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

/// Which schema a value is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SchemaKind {
    Gs1Linkset,
    UntpLinkset,
    Description,
}

impl SchemaKind {
    pub const ALL: [SchemaKind; 3] = [
        SchemaKind::Gs1Linkset,
        SchemaKind::UntpLinkset,
        SchemaKind::Description,
    ];

    /// File name of the official schema in `shared/reference/schemas/`.
    pub fn file_name(self) -> &'static str {
        match self {
            SchemaKind::Gs1Linkset => "gs1-linkset-schema.json",
            SchemaKind::UntpLinkset => "untp-0.7.0-linkset-schema.json",
            SchemaKind::Description => "gs1-description-file-schema.json",
        }
    }

    /// Our hand-encoded rules for this schema.
    pub fn violations(self, v: &Value) -> Vec<String> {
        match self {
            SchemaKind::Gs1Linkset => gs1_linkset_violations(v),
            SchemaKind::UntpLinkset => untp_linkset_violations(v),
            SchemaKind::Description => description_violations(v),
        }
    }

    /// The official schema's verdict, `None` when the schema folder is absent.
    pub fn official_violations(self, v: &Value) -> Option<Vec<String>> {
        official_violations(self.file_name(), v)
    }
}

// ---------------------------------------------------------------------------------------------
// Regular expressions (ECMA `\w` written out as the ASCII class it is).

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("hand-written pattern compiles")
}

/// GS1 URL start: `http(s)://` then one char of `a-z`, `A-Z`, `[ \ ] ^ _` and backtick, `0-9`, `.`, `/`.
static GS1_URL_START: LazyLock<Regex> = LazyLock::new(|| re(r"^https?://[0-9A-Z\[\\\]^_`a-z./]"));
/// GS1 relation type URL: the whole name in that class.
static GS1_RELATION_URL: LazyLock<Regex> =
    LazyLock::new(|| re(r"^https?://[0-9A-Z\[\\\]^_`a-z./]+$"));
/// UNTP URL start: `http(s)://` then one of `A-Za-z0-9./`.
static UNTP_URL_START: LazyLock<Regex> = LazyLock::new(|| re(r"^https?://[0-9A-Za-z./]"));
/// UNTP relation type URL.
static UNTP_RELATION_URL: LazyLock<Regex> = LazyLock::new(|| re(r"^https?://[0-9A-Za-z./]+$"));
/// Registered relation name branch (before the lookahead exclusions).
static RELATION_NAME: LazyLock<Regex> = LazyLock::new(|| re(r"^[a-z-]+$"));
/// `ll` or `ll-cc` where each letter is an ASCII word character.
static HREFLANG: LazyLock<Regex> = LazyLock::new(|| re(r"^[0-9A-Za-z_]{2}(?:-[0-9A-Za-z_]{2})?$"));
/// Somewhere in the string: word chars, `/`, one of `-+.` or a word char (a search).
static MEDIA_TYPE: LazyLock<Regex> = LazyLock::new(|| re(r"[0-9A-Za-z_]+/[-+.0-9A-Za-z_]"));
/// CURIE prefix including its colon.
static CURIE_PREFIX: LazyLock<Regex> = LazyLock::new(|| re(r"^[A-Za-z_][0-9A-Za-z_-]*:$"));

/// RFC 3986 `URI` (absolute: scheme required; fragment allowed), ASCII only.
static URI: LazyLock<Regex> = LazyLock::new(|| {
    let pct = "%[0-9A-Fa-f]{2}";
    let unreserved_sub = r"A-Za-z0-9\-._~!$&'()*+,;=";
    let pchar = format!(r"(?:[{unreserved_sub}:@]|{pct})");
    let seg = format!("{pchar}*");
    let seg_nz = format!("{pchar}+");
    let userinfo = format!(r"(?:(?:[{unreserved_sub}:]|{pct})*@)?");
    // IP literals are approximated (IPv6 digits/colons/dots, or IPvFuture).
    let host = format!(
        r"(?:\[[0-9A-Fa-f:.]+\]|\[[vV][0-9A-Fa-f]+\.[{unreserved_sub}:]+\]|(?:[{unreserved_sub}]|{pct})*)"
    );
    let authority = format!("{userinfo}{host}(?::[0-9]*)?");
    let hier =
        format!("(?://{authority}(?:/{seg})*|/(?:{seg_nz}(?:/{seg})*)?|{seg_nz}(?:/{seg})*|)");
    let tail = format!(r"(?:[{unreserved_sub}:@/?]|{pct})*");
    re(&format!(
        r"^[A-Za-z][A-Za-z0-9+.\-]*:{hier}(?:\?{tail})?(?:#{tail})?$"
    ))
});

/// Whether `s` is a URI in the sense of JSON Schema's `format: "uri"` (RFC 3986, absolute).
pub fn is_uri(s: &str) -> bool {
    URI.is_match(s)
}

// ---------------------------------------------------------------------------------------------
// Small helpers.

/// JSON Pointer of `token` under `base` (RFC 6901 escaping).
fn ptr(base: &str, token: &str) -> String {
    format!("{base}/{}", token.replace('~', "~0").replace('/', "~1"))
}

fn at(path: &str) -> &str {
    if path.is_empty() { "(root)" } else { path }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Collects violations for one document.
#[derive(Default)]
struct Report(Vec<String>);

impl Report {
    fn push(&mut self, path: &str, msg: impl std::fmt::Display) {
        self.0.push(format!("{}: {msg}", at(path)));
    }

    fn object<'a>(
        &mut self,
        path: &str,
        v: &'a Value,
        what: &str,
    ) -> Option<&'a Map<String, Value>> {
        let m = v.as_object();
        if m.is_none() {
            self.push(
                path,
                format!("{what} must be an object, found {}", json_type(v)),
            );
        }
        m
    }

    fn array<'a>(&mut self, path: &str, v: &'a Value, what: &str) -> Option<&'a Vec<Value>> {
        let a = v.as_array();
        if a.is_none() {
            self.push(
                path,
                format!("{what} must be an array, found {}", json_type(v)),
            );
        }
        a
    }

    fn string<'a>(&mut self, path: &str, v: &'a Value, what: &str) -> Option<&'a str> {
        let s = v.as_str();
        if s.is_none() {
            self.push(
                path,
                format!("{what} must be a string, found {}", json_type(v)),
            );
        }
        s
    }

    fn boolean(&mut self, path: &str, v: &Value, what: &str) {
        if !v.is_boolean() {
            self.push(
                path,
                format!("{what} must be a boolean, found {}", json_type(v)),
            );
        }
    }

    fn string_array(&mut self, path: &str, v: &Value, what: &str) {
        if let Some(items) = self.array(path, v, what) {
            for (i, item) in items.iter().enumerate() {
                self.string(
                    &ptr(path, &i.to_string()),
                    item,
                    &format!("each {what} item"),
                );
            }
        }
    }

    fn uri(&mut self, path: &str, v: &Value, what: &str) {
        if let Some(s) = self.string(path, v, what)
            && !is_uri(s)
        {
            self.push(
                path,
                format!("{what} {s:?} is not a URI (RFC 3986, with a scheme)"),
            );
        }
    }

    fn required(&mut self, path: &str, map: &Map<String, Value>, names: &[&str], what: &str) {
        for name in names {
            if !map.contains_key(*name) {
                self.push(path, format!("{what} is missing required member `{name}`"));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Linksets (GS1 and UNTP share a shape; the profile says where they differ).

#[derive(Clone, Copy)]
enum TargetMember {
    /// string starting with an allowed URL (profile's class)
    Href,
    /// plain string
    Str,
    /// array of `ll` / `ll-cc` strings
    Hreflang,
    /// string containing a media type (search)
    MediaType,
    /// array with items of any type
    AnyArray,
    Bool,
    StrArray,
}

struct LinksetProfile {
    /// Used in messages.
    name: &'static str,
    /// The URL character class, for messages.
    url_class: &'static str,
    url_start: &'static LazyLock<Regex>,
    relation_url: &'static LazyLock<Regex>,
    /// Prefixes excluded from the `[a-z-]+` relation-name branch by the negative lookahead.
    lookahead_excludes: &'static [&'static str],
    /// Plain-string members of a link context object besides `anchor`.
    string_members: &'static [&'static str],
    /// Required members of a link context object.
    required: &'static [&'static str],
    /// Allowed members of a link target object and their types.
    target_members: &'static [(&'static str, TargetMember)],
}

const GS1_TARGET_MEMBERS: &[(&str, TargetMember)] = &[
    ("href", TargetMember::Href),
    ("title", TargetMember::Str),
    ("hreflang", TargetMember::Hreflang),
    ("type", TargetMember::MediaType),
    ("context", TargetMember::AnyArray),
    ("fwqs", TargetMember::Bool),
    ("public", TargetMember::Bool),
];

const UNTP_TARGET_MEMBERS: &[(&str, TargetMember)] = &[
    ("href", TargetMember::Href),
    ("title", TargetMember::Str),
    ("hreflang", TargetMember::Hreflang),
    ("type", TargetMember::MediaType),
    ("context", TargetMember::AnyArray),
    ("fwqs", TargetMember::Bool),
    ("public", TargetMember::Bool),
    ("rel", TargetMember::StrArray),
    ("method", TargetMember::StrArray),
    ("encryptionMethod", TargetMember::Str),
    ("accessRole", TargetMember::StrArray),
];

static GS1: LinksetProfile = LinksetProfile {
    name: "GS1 linkset",
    url_class: "[A-Za-z0-9./] plus [\\]^_`",
    url_start: &GS1_URL_START,
    relation_url: &GS1_RELATION_URL,
    lookahead_excludes: &["anchor", "itemDescription"],
    string_members: &["itemDescription"],
    required: &["anchor", "itemDescription"],
    target_members: GS1_TARGET_MEMBERS,
};

static UNTP: LinksetProfile = LinksetProfile {
    name: "UNTP 0.7.0 linkset",
    url_class: "[A-Za-z0-9./]",
    url_start: &UNTP_URL_START,
    relation_url: &UNTP_RELATION_URL,
    lookahead_excludes: &["anchor", "itemDescription", "description"],
    string_members: &["itemDescription", "description"],
    required: &["anchor"],
    target_members: UNTP_TARGET_MEMBERS,
};

impl LinksetProfile {
    fn is_relation_key(&self, key: &str) -> bool {
        (RELATION_NAME.is_match(key) && !self.lookahead_excludes.iter().any(|p| key.starts_with(p)))
            || self.relation_url.is_match(key)
    }

    fn check(&self, v: &Value) -> Vec<String> {
        let mut r = Report::default();
        let Some(top) = r.object("", v, &format!("a {}", self.name)) else {
            return r.0;
        };
        r.required("", top, &["linkset"], "the top-level object");
        for (key, value) in top {
            let path = ptr("", key);
            if key == "linkset" {
                if let Some(items) = r.array(&path, value, "`linkset`") {
                    for (i, item) in items.iter().enumerate() {
                        self.check_context(&mut r, &ptr(&path, &i.to_string()), item);
                    }
                }
            } else {
                r.push(
                    &path,
                    format!("top-level member `{key}` is not allowed (only `linkset`)"),
                );
            }
        }
        r.0
    }

    fn check_context(&self, r: &mut Report, path: &str, v: &Value) {
        let Some(map) = r.object(path, v, "a link context object") else {
            return;
        };
        r.required(path, map, self.required, "the link context object");
        for (key, value) in map {
            let kp = ptr(path, key);
            let mut known = false;
            if key == "anchor" {
                known = true;
                if let Some(s) = r.string(&kp, value, "`anchor`")
                    && !self.url_start.is_match(s)
                {
                    r.push(
                        &kp,
                        format!(
                            "`anchor` {s:?} must start with http(s):// and an allowed character"
                        ),
                    );
                }
            } else if self.string_members.contains(&key.as_str()) {
                known = true;
                r.string(&kp, value, &format!("`{key}`"));
            }
            if self.is_relation_key(key) {
                known = true;
                if let Some(targets) = r.array(&kp, value, &format!("relation `{key}`")) {
                    for (i, t) in targets.iter().enumerate() {
                        self.check_target(r, &ptr(&kp, &i.to_string()), t);
                    }
                }
            }
            if !known {
                r.push(
                    &kp,
                    format!(
                        "member `{key}` is not allowed in a {} context object: not a known member, \
                         nor a relation type (`[a-z-]+` not starting with {}, or an http(s) URL \
                         made only of {}: no CURIE, `#`, `-`, `:`, `?`...)",
                        self.name,
                        self.lookahead_excludes.join("/"),
                        self.url_class
                    ),
                );
            }
        }
    }

    fn check_target(&self, r: &mut Report, path: &str, v: &Value) {
        let Some(map) = r.object(path, v, "a link target object") else {
            return;
        };
        r.required(path, map, &["href", "title"], "the link target object");
        for (key, value) in map {
            let kp = ptr(path, key);
            let Some((_, member)) = self.target_members.iter().find(|(n, _)| n == key) else {
                r.push(
                    &kp,
                    format!(
                        "member `{key}` is not allowed in a {} link target object",
                        self.name
                    ),
                );
                continue;
            };
            let what = format!("`{key}`");
            match member {
                TargetMember::Href => {
                    if let Some(s) = r.string(&kp, value, &what)
                        && !self.url_start.is_match(s)
                    {
                        r.push(
                            &kp,
                            format!(
                                "`href` {s:?} must start with http(s):// and an allowed character"
                            ),
                        );
                    }
                }
                TargetMember::Str => {
                    r.string(&kp, value, &what);
                }
                TargetMember::Hreflang => {
                    if let Some(items) = r.array(&kp, value, &what) {
                        for (i, item) in items.iter().enumerate() {
                            let ip = ptr(&kp, &i.to_string());
                            if let Some(s) = r.string(&ip, item, "each `hreflang` item")
                                && !HREFLANG.is_match(s)
                            {
                                r.push(&ip, format!("`hreflang` {s:?} must be `ll` or `ll-cc` (2 word characters each)"));
                            }
                        }
                    }
                }
                TargetMember::MediaType => {
                    if let Some(s) = r.string(&kp, value, &what)
                        && !MEDIA_TYPE.is_match(s)
                    {
                        r.push(
                            &kp,
                            format!("`type` {s:?} does not contain a media type `x/y`"),
                        );
                    }
                }
                TargetMember::AnyArray => {
                    r.array(&kp, value, &what);
                }
                TargetMember::Bool => r.boolean(&kp, value, &what),
                TargetMember::StrArray => r.string_array(&kp, value, &what),
            }
        }
    }
}

/// Violations of the GS1 linkset schema (empty = valid).
pub fn gs1_linkset_violations(v: &Value) -> Vec<String> {
    GS1.check(v)
}

/// Violations of the UNTP 0.7.0 linkset schema (empty = valid).
pub fn untp_linkset_violations(v: &Value) -> Vec<String> {
    UNTP.check(v)
}

// ---------------------------------------------------------------------------------------------
// Resolver description file.

/// Values allowed in `supportedPrimaryKeys`.
pub const SUPPORTED_PRIMARY_KEYS: &[&str] = &[
    "all", "01", "8006", "8013", "8010", "410", "411", "412", "413", "414", "415", "417", "8017",
    "8018", "255", "00", "253", "401", "402", "8003", "8004",
];

/// Violations of the GS1 resolver description file schema (empty = valid). Unknown members are
/// allowed at every level.
pub fn description_violations(v: &Value) -> Vec<String> {
    let mut r = Report::default();
    let Some(top) = r.object("", v, "a resolver description file") else {
        return r.0;
    };
    r.required(
        "",
        top,
        &["resolverRoot", "supportedPrimaryKeys"],
        "the description file",
    );
    for (key, value) in top {
        let p = ptr("", key);
        match key.as_str() {
            "resolverRoot" | "extensionProfile" | "jsonLdContextLocation" => {
                r.uri(&p, value, &format!("`{key}`"))
            }
            "name" => {
                r.string(&p, value, "`name`");
            }
            "linkTypeDefaultCanBeLinkset" => r.boolean(&p, value, "`linkTypeDefaultCanBeLinkset`"),
            "supportedContextValuesEnumerated" => {
                r.string_array(&p, value, "`supportedContextValuesEnumerated`")
            }
            "supportedPrimaryKeys" => {
                let Some(items) = r.array(&p, value, "`supportedPrimaryKeys`") else {
                    continue;
                };
                for (i, item) in items.iter().enumerate() {
                    let ip = ptr(&p, &i.to_string());
                    let s = r.string(&ip, item, "each `supportedPrimaryKeys` item");
                    if !s.is_some_and(|s| SUPPORTED_PRIMARY_KEYS.contains(&s)) {
                        r.push(&ip, format!("{item} is not a supported primary key (\"all\" or the AI of a GS1 key)"));
                    }
                }
            }
            "supportedLinkType" => {
                let Some(items) = r.array(&p, value, "`supportedLinkType`") else {
                    continue;
                };
                for (i, item) in items.iter().enumerate() {
                    // The items schema has no `type`: only object items are constrained.
                    let Some(m) = item.as_object() else { continue };
                    let ip = ptr(&p, &i.to_string());
                    if let Some(ns) = m.get("namespace") {
                        r.uri(&ptr(&ip, "namespace"), ns, "`namespace`");
                    }
                    if let Some(prefix) = m.get("prefix") {
                        let pp = ptr(&ip, "prefix");
                        if let Some(s) = r.string(&pp, prefix, "`prefix`")
                            && !CURIE_PREFIX.is_match(s)
                        {
                            r.push(
                                &pp,
                                format!(
                                    "`prefix` {s:?} must be an NCName-like prefix ending with `:`"
                                ),
                            );
                        }
                    }
                }
            }
            "supportedContextValuesExternal" => {
                let Some(items) = r.array(&p, value, "`supportedContextValuesExternal`") else {
                    continue;
                };
                for (i, item) in items.iter().enumerate() {
                    let ip = ptr(&p, &i.to_string());
                    let Some(m) = r.object(&ip, item, "each `supportedContextValuesExternal` item")
                    else {
                        continue;
                    };
                    if let Some(n) = m.get("nameOfList") {
                        r.string(&ptr(&ip, "nameOfList"), n, "`nameOfList`");
                    }
                    if let Some(u) = m.get("url") {
                        r.uri(&ptr(&ip, "url"), u, "`url`");
                    }
                }
            }
            "contact" => {
                let Some(m) = r.object(&p, value, "`contact`") else {
                    continue;
                };
                if let Some(f) = m.get("fn") {
                    r.string(&ptr(&p, "fn"), f, "`fn`");
                }
                // `hasTelephone` is not checked by the official schema (misplaced keyword).
                if let Some(a) = m.get("hasAddress") {
                    let ap = ptr(&p, "hasAddress");
                    if let Some(am) = r.object(&ap, a, "`hasAddress`") {
                        for field in ["streetAddress", "locality", "region", "postal-code"] {
                            if let Some(fv) = am.get(field) {
                                r.string(&ptr(&ap, field), fv, &format!("`{field}`"));
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    r.0
}

// ---------------------------------------------------------------------------------------------
// Official schemas (optional).

/// Folder holding the official schemas: `$IDR_SCHEMA_DIR` when set (it must then exist), else
/// `../shared/reference/schemas` beside the crate root when that exists, else `None`.
pub fn official_schema_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("IDR_SCHEMA_DIR") {
        let dir = PathBuf::from(dir);
        assert!(
            dir.is_dir(),
            "IDR_SCHEMA_DIR={} is not a folder",
            dir.display()
        );
        return Some(dir);
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/schemas");
    dir.is_dir().then_some(dir)
}

/// Validate against the official schema file `name` (e.g. "gs1-linkset-schema.json") with the
/// `jsonschema` crate (Draft 7, `format` asserted) when the schema folder exists; `None` when it
/// is absent. Panics if the folder exists but the file is missing or does not compile.
pub fn official_violations(name: &str, v: &Value) -> Option<Vec<String>> {
    let path = official_schema_dir()?.join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read official schema {}: {e}", path.display()));
    let schema: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("official schema {} is not JSON: {e}", path.display()));
    let validator = jsonschema::draft7::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("official schema {} does not compile: {e}", path.display()));
    Some(
        validator
            .iter_errors(v)
            .map(|e| format!("{}: {e}", at(e.instance_path().as_str())))
            .collect(),
    )
}

/// Panics with every message if our rules or (when present) the official schema reject `v`.
pub fn assert_valid(kind: SchemaKind, v: &Value) {
    let ours = kind.violations(v);
    let official = kind.official_violations(v).unwrap_or_default();
    if ours.is_empty() && official.is_empty() {
        return;
    }
    let mut msg = format!(
        "{kind:?}: document is not valid against {}\n",
        kind.file_name()
    );
    for m in &ours {
        msg.push_str(&format!("  [our rules] {m}\n"));
    }
    for m in &official {
        msg.push_str(&format!("  [official]  {m}\n"));
    }
    msg.push_str(&format!(
        "document:\n{}",
        serde_json::to_string_pretty(v).unwrap_or_default()
    ));
    panic!("{msg}");
}
