//! Digital Link parsing and walk-up candidates, the first work of every scan (target: 3 million parses/s on one
//! core). Run with `cargo bench --bench parser`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use idr::identifier::gs1::{ParseOptions, parse_request};
use std::hint::black_box;

fn parse(c: &mut Criterion) {
    let options = ParseOptions::default();
    let cases = [
        ("gtin", "/01/09520123456788", ""),
        (
            "gtin_batch_serial",
            "/01/09520123456788/10/ABC%2F1/21/12345",
            "",
        ),
        (
            "gtin_query",
            "/01/09520123456788/10/ABC",
            "linkType=gs1:pip&17=261231",
        ),
        ("compressed", "/eh30164596f40c0e5cbe991a83", ""),
        ("stem_gln", "/locations/414/9520123456788/254/7", ""),
    ];
    let mut group = c.benchmark_group("parse_request");
    group.throughput(Throughput::Elements(1));
    for (name, path, query) in cases {
        group.bench_function(name, |b| {
            b.iter(|| {
                parse_request(black_box(path), black_box(query), &options).map(|l| l.compressed)
            })
        });
    }
    group.finish();

    let key =
        parse_request("/01/09520123456788/22/V1/10/ABC/21/12345", "", &options).map(|l| l.key);
    if let Ok(key) = key {
        c.bench_function("levels_3_qualifiers", |b| {
            b.iter(|| black_box(&key).levels().len())
        });
    }
}

criterion_group!(benches, parse);
criterion_main!(benches);
