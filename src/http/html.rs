//! The linkset as a page for people: what a browser gets for `linkType=linkset` or a `300`. Semantic, mobile-first
//! HTML without scripts, compiled by maud (which escapes every value), with the linkset JSON embedded for machines.

use crate::registry::record::is_predecessor_rel;
use crate::vocabulary::Vocabulary;
use base64::Engine;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

pub const CONTENT_TYPE: &str = "text/html; charset=utf-8";

/// Context object members that are not link relations.
const NOT_RELATIONS: [&str; 3] = ["anchor", "itemDescription", "@context"];

/// What a page shows.
pub struct Page<'a> {
    /// The identifier as written in the management API, e.g. `01/09520123456788/10/ABC`.
    pub identifier: &'a str,
    /// Its canonical public URI.
    pub uri: &'a str,
    /// `{"linkset": [context objects…]}`, most specific level first.
    pub linkset: &'a Value,
    /// A `300`: the linkset holds the equally good candidates for the requested type.
    pub multiple_choices: bool,
    pub vocabulary: &'a Vocabulary,
    /// The links lifecycle contributors added (`Linkset::contributions`), shown as such.
    pub contributions: &'a [crate::linkset::Contribution],
    /// The verification state of each credential link (`Linkset::verification`); empty when verification is off.
    pub verification: &'a [crate::linkset::Verified],
}

/// Nothing may run, load or submit except the page's own style (by hash) and the QR code image from this host.
pub static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(CSS.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self'; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'"
    )
});

pub fn render(page: &Page<'_>) -> String {
    let objects: &[Value] = page.linkset["linkset"]
        .as_array()
        .map_or(&[], Vec::as_slice);
    // Attribution and verification objects say in JSON who added a link and whether it verified; the page says it
    // beside the link instead.
    let levels: Vec<&Value> = objects
        .iter()
        .filter(|o| {
            !is_annotation(o, objects, crate::linkset::AUTHOR)
                && !is_annotation(o, objects, crate::linkset::STATUS)
        })
        .collect();
    let contributors = Annotations {
        contributions: page.contributions,
        verification: page.verification,
    };
    let description = levels
        .first()
        .and_then(|l| l["itemDescription"].as_str())
        .unwrap_or(page.identifier);
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (description) " · " (page.identifier) }
                style { (PreEscaped(CSS)) }
            }
            body {
                main {
                    header {
                        @if page.multiple_choices {
                            p.kicker { "Several links fit equally well — choose one" }
                        } @else {
                            p.kicker { "Links for" }
                        }
                        h1 { (description) }
                        p.meta { code { (page.identifier) } }
                    }
                    @for (i, level) in levels.iter().enumerate() {
                        (level_section(i, level, page.vocabulary, &contributors))
                    }
                    @if levels.is_empty() {
                        p { "No links are registered." }
                    }
                    (label(page))
                }
                script type="application/linkset+json" { (PreEscaped(embedded_json(page.linkset))) }
            }
        }
    };
    markup.into_string()
}

/// One level of the qualifier tree: its description, its anchor, and its links grouped by type.
fn level_section(
    index: usize,
    level: &Value,
    vocabulary: &Vocabulary,
    contributors: &Annotations<'_>,
) -> Markup {
    let empty = Map::new();
    let object = level.as_object().unwrap_or(&empty);
    let heading = format!("level-{index}");
    let relations: Vec<(&String, &Vec<Value>)> = object
        .iter()
        .filter(|(k, _)| !NOT_RELATIONS.contains(&k.as_str()))
        .filter_map(|(k, v)| Some((k, v.as_array()?)))
        .collect();
    html! {
        section aria-labelledby=(heading) {
            // The first level is what the page is about (its description is the page title); the others are the
            // broader identifiers whose links apply too.
            @if index == 0 {
                h2 id=(heading) { "This item" }
            } @else {
                p.kicker { "Inherited from" }
                h2 id=(heading) { (text(&level["itemDescription"])) }
            }
            p.meta { code { (text(&level["anchor"])) } }
            @for (relation, targets) in &relations {
                (link_type_group(text(&level["anchor"]), relation, targets, vocabulary, contributors))
            }
            @if relations.is_empty() {
                p { "No links at this level." }
            }
        }
    }
}

fn link_type_group(
    anchor: &str,
    relation: &str,
    targets: &[Value],
    vocabulary: &Vocabulary,
    contributors: &Annotations<'_>,
) -> Markup {
    let def = vocabulary.by_uri(relation);
    html! {
        h3 {
            (def.map_or(relation, |d| d.title.as_str()))
            " " span.meta { code { (def.map_or(relation, |d| d.curie.as_str())) } }
        }
        ul.links {
            @for target in targets {
                li { (link_item(target, contributors.at(anchor, relation), contributors.verified(anchor, relation))) }
            }
        }
    }
}

/// A link: its title as the link text, then whether its credential verified, then the attributes a person chooses
/// by.
fn link_item<'a>(
    target: &Value,
    added_by: impl Fn(&str) -> Option<&'a str>,
    verified: impl Fn(&str) -> Option<&'a crate::linkset::Verified>,
) -> Markup {
    let href = text(&target["href"]);
    let added_by = added_by(href);
    let verified = verified(href);
    let title = match text(&target["title"]) {
        "" => href,
        t => t,
    };
    let languages = strings(&target["hreflang"]);
    let media = text(&target["type"]);
    let rel = strings(&target["rel"]);
    let methods = strings(&target["method"]);
    let previous = rel.iter().any(|r| is_predecessor_rel(r));
    let action = !methods.is_empty() || rel.iter().any(|r| r.eq_ignore_ascii_case("edit"));
    let other_rel: Vec<&str> = rel
        .iter()
        .copied()
        .filter(|r| !is_predecessor_rel(r) && !r.eq_ignore_ascii_case("edit"))
        .collect();
    let roles: Vec<&str> = strings(&target["accessRole"])
        .into_iter()
        .map(role_name)
        .collect();
    html! {
        // Only web links are clickable: a stored `javascript:` or `data:` target is shown, never followed.
        @if is_web_link(href) {
            a href=(href) hreflang=[single(&languages)] type=[non_empty(media)] { (title) }
        } @else {
            span.title { (title) }
        }
        @if let Some(verified) = verified {
            (verification(verified))
        }
        @if previous || action || added_by.is_some() {
            p.badges {
                @if added_by.is_some() { span.badge { "added by a contributor" } }
                @if previous { span.badge { "previous version" } }
                @if action {
                    span.badge { "action" @if !methods.is_empty() { " (" (methods.join(", ")) ")" } }
                }
            }
        }
        dl {
            (row("Language", &languages.join(", ")))
            (row("Media type", media))
            (row("Context", &strings(&target["context"]).join(", ")))
            (row("Access", &roles.join(", ")))
            (row("Encryption", text(&target["encryptionMethod"])))
            (row("Relation", &other_rel.join(", ")))
            @if let Some(did) = added_by {
                (row("Added by", &format!("{did}, a lifecycle contributor proven by a Digital Identity Anchor, not the owner of this identifier")))
            }
            (row("Address", href))
        }
    }
}

/// Whether a context object annotates a target of another (`crate::linkset`): only `anchor`, `itemDescription` and
/// `relation` (`author`: a contributor's attribution; `status`: a credential's verification), anchored at a target
/// of another context object.
fn is_annotation(object: &Value, all: &[Value], relation: &str) -> bool {
    let Some(map) = object.as_object() else {
        return false;
    };
    let only = map
        .keys()
        .all(|k| ["anchor", "itemDescription", relation].contains(&k.as_str()));
    let anchor = text(&object["anchor"]);
    only && map.contains_key(relation)
        && all.iter().any(|o| {
            o.as_object().is_some_and(|m| {
                m.iter()
                    .filter(|(k, _)| {
                        ![crate::linkset::AUTHOR, crate::linkset::STATUS].contains(&k.as_str())
                    })
                    .filter_map(|(_, v)| v.as_array())
                    .flatten()
                    .any(|t| text(&t["href"]) == anchor)
            })
        })
}

/// What the page says beside a link: who added it, whether its credential verified.
struct Annotations<'a> {
    contributions: &'a [crate::linkset::Contribution],
    verification: &'a [crate::linkset::Verified],
}

impl<'a> Annotations<'a> {
    /// Who added the link to a target under `relation` at the level `anchor`: by all three, so an owner's link to
    /// the same address under another relation is not taken for the contributor's.
    fn at<'b>(
        &'b self,
        anchor: &'b str,
        relation: &'b str,
    ) -> impl Fn(&str) -> Option<&'a str> + 'b {
        move |href| {
            self.contributions
                .iter()
                .find(|c| c.anchor == anchor && c.relation == relation && c.href == href)
                .map(|c| c.did.as_str())
        }
    }

    /// The verification state of the link to a target under `relation` at the level `anchor`.
    fn verified<'b>(
        &'b self,
        anchor: &'b str,
        relation: &'b str,
    ) -> impl Fn(&str) -> Option<&'a crate::linkset::Verified> + 'b {
        move |href| {
            self.verification
                .iter()
                .find(|v| v.anchor == anchor && v.relation == relation && v.href == href)
        }
    }
}

/// A credential link's verification state in words: the state first, in bold, then who signed it or why it did not
/// verify. The words carry the meaning; the border colour only repeats it.
fn verification(verified: &crate::linkset::Verified) -> Markup {
    let (state, detail) = verified.said();
    let class = format!("check {}", verified.status.as_str());
    html! {
        p class=(class) {
            strong { (state) }
            (detail)
        }
    }
}

/// A `dt`/`dd` pair, left out when there is nothing to say.
fn row(name: &str, value: &str) -> Markup {
    html! {
        @if !value.is_empty() {
            dt { (name) }
            dd { (value) }
        }
    }
}

/// The QR code of the identifier, to carry the page to a phone or onto a label.
fn label(page: &Page<'_>) -> Markup {
    let src = format!("/api/v1/qr/{}?size=320", page.identifier);
    let png = format!("/api/v1/qr/{}?format=png&size=1024", page.identifier);
    html! {
        aside.label aria-label="Label" {
            img src=(src) width="160" height="160" alt={ "QR code for " (page.uri) };
            p.meta { a href=(png) { "QR code as PNG" } }
        }
    }
}

/// The linkset as JSON that cannot end the script element: every `<` is written as `\u003c`, which JSON parsers
/// read back as `<`.
fn embedded_json(linkset: &Value) -> String {
    linkset.to_string().replace('<', "\\u003c")
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("")
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn single<'a>(values: &[&'a str]) -> Option<&'a str> {
    match values {
        [one] => Some(one),
        _ => None,
    }
}

fn non_empty(value: &str) -> Option<&str> {
    (!value.is_empty()).then_some(value)
}

/// `untp:accessRole#Customer` → `Customer`.
fn role_name(role: &str) -> &str {
    role.rsplit_once('#').map_or(role, |(_, name)| name)
}

fn is_web_link(href: &str) -> bool {
    let lower = href.get(..8).unwrap_or(href).to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// Mobile first: one column, large tap targets, system fonts, WCAG AA contrast in light and dark schemes.
pub(super) const CSS: &str = "\
:root{color-scheme:light dark;--fg:#1b1b1b;--muted:#4f5358;--bg:#fff;--card:#f4f5f7;--line:#d0d4da;\
--link:#0b57d0;--badge:#e3eafc}\
@media (prefers-color-scheme:dark){:root{--fg:#ececec;--muted:#b4b8bd;--bg:#121212;--card:#1e1f22;\
--line:#3a3d42;--link:#8ab4f8;--badge:#26324a}}\
*{box-sizing:border-box}\
body{margin:0;font:1rem/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;color:var(--fg);\
background:var(--bg)}\
main{max-width:42rem;margin:0 auto;padding:1rem}\
h1{font-size:1.5rem;line-height:1.25;margin:.25rem 0}\
h2{font-size:1.2rem;line-height:1.3;margin:0 0 .25rem}\
section{margin-top:2rem}\
h3{font-size:1rem;margin:1.25rem 0 .5rem}\
.kicker,.meta{color:var(--muted);font-size:.875rem;margin:0}\
h3 .meta{font-weight:normal}\
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;overflow-wrap:anywhere}\
ul{list-style:none;margin:0;padding:0}\
li{background:var(--card);border:1px solid var(--line);border-radius:.5rem;padding:.5rem .75rem .75rem;\
margin:0 0 .5rem}\
li>a,.title{display:block;font-weight:600;font-size:1.05rem;padding:.5rem 0;overflow-wrap:anywhere}\
a{color:var(--link)}\
a:focus-visible{outline:3px solid var(--link);outline-offset:2px}\
.badges{margin:0 0 .25rem}\
.badge{display:inline-block;background:var(--badge);border-radius:1rem;padding:0 .6rem;font-size:.8rem;\
margin-right:.25rem}\
dl{display:grid;grid-template-columns:auto 1fr;gap:.125rem .75rem;margin:0;font-size:.875rem}\
dt{color:var(--muted)}\
dd{margin:0;overflow-wrap:anywhere}\
.check{margin:0 0 .5rem;padding:.25rem .5rem;border-left:4px solid var(--line);font-size:.9rem}\
.check.verified{border-color:#1e7b34}.check.failed,.check.not-a-credential{border-color:#b3261e}\
.label{margin:2rem 0 1rem;text-align:center}\
.label img{display:block;margin:0 auto .5rem;background:#fff;border-radius:.25rem}\
@media (min-width:40rem){main{padding:2rem}h1{font-size:2rem}}";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn page(linkset: &Value, multiple_choices: bool) -> String {
        let vocabulary = Vocabulary::embedded();
        render(&Page {
            identifier: "01/09520123456788/21/12345",
            uri: "https://id.example.com/01/09520123456788/21/12345",
            linkset,
            multiple_choices,
            vocabulary: &vocabulary,
            contributions: &[],
            verification: &[],
        })
    }

    fn linkset() -> Value {
        json!({"linkset": [
            {
                "anchor": "https://id.example.com/01/09520123456788/21/12345",
                "itemDescription": "Battery, serial 12345",
                "https://test.uncefact.org/vocabulary/linkTypes/dpp": [
                    {"href": "https://c.example/dpp/v2", "title": "Passport", "type": "application/vc+jwt",
                     "hreflang": ["en"]},
                    {"href": "https://c.example/dpp/v1", "title": "Passport v1", "rel": ["predecessor-version"]},
                    {"href": "https://c.example/dpp/edit", "title": "Update", "method": ["POST"]}
                ],
                "https://test.uncefact.org/vocabulary/linkTypes/dte": [
                    {"href": "https://c.example/dte", "title": "Events", "encryptionMethod": "AES-128",
                     "accessRole": ["untp:accessRole#Customer"], "context": ["eu"]}
                ]
            },
            {
                "anchor": "https://id.example.com/01/09520123456788",
                "itemDescription": "Battery",
                "https://gs1.org/voc/pip": [{"href": "https://b.example/de", "title": "Info", "hreflang": ["de", "en"]}]
            }
        ]})
    }

    /// A contributor's link is badged by level, relation and target: an owner's link to the same address under
    /// another relation, or at another level, is not.
    #[test]
    fn only_the_contributed_link_is_attributed() {
        let same = "https://c.example/dpp/v2";
        let contributed = [crate::linkset::Contribution {
            anchor: "https://id.example.com/01/09520123456788/21/12345".into(),
            relation: "https://test.uncefact.org/vocabulary/linkTypes/dte".into(),
            href: same.into(),
            did: "did:web:recycler.example".into(),
        }];
        let mut linkset = linkset();
        linkset["linkset"][0]["https://test.uncefact.org/vocabulary/linkTypes/dte"][0]["href"] =
            json!(same);
        linkset["linkset"][1]["https://gs1.org/voc/pip"][0]["href"] = json!(same);
        let vocabulary = Vocabulary::embedded();
        let html = render(&Page {
            identifier: "01/09520123456788/21/12345",
            uri: "https://id.example.com/01/09520123456788/21/12345",
            linkset: &linkset,
            multiple_choices: false,
            vocabulary: &vocabulary,
            contributions: &contributed,
            verification: &[],
        });
        assert_eq!(html.matches("added by a contributor").count(), 1, "{html}");
        assert_eq!(
            html.matches("did:web:recycler.example").count(),
            1,
            "{html}"
        );
        // the badge sits in the events group, after the dpp group's links
        let badge = html.find("added by a contributor").unwrap();
        assert!(html.find("Passport v1").unwrap() < badge, "{html}");
        assert!(html.find(">Events<").unwrap() < badge, "{html}");
        assert!(badge < html.find(">Info<").unwrap(), "{html}");
    }

    /// Each credential link says in words whether it verified, who signed it or why not; the verification objects
    /// of the JSON are not shown as levels.
    #[test]
    fn credential_links_say_whether_they_verified() {
        use crate::linkset::Verified;
        use crate::verification::{LinkVerdict, Status};
        const SERIAL: &str = "https://id.example.com/01/09520123456788/21/12345";
        const DPP: &str = "https://test.uncefact.org/vocabulary/linkTypes/dpp";
        const DTE: &str = "https://test.uncefact.org/vocabulary/linkTypes/dte";
        let shown =
            |relation: &str, href: &str, status: Status, verdict: Option<LinkVerdict>| Verified {
                anchor: SERIAL.into(),
                relation: relation.into(),
                href: href.into(),
                status,
                verdict,
            };
        let signed = LinkVerdict {
            status: Status::Verified,
            issuer: Some("did:web:maker.example".into()),
            valid_until: Some("2027-06-30".into()),
            ..LinkVerdict::pending(DPP, "https://c.example/dpp/v2")
        };
        let wrong = LinkVerdict {
            status: Status::Failed,
            reason: Some("the passport is about another product".into()),
            ..LinkVerdict::pending(DPP, "https://c.example/dpp/v1")
        };
        let verification = [
            shown(
                DPP,
                "https://c.example/dpp/v2",
                Status::Verified,
                Some(signed),
            ),
            shown(DPP, "https://c.example/dpp/v1", Status::Failed, Some(wrong)),
            shown(DPP, "https://c.example/dpp/edit", Status::Pending, None),
            shown(DTE, "https://c.example/dte", Status::Encrypted, None),
        ];
        let mut linkset = linkset();
        linkset["linkset"].as_array_mut().unwrap().insert(1, json!({
            "anchor": "https://c.example/dpp/v2",
            "itemDescription": "Verified: signed by did:web:maker.example",
            "status": [{"href": "https://id.example.com/api/v1/anchors/01/09520123456788/21/12345/verification",
                        "title": "verified", "type": "application/json"}]
        }));
        let vocabulary = Vocabulary::embedded();
        let html = render(&Page {
            identifier: "01/09520123456788/21/12345",
            uri: SERIAL,
            linkset: &linkset,
            multiple_choices: false,
            vocabulary: &vocabulary,
            contributions: &[],
            verification: &verification,
        });
        assert!(
            html.contains(
                "<p class=\"check verified\"><strong>Verified</strong>: signed by did:web:maker.example, \
                 valid until 2027-06-30</p>"
            ),
            "{html}"
        );
        assert!(
            html.contains(
                "<p class=\"check failed\"><strong>Not verified</strong>: the passport is about another product</p>"
            ),
            "{html}"
        );
        assert!(html.contains("<strong>Not checked yet</strong>"), "{html}");
        assert!(
            html.contains("<strong>Encrypted</strong>: only authorised parties can read it"),
            "{html}"
        );
        // Each state beside its own link.
        let at = |needle: &str| html.find(needle).unwrap();
        assert!(
            at(">Passport<") < at("check verified") && at("check verified") < at(">Passport v1<")
        );
        assert!(at(">Passport v1<") < at("check failed") && at("check failed") < at(">Update<"));
        assert!(at(">Events<") < at("check encrypted"));
        // Not a level of its own, and no state for the product page.
        assert!(!html.contains("level-2"), "{html}");
        assert_eq!(html.matches("class=\"check ").count(), 4, "{html}");
    }

    #[test]
    fn without_verification_no_state_is_shown() {
        let html = page(&linkset(), false);
        assert!(!html.contains("class=\"check"), "{html}");
        assert!(!html.contains("Verified"), "{html}");
    }

    #[test]
    fn levels_link_types_and_attributes_are_shown() {
        let html = page(&linkset(), false);
        assert!(html.starts_with("<!DOCTYPE html><html lang=\"en\">"));
        assert!(html.contains("<main>"));
        assert!(html.contains("<h1>Battery, serial 12345</h1>"));
        assert!(html.contains("<h2 id=\"level-0\">This item</h2>"));
        assert!(html.contains("<h2 id=\"level-1\">Battery</h2>"));
        assert!(
            html.contains("Digital Product Passport"),
            "vocabulary title"
        );
        assert!(html.contains("<code>untp:dpp</code>"));
        assert!(html.contains(
            "<a href=\"https://c.example/dpp/v2\" hreflang=\"en\" type=\"application/vc+jwt\">Passport</a>"
        ));
        assert!(html.contains("previous version"));
        assert!(html.contains("action (POST)"));
        assert!(html.contains("<dt>Access</dt><dd>Customer</dd>"));
        assert!(html.contains("<dt>Encryption</dt><dd>AES-128</dd>"));
        assert!(html.contains("<dt>Context</dt><dd>eu</dd>"));
        assert!(html.contains("<dt>Language</dt><dd>de, en</dd>"));
        assert!(html.contains("Links for"));
        assert!(!html.contains("choose one"));
    }

    #[test]
    fn the_embedded_linkset_cannot_close_the_script() {
        let hostile = json!({"linkset": [{
            "anchor": "https://id.example.com/01/1",
            "itemDescription": "</script><script>alert(1)</script>",
            "https://gs1.org/voc/pip": [{"href": "javascript:alert(1)", "title": "<img src=x onerror=alert(1)>"}]
        }]});
        let html = page(&hostile, true);
        assert!(!html.contains("<script>alert"));
        assert!(!html.contains("<img src=x"));
        assert!(!html.contains("href=\"javascript:"));
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(html.contains("choose one"));
        let start = html
            .find("<script type=\"application/linkset+json\">")
            .unwrap();
        let body = &html[start..];
        let json_start = body.find('>').unwrap() + 1;
        let json_end = body.find("</script>").unwrap();
        let embedded: Value = serde_json::from_str(&body[json_start..json_end]).unwrap();
        assert_eq!(embedded, hostile);
        assert_eq!(html.matches("</script>").count(), 1);
    }

    #[test]
    fn the_policy_allows_exactly_the_page_style() {
        let html = page(&linkset(), false);
        assert!(html.contains(&format!("<style>{CSS}</style>")));
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(CSS.as_bytes()));
        assert!(CONTENT_SECURITY_POLICY.contains(&format!("style-src 'sha256-{hash}'")));
        assert!(CONTENT_SECURITY_POLICY.starts_with("default-src 'none'"));
    }

    #[test]
    fn an_empty_linkset_still_renders() {
        let html = page(&json!({"linkset": []}), false);
        assert!(html.contains("No links are registered."));
        assert!(html.contains("<h1>01/09520123456788/21/12345</h1>"));
    }
}
