//! Any Accept / Accept-Language / context values: parsing and choosing among links never panic.
#![no_main]

use idr::negotiate::{self, Preferences};
use idr::registry::Link;
use libfuzzer_sys::fuzz_target;

fn link(lang: &str, media: &str) -> Link {
    Link {
        link_type: "https://gs1.org/voc/pip".into(),
        href: format!("https://a.example/{lang}"),
        title: "t".into(),
        media_type: Some(media.into()),
        hreflang: vec![lang.into()],
        context: vec!["eu".into()],
        rel: vec![],
        method: vec![],
        encryption_method: None,
        access_role: vec![],
        forwards_query: true,
        id: None,
        contributor: None,
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let (accept, language, context) = (parts.next(), parts.next(), parts.next());
    let prefs = Preferences::new(language, accept, context);
    let links = [link("en", "text/html"), link("de-CH", "application/json"), link("de", "text/html")];
    let refs: Vec<&Link> = links.iter().collect();
    let _ = prefs.choose(&refs, true);
    let _ = negotiate::wants_linkset(accept);
    let _ = prefs.wants_linkset();
    let _ = prefs.prefers_json_ld();
    let _ = prefs.prefers_html();
});
