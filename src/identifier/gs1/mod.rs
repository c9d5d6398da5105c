//! TEMPORARY STUB — replaced by the real GS1 parser.
#[derive(Clone, Debug)]
pub struct ParseOptions {
    pub legacy_gtin: bool,
    pub convenience_alphas: bool,
}
impl Default for ParseOptions {
    fn default() -> Self {
        Self {
            legacy_gtin: true,
            convenience_alphas: true,
        }
    }
}
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Gs1Key {
    parts: Vec<(&'static str, String)>,
    path: String,
}
fn intern(ai: &str) -> &'static str {
    match ai {
        "01" => "01",
        "10" => "10",
        "21" => "21",
        "22" => "22",
        "414" => "414",
        "254" => "254",
        _ => "00",
    }
}
impl Gs1Key {
    pub fn primary_ai(&self) -> &'static str {
        self.parts[0].0
    }
    pub fn primary_value(&self) -> &str {
        &self.parts[0].1
    }
    pub fn qualifiers(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        self.parts[1..].iter().map(|(a, v)| (*a, v.as_str()))
    }
    pub fn canonical_path(&self) -> &str {
        &self.path
    }
    pub fn is_primary_only(&self) -> bool {
        self.parts.len() == 1
    }
    pub fn levels(&self) -> Vec<Gs1Key> {
        (1..=self.parts.len())
            .rev()
            .map(|n| Self::from_parts(self.parts[..n].to_vec()))
            .collect()
    }
    fn from_parts(parts: Vec<(&'static str, String)>) -> Self {
        let path = parts
            .iter()
            .map(|(a, v)| format!("{a}/{v}"))
            .collect::<Vec<_>>()
            .join("/");
        Self { parts, path }
    }
    pub fn parse_key(path: &str, _opts: &ParseOptions) -> Result<Gs1Key, Gs1Error> {
        let segs: Vec<&str> = path
            .trim_start_matches('/')
            .trim_end_matches('/')
            .split('/')
            .collect();
        if segs.len() % 2 != 0 || segs.is_empty() {
            return Err(Gs1Error::Syntax("odd".into()));
        }
        let parts = segs
            .chunks(2)
            .map(|c| (intern(c[0]), c[1].to_string()))
            .collect();
        Ok(Self::from_parts(parts))
    }
}
impl std::fmt::Display for Gs1Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.path)
    }
}
#[derive(Clone, Debug)]
pub struct DigitalLink {
    pub key: Gs1Key,
    pub attributes: Vec<(&'static str, String)>,
    pub compressed: bool,
}
pub fn parse_request(
    raw_path: &str,
    _raw_query: &str,
    opts: &ParseOptions,
) -> Result<DigitalLink, Gs1Error> {
    Ok(DigitalLink {
        key: Gs1Key::parse_key(raw_path, opts)?,
        attributes: vec![],
        compressed: false,
    })
}
pub fn primary_keys() -> &'static [&'static str] {
    &["00", "01", "414"]
}
pub fn is_known_ai(ai: &str) -> bool {
    ai.len() >= 2
}
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Gs1Error {
    #[error("{0}")]
    Syntax(String),
}
