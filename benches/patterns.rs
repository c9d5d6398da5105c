//! Pattern resolution against exact resolution, in process: the record cache in front of the embedded store, warm,
//! as a replica answers a repeated scan. `cargo bench --bench patterns -- [exact|pattern|miss|enforce] [resolutions]`
//! prints nanoseconds per resolution (`enforce`: the exact scan with `verification.mode = enforce` and nothing
//! refused, a set lookup per candidate standing in for `Verification::refused`); docs/performance.md records the figures and how they were taken (on a busy
//! machine, instruction counts from `valgrind --tool=callgrind` of two run lengths, subtracted).

use idr::identifier::Parser;
use idr::registry::embedded::EmbeddedStore;
use idr::registry::{AnchorRecord, Precondition, Registry};
use idr::resolution::{Delegations, Query, resolve};
use idr::vocabulary::Vocabulary;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

fn record(href: &str) -> AnchorRecord {
    serde_json::from_value(serde_json::json!({
        "itemDescription": "Assets", "defaultLinkType": "https://gs1.org/voc/pip",
        "links": [{"linkType": "https://gs1.org/voc/pip", "href": href, "title": "Asset"}]
    }))
    .unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let cases: Vec<&str> = match args.first().map(String::as_str) {
        Some(case @ ("exact" | "pattern" | "miss" | "enforce")) => vec![case],
        _ => vec!["exact", "pattern", "miss", "enforce"],
    };
    let n: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    runtime.block_on(async {
        let store = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        let settings = idr::config::CacheSettings {
            max_bytes: 1 << 24,
            ttl_seconds: 3600,
            negative_ttl_ms: 3_600_000,
        };
        let registry = Registry::of(store).cached(&settings);
        let anchors = registry.anchors.clone();
        let put = |path: &'static str, href: &'static str| {
            let anchors = anchors.clone();
            async move {
                anchors
                    .put(path, record(href), Precondition::None, "bench")
                    .await
                    .unwrap();
            }
        };
        put("8004/9520123EXACT", "https://assets.example/exact").await;
        put("~pattern/8004/952", "https://short.example/{8004}").await;
        put(
            "~pattern/8004/9520123",
            "https://assets.example/giai/{8004}",
        )
        .await;
        let parser = Parser::embedded().unwrap();
        let vocabulary = Arc::new(Vocabulary::embedded());
        let query = Query::from_parts("", None, None, &vocabulary);
        let none = Delegations::default();
        let refused: std::collections::HashSet<String> =
            ["https://assets.example/other".to_string()].into();
        let pass_over = |_: &str, _: &str, href: &str| refused.contains(href);
        for case in cases {
            let enforced =
                (case == "enforce").then_some(&pass_over as idr::resolution::PassOver<'_>);
            let path = match case {
                "exact" | "enforce" => "/8004/9520123EXACT",
                "pattern" => "/8004/9520123PATTERN",
                _ => "/8004/1111111MISS",
            };
            let key = parser.parse_request(path, "").unwrap().identifier;
            let once = || async {
                resolve(
                    anchors.as_ref(),
                    black_box(&key),
                    &query,
                    "https://id.example",
                    &none,
                    enforced,
                )
                .await
                .unwrap()
            };
            let outcome = once().await;
            let started = Instant::now();
            for _ in 0..n {
                black_box(once().await);
            }
            let per = started.elapsed().as_nanos() as f64 / n as f64;
            println!(
                "{case}: {per:.0} ns/resolution over {n} ({:?})",
                outcome.outcome
            );
        }
    });
}
