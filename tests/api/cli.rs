//! The command line: every command has `--help` with examples, errors exit non-zero with a message, and
//! `idr resolve` explains an answer.

use std::process::Output;

fn idr(args: &[&str]) -> Output {
    crate::support::server::command()
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RUST_LOG", "error")
        .env_remove("IDR_ADMIN_TOKEN")
        .output()
        .expect("run idr")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn every_command_documents_itself_with_examples() {
    for command in [
        "serve",
        "import",
        "export",
        "check-config",
        "check-data",
        "verify",
        "resolve",
        "healthcheck",
        "hash-secret",
        "keys create",
        "keys list",
        "keys revoke",
        "audit export",
        "convert",
    ] {
        let mut args: Vec<&str> = command.split(' ').collect();
        args.push("--help");
        let out = idr(&args);
        assert!(out.status.success(), "{command} --help");
        let help = stdout(&out);
        assert!(
            help.contains("Example"),
            "{command} --help has no example:\n{help}"
        );
    }
}

#[test]
fn resolve_explains_the_walk_up_and_the_negotiation() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    assert!(
        idr(&[
            "import",
            "--data-dir",
            dir,
            "resolver-config/demo/demo.ndjson"
        ])
        .status
        .success()
    );
    let out = idr(&[
        "resolve",
        "--data-dir",
        dir,
        "--accept-language",
        "de-CH, en;q=0.5",
        "https://id.example.com/01/09520123456788/10/NOPE?linkType=gs1:pip",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("01/09520123456788/10/NOPE") && l.contains("nothing registered")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.trim_start().starts_with("01/09520123456788 ")
                && l.contains("default link type gs1:pip")),
        "{text}"
    );
    let chosen: Vec<&&str> = lines
        .iter()
        .filter(|l| l.trim_start().starts_with('→'))
        .collect();
    assert_eq!(chosen.len(), 1, "{text}");
    assert!(
        chosen[0].contains("/de/"),
        "de-CH falls back to the de variant: {text}"
    );
    assert!(text.contains("answer: 307 Location: https://brand.example/de/produkte/09520123456788?linkType=gs1:pip"), "{text}");

    // The same request compressed (GS1 Digital Link compression, 0B = 01 + 10, written by an independent encoder).
    let out = idr(&[
        "resolve",
        "--data-dir",
        dir,
        "--accept-language",
        "de-CH, en;q=0.5",
        "https://id.example.com/CxFRJydaKMhpx4g?linkType=gs1:pip",
    ]);
    let compressed = stdout(&out);
    let decompressed = compressed
        .lines()
        .find(|l| l.starts_with("decompressed: "))
        .unwrap_or_else(|| panic!("{compressed}"));
    assert!(
        decompressed.ends_with("/01/09520123456788/10/NOPE?linkType=gs1:pip"),
        "{compressed}"
    );
    assert!(compressed.contains("answer: 307 Location: https://brand.example/de/produkte/09520123456788?linkType=gs1:pip"), "{compressed}");

    // An EPC binary string names its scheme (DSGTIN+, TDS 2.3 Annex E.3), and its expiry date reaches the query.
    let out = idr(&[
        "resolve",
        "--data-dir",
        dir,
        "/ehfb342cde795211411234538566cb0afc4",
    ]);
    let epc = stdout(&out);
    let decompressed = epc
        .lines()
        .find(|l| l.starts_with("decompressed: "))
        .unwrap_or_else(|| panic!("{epc}"));
    assert!(
        decompressed.contains("an EPC binary string, DSGTIN+ (header 0xFB)")
            && decompressed.ends_with("/01/79521141123453/21/32a%2Fb?17=220630"),
        "{epc}"
    );

    let bad = idr(&["resolve", "--data-dir", dir, "/01/09520123456787"]);
    assert!(stdout(&bad).contains("answer: 400"), "{}", stdout(&bad));
}

/// `idr convert`: scanner output (with its symbology identifier and a GS for FNC1) to the Digital Link URI, the
/// element string and the AIs; bad data exits 1 naming the AI.
#[test]
fn convert_prints_the_uri_the_element_string_and_the_ais() {
    let out = idr(&[
        "convert",
        "]d2010952012345678810ABC\u{1d}17201231",
        "--resolver-root",
        "https://id.example.com",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    for line in [
        "uri: https://id.example.com/01/09520123456788/10/ABC?17=201231",
        "element string: (01)09520123456788(10)ABC(17)201231",
        "barcode data: 010952012345678810ABC<GS>17201231",
        "symbology: ]d2 GS1 DataMatrix",
        "  (01) GTIN: 09520123456788 [primaryKey]",
        "  (10) BATCH/LOT: ABC [keyQualifier]",
        "  (17) USE BY or EXPIRY: 201231 [dataAttribute]",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "no line {line:?} in:\n{text}"
        );
    }

    let epc = idr(&["convert", "urn:epc:id:sgtin:0614141.812345.6789"]);
    assert!(epc.status.success());
    assert!(
        stdout(&epc).contains("uri: https://id.gs1.org/01/80614141123458/21/6789"),
        "without a configured root, GS1's: {}",
        stdout(&epc)
    );

    let bad = idr(&["convert", "(01)09520123456787(10)ABC"]);
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("AI (01) at position 0") && stderr.contains("check digit"),
        "{stderr}"
    );
}

#[test]
fn errors_exit_non_zero_with_a_message() {
    let missing = idr(&[
        "import",
        "/nonexistent/file.ndjson",
        "--data-dir",
        "/tmp/idr-cli-none",
    ]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/file.ndjson"));
    let bad_config = idr(&["check-config", "--config", "/nonexistent/idr.toml"]);
    assert_eq!(bad_config.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad_config.stderr).starts_with("idr: "));
    let unknown = idr(&["frobnicate"]);
    assert_eq!(unknown.status.code(), Some(2), "clap usage errors exit 2");
}

/// At start-up (and in `idr check-config`), a scheme file whose namespace would capture GS1 URIs is a configuration
/// error naming the file and the field: here the shipped `abr` scheme against a resolver root whose path is `/abr`,
/// and a scheme file spelled like a compressed URI segment.
#[test]
fn schemes_that_would_shadow_gs1_uris_stop_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("idr.toml");
    std::fs::write(
        &config,
        "[resolver]\nresolver_root = \"https://id.example.com/abr\"\n",
    )
    .unwrap();
    let out = idr(&["check-config", "--config", config.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("schemes/abr.toml: namespace: \"abr\" is the custom stem"),
        "{err}"
    );
    assert!(err.contains("resolver.resolver_root"), "{err}");

    let config_dir = dir.path().join("conf");
    std::fs::create_dir_all(config_dir.join("schemes")).unwrap();
    std::fs::copy(
        "resolver-config/schemes/gs1.toml",
        config_dir.join("schemes/gs1.toml"),
    )
    .unwrap();
    std::fs::write(
        config_dir.join("schemes/brand.toml"),
        "namespace = \"exBrandOfTheNorthSea\"\n[[key_types]]\nname = \"sku\"\npattern = \"[0-9]+\"\n",
    )
    .unwrap();
    let linktypes = config_dir.join("linktypes");
    std::fs::create_dir_all(&linktypes).unwrap();
    for entry in std::fs::read_dir("resolver-config/linktypes").unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, linktypes.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        &config,
        format!(
            "[resolver]\nconfig_dir = {:?}\n",
            config_dir.display().to_string()
        ),
    )
    .unwrap();
    let out = idr(&["check-config", "--config", config.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "brand.toml: namespace: \"exBrandOfTheNorthSea\" has the form of a compressed GS1 Digital Link URI"
        ),
        "{err}"
    );
}

/// `idr check-data` lists the stored anchors whose identifier today's rules refuse (written straight into the store
/// as an earlier version could have), with the reason, and exits 1; a store without any exits 0.
#[tokio::test]
async fn check_data_lists_identifiers_that_no_longer_parse() {
    use idr::registry::{AnchorStore, Precondition, embedded::EmbeddedStore, record::AnchorRecord};
    let dir = tempfile::tempdir().unwrap();
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        for key in ["8004/ABC123", "01/09520123456788"] {
            let record: AnchorRecord = serde_json::from_value(serde_json::json!({
                "itemDescription": key,
                "links": [{"linkType": "https://gs1.org/voc/pip", "href": "https://brand.example/p", "title": "p"}]
            }))
            .unwrap();
            store
                .put(key, record, Precondition::None, "an earlier idr")
                .await
                .unwrap();
        }
    }
    let data_dir = dir.path().to_str().unwrap();
    let out = idr(&["check-data", "--data-dir", data_dir]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(lines[0].starts_with("8004/ABC123: identifier: "), "{text}");

    let clean = tempfile::tempdir().unwrap();
    {
        EmbeddedStore::open(clean.path()).unwrap();
    }
    let out = idr(&["check-data", "--data-dir", clean.path().to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("checked 0 anchors: 0 rules broken"));
}
