//! Size limits of one anchor (`[limits]` in the config): generous for real data, small enough that one anchor
//! cannot exhaust memory or make a scan's answer huge. Set once at start-up; these defaults otherwise.

/// Every write path checks the record it stores against these (`registration::validate`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Current links of one anchor; the earlier targets kept for them (`predecessor-version`) are bounded by the
    /// same number, apart from it, so a record the server wrote can always be written back.
    pub links: usize,
    /// Bytes of a description, a title or a list value.
    pub text: usize,
    /// Bytes of a target URL.
    pub url: usize,
}

const DEFAULT: Limits = Limits {
    links: 500,
    text: 2000,
    url: 4096,
};

static LIMITS: std::sync::OnceLock<Limits> = std::sync::OnceLock::new();

/// Sets the limits for the process (the first call wins).
pub fn set(limits: Limits) {
    let _ = LIMITS.set(limits);
}

/// The limits in force.
pub fn get() -> Limits {
    *LIMITS.get_or_init(|| DEFAULT)
}
