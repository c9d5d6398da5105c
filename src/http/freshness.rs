//! Cacheable resolution answers: the `Cache-Control` of redirects and linksets (`resolver.cache_max_age_seconds`),
//! linkset `ETag`s and `If-None-Match`.
//!
//! What is cached, and why the rest is not, is in docs/operator-guide.md ("Behind a CDN"). A linkset's `ETag` is a
//! digest of what its bytes depend on (`Linkset::fingerprint`, with the verification states it shows; the form, the
//! access role, the canonical URI, and this build with its delegations), computed from versions already at hand rather
//! than from the body.

use crate::linkset::Linkset;
use actix_web::HttpRequest;
use actix_web::http::header::{self, HeaderValue};
use std::hash::{DefaultHasher, Hash, Hasher};

const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

/// How this server marks resolution answers, fixed at start-up.
#[derive(Clone, Debug)]
pub struct Freshness {
    /// `public, max-age=N`, or `no-store` when caching is off.
    cache_control: HeaderValue,
    enabled: bool,
    /// This build and the settings a linkset's bytes depend on beyond its records (the delegations, which add the
    /// secondary-resolver level): a new release or configuration gives new `ETag`s.
    deployment: u64,
}

impl Freshness {
    /// `max_age` 0: every answer `no-store`, no `ETag`s, as before caching existed. `deployment_settings` is whatever
    /// else linkset bodies depend on, in a deterministic form (equal on every replica configured alike).
    pub fn new(max_age: u32, deployment_settings: &str) -> Freshness {
        let mut hasher = DefaultHasher::new();
        env!("CARGO_PKG_VERSION").hash(&mut hasher);
        deployment_settings.hash(&mut hasher);
        let cache_control = match max_age {
            0 => NO_STORE,
            // Made static once (one small string per server) so each answer copies it, with no reference count.
            n => {
                HeaderValue::from_static(Box::leak(format!("public, max-age={n}").into_boxed_str()))
            }
        };
        Freshness {
            cache_control,
            enabled: max_age > 0,
            deployment: hasher.finish(),
        }
    }

    /// The `Cache-Control` of a successful answer (redirect, `300`, linkset); `no-store` for one computed from a
    /// store that could not be reached (it may be out of date, and a cache would keep it for the whole max-age).
    pub fn cache_control(&self, stale: bool) -> HeaderValue {
        if stale {
            NO_STORE
        } else {
            self.cache_control.clone()
        }
    }

    /// Whether answers may be cached (and linksets get `ETag`s): caching on and the answer not stale.
    pub fn cacheable(&self, stale: bool) -> bool {
        self.enabled && !stale
    }

    /// The strong `ETag` of a linkset answer: `form` tells the written forms apart (JSON, JSON-LD, HTML), `role` is
    /// the access role that filtered its links, `canonical` the identifier's URI (the `Link` header's).
    pub fn linkset_etag(
        &self,
        linkset: &Linkset,
        form: u8,
        role: Option<&str>,
        canonical: &str,
    ) -> EntityTag {
        let mut hasher = DefaultHasher::new();
        self.deployment.hash(&mut hasher);
        form.hash(&mut hasher);
        role.hash(&mut hasher);
        canonical.hash(&mut hasher);
        linkset.fingerprint(&mut hasher);
        EntityTag::of(hasher.finish())
    }
}

/// A strong entity tag, `"` + 16 hex digits + `"`, on the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntityTag([u8; 18]);

impl EntityTag {
    pub fn of(digest: u64) -> EntityTag {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut tag = [b'"'; 18];
        for (i, byte) in digest.to_be_bytes().iter().enumerate() {
            tag[1 + 2 * i] = HEX[usize::from(byte >> 4)];
            tag[2 + 2 * i] = HEX[usize::from(byte & 0xf)];
        }
        EntityTag(tag)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn header_value(&self) -> HeaderValue {
        HeaderValue::from_bytes(&self.0).unwrap_or(NO_STORE)
    }

    /// Whether the request's `If-None-Match` (every field line of it) names this tag, or is `*` (a linkset is a
    /// current representation). Weak comparison (RFC 9110 13.1.2): `W/"x"` matches `"x"`.
    pub fn none_match(&self, req: &HttpRequest) -> bool {
        req.headers()
            .get_all(header::IF_NONE_MATCH)
            .any(|value| list_matches(value.as_bytes(), &self.0))
    }
}

/// `*`, or a comma-separated list of entity tags any of which equals `tag` under weak comparison. A malformed list
/// matches nothing from the point it goes wrong (the request is then answered in full, never wrongly `304`).
pub fn list_matches(list: &[u8], tag: &[u8]) -> bool {
    if list.trim_ascii() == b"*" {
        return true;
    }
    let mut rest = list;
    loop {
        rest = rest.trim_ascii_start();
        while let Some(after) = rest.strip_prefix(b",") {
            rest = after.trim_ascii_start();
        }
        if rest.is_empty() {
            return false;
        }
        let opaque = rest.strip_prefix(b"W/").unwrap_or(rest);
        // An entity tag is `"` then characters other than `"`, then `"` (RFC 9110 8.8.3): commas may be inside it.
        let Some(body) = opaque.strip_prefix(b"\"") else {
            return false;
        };
        let Some(end) = body.iter().position(|&b| b == b'"') else {
            return false;
        };
        if &opaque[..end + 2] == tag {
            return true;
        }
        rest = &body[end + 1..];
        let next = rest.trim_ascii_start();
        if !(next.is_empty() || next.starts_with(b",")) {
            return false;
        }
        rest = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TAG: &[u8] = b"\"0123456789abcdef\"";

    #[test]
    fn entity_tags_are_sixteen_hex_digits_in_quotes() {
        assert_eq!(
            EntityTag::of(0x0123_4567_89ab_cdef).as_bytes(),
            b"\"0123456789abcdef\""
        );
        assert_eq!(EntityTag::of(0).as_bytes(), b"\"0000000000000000\"");
    }

    #[test]
    fn if_none_match_lists() {
        assert!(list_matches(TAG, TAG));
        assert!(list_matches(b"*", TAG));
        assert!(list_matches(b" * ", TAG));
        assert!(
            list_matches(b"W/\"0123456789abcdef\"", TAG),
            "weak comparison"
        );
        assert!(list_matches(b"\"x\", \"0123456789abcdef\"", TAG));
        assert!(
            list_matches(b"\"a,b\",W/\"0123456789abcdef\"", TAG),
            "a comma inside a tag"
        );
        assert!(list_matches(b" , ,\"0123456789abcdef\" ,", TAG));
        assert!(!list_matches(b"\"0123456789abcde\"", TAG));
        assert!(!list_matches(b"0123456789abcdef", TAG), "unquoted");
        assert!(
            !list_matches(b"\"x\" \"0123456789abcdef\"", TAG),
            "no comma"
        );
        assert!(!list_matches(b"*, \"x\"", TAG), "* only alone");
        assert!(
            !list_matches(b"w/\"0123456789abcdef\"", TAG),
            "W/ is case-sensitive"
        );
        assert!(!list_matches(b"", TAG));
        assert!(!list_matches(b"\"0123456789abcdef", TAG), "unterminated");
    }

    proptest! {
        /// Any list of well-formed tags, weak or strong, in any spacing, matches exactly when one of them has the
        /// same opaque part.
        #[test]
        fn a_list_matches_when_one_tag_is_ours(
            tags in proptest::collection::vec(("[!#-~]{0,6}", any::<bool>(), " {0,2}"), 0..5),
            ours in proptest::option::of(0..5usize),
            weak_ours in any::<bool>(),
        ) {
            let mut parts: Vec<String> = tags
                .iter()
                .map(|(t, weak, space)| format!("{space}{}\"{t}\"{space}", if *weak { "W/" } else { "" }))
                .collect();
            let expected_by_others = tags.iter().any(|(t, _, _)| t == "0123456789abcdef");
            if let Some(i) = ours {
                let at = i.min(parts.len());
                parts.insert(at, format!("{}\"0123456789abcdef\"", if weak_ours { "W/" } else { "" }));
            }
            let list = parts.join(",");
            prop_assert_eq!(list_matches(list.as_bytes(), TAG), ours.is_some() || expected_by_others);
        }
    }
}

#[cfg(test)]
mod etag_properties {
    use super::*;
    use crate::linkset::{self, Level};
    use crate::registry::{AnchorRecord, Link, StoredAnchor};
    use crate::verification::{AnchorVerdicts, LinkVerdict, Status};
    use crate::vocabulary::{Emit, Vocabulary};
    use proptest::prelude::*;
    use std::sync::Arc;

    const LEVELS: [&str; 3] = [
        "https://id.example.com/01/09520123456788/10/L1/21/S1",
        "https://id.example.com/01/09520123456788/10/L1",
        "https://id.example.com/01/09520123456788",
    ];
    const ROLE: &str = "untp:accessRole#Customer";

    /// The shipped vocabularies, emitting as registered and preferring `untp` (built once: loading is slow).
    static VOCABULARIES: std::sync::LazyLock<[Arc<Vocabulary>; 2]> =
        std::sync::LazyLock::new(|| {
            let none = std::path::Path::new("/nonexistent-vocabularies");
            let load = |emit| Arc::new(Vocabulary::load_with(none, emit).unwrap());
            [load(Emit::Registered), load(Emit::Prefer("untp".into()))]
        });

    /// The store's invariant: a version names one content per key. Content here is a function of both, varied
    /// enough that most version changes change the linkset (link types, spellings, roles, the default).
    fn stored(anchor: &str, version: u64) -> Arc<StoredAnchor> {
        let types = ["gs1:pip", "gs1:dpp", "untp:dpp", "gs1:certificationInfo"];
        let link = |i: u64| Link {
            link_type: VOCABULARIES[0]
                .lookup(types[((version + i) % 4) as usize])
                .map(|d| d.uri.clone())
                .unwrap_or_default(),
            href: format!("{anchor}/target/{}", (version + i) % 3),
            title: "A link".into(),
            media_type: None,
            hreflang: vec![],
            context: vec![],
            rel: vec![],
            method: vec![],
            encryption_method: None,
            access_role: match (version + i) % 3 {
                0 => vec![ROLE.into()],
                1 => vec!["untp:accessRole#Regulator".into()],
                _ => vec![],
            },
            forwards_query: true,
            id: None,
            contributor: None,
        };
        let record = AnchorRecord {
            item_description: format!("Level v{}", version % 2),
            default_link_type: (version % 3 == 0).then(|| "https://gs1.org/voc/pip".into()),
            links: (0..=(version % 3)).map(link).collect(),
        };
        Arc::new(StoredAnchor { version, record })
    }

    /// One request's inputs: a version per level (`None`: nothing registered there), the access role, JSON or
    /// JSON-LD, the vocabulary's `emit`, and the verification states shown (`None`: verification off; `Some(0)`: no
    /// verdicts stored; `Some(k)`: every link's verdict is `Status::ALL[(k - 1) % 6]`, with a reason from 7 on).
    type World = ([Option<u64>; 3], bool, bool, bool, Option<usize>);

    fn world() -> impl Strategy<Value = World> {
        let version = proptest::option::weighted(0.8, 1..4u64);
        (
            [version.clone(), version.clone(), version],
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            proptest::option::of(0..13usize),
        )
    }

    /// The verdicts of a level in state `k` (`World`).
    fn verdicts(record: &StoredAnchor, k: usize) -> Option<Arc<AnchorVerdicts>> {
        let status = *Status::ALL.get(k.checked_sub(1)? % 6)?;
        let links = record.record.links.iter().map(|l| LinkVerdict {
            status,
            reason: (k > 6).then(|| "expired".into()),
            ..LinkVerdict::pending(&l.link_type, &l.href)
        });
        Some(Arc::new(AnchorVerdicts {
            version: record.version,
            links: links.collect(),
        }))
    }

    /// The bytes a client receives for `world` (body and the form), and the `ETag` sent with them.
    fn answer(world: &World) -> (Vec<u8>, EntityTag) {
        let (versions, role, json_ld, prefer_untp, shown) = world;
        let vocabulary = &VOCABULARIES[usize::from(*prefer_untp)];
        let levels: Vec<Level> = LEVELS
            .iter()
            .zip(versions)
            .filter_map(|(anchor, v)| {
                v.map(|v| Level {
                    anchor: anchor.to_string(),
                    record: stored(anchor, v),
                })
            })
            .collect();
        let role = role.then_some(ROLE);
        let keep = |l: &Link| {
            role.is_none_or(|r| l.access_role.is_empty() || l.access_role.iter().any(|x| x == r))
        };
        let mut linkset = linkset::build(&levels, &keep, vocabulary);
        if let Some(k) = *shown {
            let stored: Vec<_> = levels.iter().map(|l| verdicts(&l.record, k)).collect();
            linkset.show_verification(&stored, &|anchor| format!("{anchor}/verification"));
        }
        if *json_ld {
            linkset.context = Some("https://ref.gs1.org/standards/resolver/1.2.0/linkset-context");
        }
        let freshness = Freshness::new(60, "no delegations");
        let etag = freshness.linkset_etag(&linkset, u8::from(*json_ld), role, LEVELS[0]);
        let mut bytes = vec![u8::from(*json_ld)];
        bytes.extend(linkset.to_json());
        (bytes, etag)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Same inputs, same `ETag`; whenever the bytes differ, so do the `ETag`s (the strong-validator rule a
        /// cache's `304` relies on).
        #[test]
        fn the_etag_changes_whenever_the_linkset_does(a in world(), other in world(), which in 0..8usize) {
            // A neighbour of `a`: one input taken from `other` (or all of them), so that near misses are common.
            let mut b = a;
            match which {
                0..=2 => b.0[which] = other.0[which],
                3 => b.1 = other.1,
                4 => b.2 = other.2,
                5 => b.3 = other.3,
                6 => b.4 = other.4,
                _ => b = other,
            }
            let (body_a, tag_a) = answer(&a);
            let (body_b, tag_b) = answer(&b);
            prop_assert_eq!(answer(&a).1, tag_a, "deterministic");
            if body_a != body_b {
                prop_assert_ne!(tag_a, tag_b, "{:?} vs {:?}", a, b);
            }
            if a == b {
                prop_assert_eq!(tag_a, tag_b);
            }
        }
    }

    #[test]
    fn the_deployment_is_part_of_the_etag() {
        let levels = [Level {
            anchor: LEVELS[2].into(),
            record: stored(LEVELS[2], 1),
        }];
        let linkset = linkset::build(&levels, &|_| true, &VOCABULARIES[0]);
        let tag = |settings: &str| {
            Freshness::new(60, settings).linkset_etag(&linkset, 0, None, LEVELS[2])
        };
        assert_eq!(tag("a"), tag("a"));
        assert_ne!(tag("a"), tag("b"));
        let other_form = Freshness::new(60, "a").linkset_etag(&linkset, 2, None, LEVELS[2]);
        assert_ne!(tag("a"), other_form);
    }
}
