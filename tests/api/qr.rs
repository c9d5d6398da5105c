//! QR codes for labels over real HTTP (`/api/v1/qr/{identifier}`) and from `idr qr`: every image is decoded with
//! rqrr and must carry the identifier's canonical public URI.
//!
//! PNG answers are decoded as images. SVG answers are decoded from their own content: the test reads the `viewBox`
//! (modules per side) and the path's runs of dark modules back into a module grid, draws that grid as pixels and
//! lets rqrr find and decode the code in it, so a wrong coordinate, quiet zone or run in the SVG fails the test.

use crate::support::app::TestApp;
use crate::support::client::Api;
use crate::support::client::client;
use crate::support::client::problem;
use regex::Regex;
use serde_json::Value;

const ROOT: &str = "https://id.example.com";

async fn start() -> TestApp {
    TestApp::start_with(&["--no-demo", "--resolver-root", ROOT]).await
}

/// GETs an image, checking the status and content type.
async fn image(server: &TestApp, path: &str, media_type: &str) -> Vec<u8> {
    let r = server.resolve(path).await;
    assert_eq!(r.status(), 200, "{path}");
    assert_eq!(r.headers()["content-type"], media_type, "{path}");
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    assert_eq!(r.headers()["cache-control"], "public, max-age=86400");
    r.bytes().await.expect("body").to_vec()
}

/// The text and the version (size class) of the one QR code in a `w`×`h` greyscale picture (0 black, 255 white).
fn decode(w: usize, h: usize, luma: impl Fn(usize, usize) -> u8) -> (String, usize) {
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w, h, luma);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "exactly one QR code");
    let (meta, text) = grids[0].decode().expect("the code decodes");
    (text, meta.version.0)
}

pub(crate) fn decode_png(bytes: &[u8]) -> (String, usize) {
    let image = image::load_from_memory_with_format(bytes, image::ImageFormat::Png)
        .expect("a PNG")
        .to_luma8();
    let (w, h) = (image.width() as usize, image.height() as usize);
    decode(w, h, |x, y| image.get_pixel(x as u32, y as u32).0[0])
}

/// An SVG's module grid: modules per side (quiet zone included) and the dark modules, row by row.
struct SvgGrid {
    total: usize,
    dark: Vec<bool>,
}

fn svg_grid(svg: &str) -> SvgGrid {
    let view_box = Regex::new(r#"viewBox="0 0 (\d+) (\d+)""#).unwrap();
    let caps = view_box.captures(svg).expect("a viewBox");
    let total: usize = caps[1].parse().unwrap();
    assert_eq!(&caps[1], &caps[2], "square");
    let path = Regex::new(r#"<path d="([^"]*)""#).unwrap();
    let d = path.captures(svg).expect("a path")[1].to_string();
    let run = Regex::new(r"^M(\d+) (\d+)h(\d+)v1h-(\d+)z").unwrap();
    let mut dark = vec![false; total * total];
    let mut rest = d.as_str();
    while !rest.is_empty() {
        let caps = run
            .captures(rest)
            .unwrap_or_else(|| panic!("unexpected path data at {rest:.40}"));
        let n = |i: usize| caps[i].parse::<usize>().unwrap();
        let (x, y, w) = (n(1), n(2), n(3));
        assert_eq!(w, n(4), "a run closes on itself");
        assert!(x + w <= total && y < total, "run inside the viewBox");
        for m in x..x + w {
            dark[y * total + m] = true;
        }
        rest = &rest[caps[0].len()..];
    }
    SvgGrid { total, dark }
}

/// Draws the SVG's grid at 5 pixels per module inside a 4-module white border (so a code drawn without a quiet
/// zone is still found) and decodes it.
pub(crate) fn decode_svg(svg: &[u8]) -> (String, usize) {
    let svg = std::str::from_utf8(svg).expect("UTF-8 SVG");
    assert!(svg.contains("xmlns=\"http://www.w3.org/2000/svg\""));
    let grid = svg_grid(svg);
    let (scale, border) = (5, 4);
    let side = (grid.total + 2 * border) * scale;
    decode(side, side, |x, y| {
        let (mx, my) = (x / scale, y / scale);
        let inside = (border..border + grid.total).contains(&mx)
            && (border..border + grid.total).contains(&my);
        if inside && grid.dark[(my - border) * grid.total + (mx - border)] {
            0
        } else {
            255
        }
    })
}

/// The `400` problem a QR request gets.
async fn refused(server: &TestApp, path: &str) -> Value {
    problem(server.resolve(path).await, 400).await
}

#[tokio::test]
async fn a_gs1_identifier_as_svg_and_png_carries_its_canonical_uri() {
    let server = start().await;
    // A GTIN-13 is written as GTIN-14 in the canonical URI.
    let path = "/api/v1/qr/01/9520123456788/10/ABC";
    let expected = format!("{ROOT}/01/09520123456788/10/ABC");
    let svg = image(&server, path, "image/svg+xml").await;
    assert_eq!(decode_svg(&svg).0, expected);
    let svg = std::str::from_utf8(&svg).unwrap();
    assert!(svg.contains("width=\"512\" height=\"512\""), "default size");
    assert!(svg.contains(&format!("<title>{expected}</title>")));
    let png = image(&server, &format!("{path}?format=png"), "image/png").await;
    assert_eq!(decode_png(&png).0, expected);
    let decoded = image::load_from_memory(&png).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (512, 512));
}

/// `?compressed=true` draws the GS1 Digital Link compressed URI (the value is GS1's own test vector for this key): a
/// shorter URI, which the resolver reads like the uncompressed URI.
#[tokio::test]
async fn compressed_codes_are_smaller_and_resolve() {
    let server = start().await;
    let path = "/api/v1/qr/01/09780345418913/21/12345";
    let plain = image(&server, path, "image/svg+xml").await;
    let small = image(&server, &format!("{path}?compressed=true"), "image/svg+xml").await;
    let (uri, version) = decode_svg(&small);
    assert_eq!(uri, format!("{ROOT}/DBHKVAdpQgowOQ"));
    let (plain_uri, plain_version) = decode_svg(&plain);
    assert_eq!(plain_uri, format!("{ROOT}/01/09780345418913/21/12345"));
    // Shorter; the QR version is no larger (digit runs of the plain URI pack densely in numeric mode, so for a key
    // this short both fit version 3).
    assert!(uri.len() < plain_uri.len());
    assert!(version <= plain_version, "{version} <= {plain_version}");
    let png = image(
        &server,
        &format!("{path}?compressed=TRUE&format=png"),
        "image/png",
    )
    .await;
    assert_eq!(decode_png(&png).0, uri);
    let same = image(
        &server,
        &format!("{path}?compressed=false"),
        "image/svg+xml",
    )
    .await;
    assert_eq!(decode_svg(&same).0, plain_uri);
    // Nothing is registered: the compressed URI is a valid identifier (404), not a bad request.
    let r = server.resolve("/DBHKVAdpQgowOQ").await;
    assert_eq!(r.status(), 404);
    for (query, subject) in [
        ("compressed=yes", "01/09780345418913"),
        ("compressed=true", "abr/abn/51824753556"),
    ] {
        let body = refused(&server, &format!("/api/v1/qr/{subject}?{query}")).await;
        assert_eq!(body["errors"][0]["field"], "compressed", "{query}: {body}");
    }
}

#[tokio::test]
async fn scheme_identifiers_and_did_web_dids_are_encoded() {
    let server = start().await;
    let svg = image(&server, "/api/v1/qr/abr/abn/51824753556", "image/svg+xml").await;
    assert_eq!(decode_svg(&svg).0, format!("{ROOT}/abr/abn/51824753556"));
    let did = "did:web:id.example.com%3A8443:01:09520123456788";
    let png = image(
        &server,
        &format!("/api/v1/qr/{did}?format=png&size=400"),
        "image/png",
    )
    .await;
    assert_eq!(decode_png(&png).0, format!("{ROOT}/{did}"));
}

#[tokio::test]
async fn error_correction_and_margin_change_the_code() {
    let server = start().await;
    let base = "/api/v1/qr/01/09520123456788/21/12345";
    let server = &server;
    let svg = |q: &str| {
        let path = format!("{base}?{q}");
        async move { image(server, &path, "image/svg+xml").await }
    };
    let low = svg("ecc=L&margin=0").await;
    let high = svg("ecc=h&margin=0").await;
    let (low_total, high_total) = (svg_grid(str(&low)).total, svg_grid(str(&high)).total);
    assert!(high_total > low_total, "H needs more modules than L");
    assert!(decode_svg(&low).1 < decode_svg(&high).1, "a bigger version");
    let wide = svg("ecc=L&margin=16").await;
    assert_eq!(
        svg_grid(str(&wide)).total,
        low_total + 32,
        "16 modules each side"
    );
    assert_eq!(decode_svg(&wide).0, decode_svg(&low).0);

    let png = |q: String| {
        let path = format!("{base}?format=png&{q}");
        async move { image(server, &path, "image/png").await }
    };
    let small = image::load_from_memory(&png("size=200&ecc=Q".into()).await).unwrap();
    assert_eq!((small.width(), small.height()), (200, 200));
    // Without a quiet zone the finder pattern starts at the corner (a multiple of the module count: no padding).
    let modules = decode_png(&png("size=400".into()).await).1 * 4 + 17;
    let size = modules * 8;
    let flush = png(format!("size={size}&margin=0")).await;
    let flush = image::load_from_memory(&flush).unwrap().to_luma8();
    assert_eq!(flush.get_pixel(0, 0).0, [0]);
    let framed = png(format!("size={size}&margin=4")).await;
    let framed = image::load_from_memory(&framed).unwrap().to_luma8();
    assert_eq!(framed.get_pixel(0, 0).0, [255]);
}

fn str(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("UTF-8")
}

#[tokio::test]
async fn bad_options_are_400_problems_naming_the_parameter() {
    let server = start().await;
    let base = "/api/v1/qr/01/09520123456788";
    for (query, parameter) in [
        ("size=10", "size"),
        ("size=5000", "size"),
        ("size=big", "size"),
        ("margin=17", "margin"),
        ("margin=-1", "margin"),
        ("ecc=X", "ecc"),
        ("format=gif", "format"),
    ] {
        let body = refused(&server, &format!("{base}?{query}")).await;
        assert_eq!(body["status"], 400);
        assert_eq!(body["errors"][0]["field"], parameter, "{query}: {body}");
        assert!(
            body["detail"].as_str().unwrap().starts_with(parameter),
            "{query}: {body}"
        );
    }
    // Empty values count as absent, as in resolution.
    image(&server, &format!("{base}?size=&ecc="), "image/svg+xml").await;
}

#[tokio::test]
async fn invalid_identifiers_and_dids_are_400() {
    let server = start().await;
    let body = refused(&server, "/api/v1/qr/01/09520123456787").await;
    assert_eq!(body["title"], "Invalid identifier");
    assert!(body["detail"].as_str().unwrap().contains("check digit"));
    assert_eq!(body["errors"][0]["field"], "identifier");
    let body = refused(&server, "/api/v1/qr/did:web:127.0.0.1").await;
    assert_eq!(body["title"], "Invalid DID");
    let body = refused(
        &server,
        "/api/v1/qr/did:key:z6Mkf5rGMoatrSj1f4CyvuHBeXJELe9RPdzo2PKGNCKVtZxP",
    )
    .await;
    assert_eq!(body["title"], "Invalid DID");
    refused(&server, "/api/v1/qr/").await;
    refused(&server, "/api/v1/qr/abr/abn/51824753557").await;
}

#[tokio::test]
async fn the_endpoint_is_public_and_read_only() {
    let server = start().await;
    let path = "/api/v1/qr/01/09520123456788";
    let r = client().post(server.url(path)).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET, HEAD, OPTIONS");
    let r = client()
        .request(reqwest::Method::OPTIONS, server.url(path))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn without_a_configured_root_the_request_host_is_used_and_dids_follow_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("idr.toml");
    std::fs::write(&config, "[did_web]\nenabled = false\n").unwrap();
    let config = config.display().to_string();
    let server = TestApp::start_with(&["--no-demo", "--config", &config]).await;
    let png = image(
        &server,
        "/api/v1/qr/01/09520123456788?format=png",
        "image/png",
    )
    .await;
    assert_eq!(decode_png(&png).0, server.url("/01/09520123456788"));
    let r = server.resolve("/api/v1/qr/did:web:id.example.com").await;
    assert_eq!(
        r.status(),
        404,
        "the resolver would not answer the DID's URL"
    );
}

#[tokio::test]
async fn idr_qr_writes_the_same_code_offline() {
    let server = start().await;
    let identifier = "01/09520123456788/21/12345";
    let served = image(
        &server,
        &format!("/api/v1/qr/{identifier}?format=png"),
        "image/png",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("label.png");
    let run = idr_qr(&[
        identifier,
        "--format",
        "png",
        "--size",
        "300",
        "--ecc",
        "q",
        "--resolver-root",
        ROOT,
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let written = std::fs::read(&out).unwrap();
    assert_eq!(decode_png(&written).0, decode_png(&served).0);
    assert_eq!(decode_png(&written).0, format!("{ROOT}/{identifier}"));
    assert_eq!(image::load_from_memory(&written).unwrap().width(), 300);

    let run = idr_qr(&[identifier, "--compressed", "--resolver-root", ROOT]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // written by GS1's toolkit as 0C (01 + 21) and checked by hand
    assert_eq!(decode_svg(&run.stdout).0, format!("{ROOT}/DBFRJydaKAowOQ"));

    // SVG goes to standard output without --output.
    let run = idr_qr(&["abr/abn/51824753556", "--resolver-root", ROOT]);
    assert!(run.status.success());
    assert_eq!(
        decode_svg(&run.stdout).0,
        format!("{ROOT}/abr/abn/51824753556")
    );
}

#[test]
fn idr_qr_fails_clearly() {
    let cases: [(&[&str], &str); 4] = [
        (&["01/09520123456788"], "no resolver root"),
        (
            &["01/09520123456787", "--resolver-root", ROOT],
            "check digit",
        ),
        (
            &["01/09520123456788", "--resolver-root", ROOT, "--size", "10"],
            "size",
        ),
        (
            &["01/09520123456788", "--resolver-root", ROOT, "--ecc", "X"],
            "invalid value 'X'",
        ),
    ];
    for (args, message) in cases {
        let run = idr_qr(args);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{args:?}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(
            run.stdout.is_empty(),
            "{args:?}: nothing on standard output"
        );
    }
}

fn idr_qr(args: &[&str]) -> std::process::Output {
    crate::support::server::command()
        .arg("qr")
        .args(args)
        .env_remove("IDR_RESOLVER__RESOLVER_ROOT")
        .env("RUST_LOG", "error")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run idr qr")
}
