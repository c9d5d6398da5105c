//! Host names reserved for documentation and tests (RFC 2606 and RFC 6761: `.example`, `.invalid`, `.test`) never
//! resolve anywhere, so a target under one is not fetched: it fails at once, saying why. The demo data's placeholder
//! hosts (`credentials.example`, …) and a placeholder a writer left in are answered without a DNS lookup or a
//! connection attempt. `localhost`, also reserved, is left to the outbound guard: it is reachable only when
//! `outbound.allow` lists it. So is a reserved name the operator lists in `outbound.allow` (a staging network whose
//! internal DNS answers for `*.test`): listed, it is fetched like any other.

use super::host::TargetHost;
use super::{Check, LinkVerdict, Status, Target};
use crate::outbound::address::AddressPolicy;
use std::sync::Arc;

/// The top-level names reserved for examples and tests, never delegated in the DNS.
const RESERVED: [&str; 3] = ["example", "invalid", "test"];

/// The reserved top-level name `href`'s host is under, if any.
pub fn reserved_name(href: &str) -> Option<&'static str> {
    reserved_host(&TargetHost::of(href)?)
}

fn reserved_host(host: &TargetHost) -> Option<&'static str> {
    let last = host.top_level();
    RESERVED.iter().copied().find(|r| *r == last)
}

/// A checker that answers targets on reserved names itself (`failed`, never fetched), unless the operator lists the
/// host in `outbound.allow`, and hands every other to the one it wraps.
pub struct SkipReserved {
    inner: Arc<dyn Check>,
    allowed: AddressPolicy,
}

impl SkipReserved {
    /// Wraps `inner`; `allowed`: the outbound policy (`OutboundSettings::policy`), whose listed host names are fetched.
    pub fn new(inner: Arc<dyn Check>, allowed: AddressPolicy) -> SkipReserved {
        SkipReserved { inner, allowed }
    }

    /// The reserved name `href` is under, unless the operator listed its host.
    fn skipped(&self, href: &str) -> Option<&'static str> {
        let host = TargetHost::of(href)?;
        let name = reserved_host(&host)?;
        (!self.allowed.host_listed(host.as_str())).then_some(name)
    }
}

#[async_trait::async_trait]
impl Check for SkipReserved {
    async fn check(&self, target: Target<'_>) -> LinkVerdict {
        match self.skipped(target.href) {
            Some(name) => LinkVerdict {
                status: Status::Failed,
                reason: Some(format!(
                    "the target's host is under .{name}, a name reserved for examples and tests (RFC 2606, \
                     RFC 6761) that never resolves: it is not fetched, and the link can never verify"
                )),
                checked_at: Some(super::engine::now()),
                ..LinkVerdict::pending(target.link_type, target.href)
            },
            None => self.inner.check(target).await,
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
        let allowed =
            AddressPolicy::new(false, &["staging.test".into(), "*.corp.test".into()]).unwrap();
        let checker = SkipReserved::new(inner.clone(), allowed);
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
        // Reserved names the operator lists in outbound.allow (internal DNS in staging) are fetched.
        for listed in ["https://STAGING.test./dpp", "https://a.corp.test:8443/dpp"] {
            assert_eq!(
                checker.check(target(listed)).await.status,
                Status::Verified,
                "{listed}"
            );
        }
        assert_eq!(
            checker.check(target("https://corp.test/dpp")).await.status,
            Status::Failed,
            "not listed: `*.corp.test` is below it"
        );
        assert_eq!(
            *inner.0.lock().unwrap(),
            [
                "https://brand.example.com/dpp/1.jwt",
                "https://STAGING.test./dpp",
                "https://a.corp.test:8443/dpp"
            ],
            "only the real and the listed hosts reached the checker"
        );
    }
}
