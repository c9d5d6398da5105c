//! Host names reserved for documentation and tests (RFC 2606 and RFC 6761: `.example`, `.invalid`, `.test`) never
//! resolve anywhere, so a target under one is not fetched: it fails at once, saying why. The demo data's placeholder
//! hosts (`credentials.example`, …) and a placeholder a writer left in are answered without a DNS lookup or a
//! connection attempt. `localhost`, also reserved, is left to the outbound guard: it is reachable only when
//! `outbound.allow` lists it.

use super::{Check, LinkVerdict, Status, Target};
use std::sync::Arc;

/// The top-level names reserved for examples and tests, never delegated in the DNS.
const RESERVED: [&str; 3] = ["example", "invalid", "test"];

/// The reserved top-level name `href`'s host is under, if any.
pub fn reserved_name(href: &str) -> Option<&'static str> {
    let url = url::Url::parse(href).ok()?;
    let host = url.host_str()?.trim_end_matches('.').to_ascii_lowercase();
    let last = host.rsplit('.').next()?;
    RESERVED.iter().copied().find(|r| *r == last)
}

/// A checker that answers targets on reserved names itself (`failed`, never fetched) and hands every other to the
/// one it wraps.
pub struct SkipReserved(pub Arc<dyn Check>);

#[async_trait::async_trait]
impl Check for SkipReserved {
    async fn check(&self, target: Target<'_>) -> LinkVerdict {
        match reserved_name(target.href) {
            Some(name) => LinkVerdict {
                status: Status::Failed,
                reason: Some(format!(
                    "the target's host is under .{name}, a name reserved for examples and tests (RFC 2606, \
                     RFC 6761) that never resolves: it is not fetched, and the link can never verify"
                )),
                checked_at: Some(super::engine::now()),
                ..LinkVerdict::pending(target.link_type, target.href)
            },
            None => self.0.check(target).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn reserved_names_are_the_three_top_level_names_in_any_spelling() {
        for (href, name) in [
            ("https://credentials.example/dpp/1.jwt", Some("example")),
            ("https://A.B.EXAMPLE./x", Some("example")),
            ("https://example/x", Some("example")),
            ("https://host.invalid:8443/x", Some("invalid")),
            ("https://rebind.test/x", Some("test")),
            ("https://example.com/x", None),
            ("https://brand.example.org/x", None),
            ("https://test.uncefact.org/x", None),
            ("https://localhost:1/x", None),
            ("https://127.0.0.1/x", None),
            ("https://[::1]/x", None),
            ("not a url", None),
        ] {
            assert_eq!(reserved_name(href), name, "{href}");
        }
    }

    #[derive(Default)]
    struct Counting(Mutex<Vec<String>>);

    #[async_trait::async_trait]
    impl Check for Counting {
        async fn check(&self, target: Target<'_>) -> LinkVerdict {
            self.0.lock().unwrap().push(target.href.to_string());
            LinkVerdict {
                status: Status::Verified,
                ..LinkVerdict::pending(target.link_type, target.href)
            }
        }
    }

    #[tokio::test]
    async fn a_reserved_target_fails_without_reaching_the_checker() {
        let inner = Arc::new(Counting::default());
        let checker = SkipReserved(inner.clone());
        let target = |href| Target {
            anchor: "01/09520123456788",
            link_type: "https://test.uncefact.org/vocabulary/linkTypes/dpp",
            href,
            media_type: None,
            encryption_method: None,
        };
        let placeholder = checker
            .check(target("https://credentials.example/dpp/1.jwt"))
            .await;
        assert_eq!(placeholder.status, Status::Failed);
        let reason = placeholder.reason.unwrap();
        assert!(
            reason.contains(".example") && reason.contains("not fetched"),
            "{reason}"
        );
        assert!(placeholder.checked_at.is_some());
        let real = checker
            .check(target("https://brand.example.com/dpp/1.jwt"))
            .await;
        assert_eq!(real.status, Status::Verified);
        assert_eq!(
            *inner.0.lock().unwrap(),
            ["https://brand.example.com/dpp/1.jwt"],
            "only the real host reached the checker"
        );
    }
}
