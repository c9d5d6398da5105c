//! The host of a verification target, as the checks compare it: parsed once from the `href`, lower case, without a
//! trailing dot or the port. One spelling for every use (the per-host politeness of the checks, names reserved for
//! examples, the operator's `outbound.allow`), so `https://A.Example.:8443/x` and `https://a.example/y` share a host.

/// A target's host (`TargetHost::of`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TargetHost(String);

impl TargetHost {
    /// The host of `href`; `None` when it is no URL or has no host.
    pub fn of(href: &str) -> Option<TargetHost> {
        let url = url::Url::parse(href).ok()?;
        let host = url.host_str()?.trim_end_matches('.').to_ascii_lowercase();
        (!host.is_empty()).then_some(TargetHost(host))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last label of a domain name (`example` for `a.b.example`); an IP address's is never a name.
    pub fn top_level(&self) -> &str {
        self.0.rsplit('.').next().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_spelling_per_host() {
        for (href, host) in [
            ("https://A.Example.:8443/x", Some("a.example")),
            ("https://a.example/y", Some("a.example")),
            ("https://EXAMPLE./x", Some("example")),
            ("https://127.0.0.1:9/x", Some("127.0.0.1")),
            ("https://[::1]/x", Some("[::1]")),
            ("not a url", None),
            ("urn:x:y", None),
        ] {
            assert_eq!(
                TargetHost::of(href).as_ref().map(TargetHost::as_str),
                host,
                "{href}"
            );
        }
        assert_eq!(
            TargetHost::of("https://a.b.Example./x")
                .unwrap()
                .top_level(),
            "example"
        );
    }
}
