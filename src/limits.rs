//! Size limits of one anchor (`[limits]` in the config): generous for real data, small enough that one anchor
//! cannot exhaust memory or make a scan's answer huge. A value built from the settings and handed to every write
//! path (the server holds it in its state, `idr import` builds its own), so servers with different limits can
//! share a process.

use crate::config::Settings;

/// Every write path checks the record it stores against these (`registration::validate`, `versions::merge`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Current links of one anchor; the earlier targets kept for them (`predecessor-version`) are bounded by the
    /// same number, apart from it, so a record the server wrote can always be written back.
    pub links: usize,
    /// Bytes of a description, a title or a list value.
    pub text: usize,
    /// Bytes of a target URL.
    pub url: usize,
}

impl Limits {
    /// The limits a configuration sets (`[limits]`).
    pub fn from_settings(settings: &Settings) -> Limits {
        let limits = &settings.limits;
        Limits {
            links: limits.max_links_per_anchor,
            text: limits.max_text_bytes,
            url: limits.max_url_bytes,
        }
    }
}

impl Default for Limits {
    /// The limits of the shipped configuration, for code that has none (unit tests).
    fn default() -> Limits {
        Limits {
            links: 500,
            text: 2000,
            url: 4096,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Overrides;

    #[test]
    fn the_default_is_the_shipped_configuration() {
        let shipped = Settings::load_with_env(&Overrides::default(), &Default::default())
            .expect("shipped settings");
        assert_eq!(Limits::from_settings(&shipped), Limits::default());
    }

    #[test]
    fn settings_set_the_limits() {
        let env = [
            ("IDR_LIMITS__MAX_TEXT_BYTES", "7"),
            ("IDR_LIMITS__MAX_URL_BYTES", "99"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
        let settings = Settings::load_with_env(&Overrides::default(), &env).expect("settings");
        let limits = Limits::from_settings(&settings);
        assert_eq!((limits.text, limits.url, limits.links), (7, 99, 500));
    }
}
