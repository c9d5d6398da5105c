//! What a newcomer meets in the first hour (issue 21), checked on the real binary: start-up warnings, messages that
//! say what to do, and files left where they belong.

use crate::support::server::Server;
use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

const ANCHOR: &str = r#"{"itemDescription": "x", "links": [{"linkType": "gs1:pip", "href": "https://a.example", "title": "t"}]}"#;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `idr {args}` from the repository root, without the caller's admin token or log settings.
fn idr(args: &[&str], env: &[(&str, &str)]) -> Output {
    crate::support::server::command()
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("IDR_ADMIN_TOKEN")
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .output()
        .expect("run idr")
}

/// `idr serve` on `port` with `data` as its store and standard error piped.
fn serve(data: &Path, port: u16, env: &[(&str, &str)]) -> Child {
    crate::support::server::command()
        .args([
            "serve",
            "--no-demo",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .arg("--data-dir")
        .arg(data)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("IDR_ADMIN_TOKEN")
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn idr")
}

async fn wait_healthy(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let url = format!("http://127.0.0.1:{port}/healthz");
    while Server::client().get(&url).send().await.is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Stops a server and returns what it wrote to standard error.
fn stop(mut child: Child) -> String {
    child.kill().unwrap();
    child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    stderr
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A write to `port` with `token`: status and problem detail.
async fn put(port: u16, token: Option<&str>) -> (u16, String) {
    let mut request = Server::client()
        .put(format!(
            "http://127.0.0.1:{port}/api/v1/anchors/01/09520123456788"
        ))
        .header("content-type", "application/json")
        .body(ANCHOR);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let problem: serde_json::Value = response.json().await.unwrap_or_default();
    (status, problem["detail"].as_str().unwrap_or("").to_string())
}

/// Item 1: a server nothing can write to warns at start-up and says so in its 401s; with a token it does neither.
#[tokio::test]
async fn a_server_without_credentials_warns_and_its_401_says_why() {
    for env in [&[][..], &[("IDR_ADMIN_TOKEN", "")][..]] {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = serve(dir.path(), port, env);
        wait_healthy(port).await;
        for token in [Some("guess"), None] {
            let (status, detail) = put(port, token).await;
            assert_eq!(status, 401, "{env:?} {token:?}");
            assert!(
                detail.contains("no credentials at all") && detail.contains("IDR_ADMIN_TOKEN"),
                "{env:?} {token:?}: {detail}"
            );
        }
        let stderr = stop(child);
        let warning = stderr
            .lines()
            .find(|l| l.contains("WARN") && l.contains("no credentials"))
            .unwrap_or_else(|| panic!("{env:?}: no warning in\n{stderr}"));
        assert!(warning.contains("IDR_ADMIN_TOKEN"), "{warning}");
        assert!(warning.contains("idr keys create"), "{warning}");
    }

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = serve(dir.path(), port, &[("IDR_ADMIN_TOKEN", "s3cret")]);
    wait_healthy(port).await;
    let (status, detail) = put(port, Some("guess")).await;
    assert_eq!(status, 401);
    assert!(
        detail.contains("unknown or malformed bearer token"),
        "{detail}"
    );
    assert_eq!(put(port, Some("s3cret")).await.0, 201);
    let stderr = stop(child);
    assert!(!stderr.contains("no credentials"), "{stderr}");
}

/// Item 6: a port in use stops `idr serve` before it creates the data folder or loads the demo.
#[test]
fn a_port_in_use_stops_start_up_before_the_data_folder_is_created() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let listen = format!("127.0.0.1:{port}");
    let out = idr(
        &[
            "serve",
            "--listen",
            &listen,
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[("IDR_ADMIN_TOKEN", "t")],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {listen}")),
        "{stderr}"
    );
    assert!(!data.exists(), "the data folder was created");

    // The admin listener too.
    let admin = format!("127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{}", free_port());
    let out = idr(
        &[
            "serve",
            "--listen",
            &listen,
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[
            ("IDR_ADMIN_TOKEN", "t"),
            ("IDR_SERVER__ADMIN_LISTEN", &admin),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!("cannot listen on {admin}")),
        "{}",
        text(&out.stderr)
    );
    assert!(!data.exists(), "the data folder was created");
    drop(taken);
}

/// Item 3: the commands that read or write the embedded store say what to do while a server holds it.
#[tokio::test]
async fn commands_on_a_store_a_server_holds_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let child = serve(&data, port, &[("IDR_ADMIN_TOKEN", "t")]);
    wait_healthy(port).await;
    let file = dir.path().join("anchors.ndjson");
    std::fs::write(
        &file,
        format!("{{\"identifier\":\"01/09520123456788\",{}\n", &ANCHOR[1..]),
    )
    .unwrap();
    let data = data.to_str().unwrap();
    for args in [
        vec!["resolve", "--data-dir", data, "/01/09520123456788"],
        vec!["export", "--data-dir", data],
        vec!["import", "--data-dir", data, file.to_str().unwrap()],
        vec!["audit", "export", "--data-dir", data],
        vec!["keys", "list", "--data-dir", data],
    ] {
        let out = idr(&args, &[]);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("in use by another process, most likely a running `idr serve`")
                && stderr.contains("stop that server and run this command again"),
            "{args:?}: {stderr}"
        );
    }
    stop(child);
    let out = idr(&["import", "--data-dir", data, file.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// Item 3: commands that only read a store do not create an empty one where there is none.
#[test]
fn reading_commands_say_there_is_no_store_instead_of_creating_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let path = data.to_str().unwrap();
    for args in [
        vec!["export", "--data-dir", path],
        vec!["audit", "export", "--data-dir", path],
        vec!["resolve", "--data-dir", path, "/01/09520123456788"],
        vec!["keys", "list", "--data-dir", path],
    ] {
        let out = idr(&args, &[]);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!("no store at {path}")),
            "{args:?}: {stderr}"
        );
        assert!(!data.exists(), "{args:?} created {path}");
    }
}

/// Item 8: `idr resolve` prints anchors under the URI's own origin, or says why not.
#[test]
fn resolve_uses_the_uri_origin_or_says_why_not() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let imported = idr(
        &[
            "import",
            "--data-dir",
            data,
            "resolver-config/demo/demo.ndjson",
        ],
        &[],
    );
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    let uri = "https://id.example.com/01/09520123456788?linkType=gs1:pip";
    let out = idr(&["resolve", "--data-dir", data, uri], &[]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("origin: https://id.example.com (the URI's origin)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("anchor https://id.example.com/01/09520123456788)"),
        "{stdout}"
    );
    assert!(!stdout.contains("localhost"), "{stdout}");

    let out = idr(&["resolve", "--data-dir", data, "/01/09520123456788"], &[]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("origin: http://localhost (a path has no origin"),
        "{stdout}"
    );
    assert!(
        stdout.contains("anchor http://localhost/01/09520123456788)"),
        "{stdout}"
    );

    let out = idr(
        &["resolve", "--data-dir", data, uri],
        &[("IDR_RESOLVER__RESOLVER_ROOT", "https://other.example")],
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("origin: https://other.example (resolver.resolver_root;")
            && stdout.contains("not https://id.example.com"),
        "{stdout}"
    );
    assert!(
        stdout.contains("anchor https://other.example/01/09520123456788)"),
        "{stdout}"
    );
}

/// Item 8: logs written to a pipe or a file carry no ANSI colour codes.
#[test]
fn logs_are_plain_text_when_standard_error_is_not_a_terminal() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Fails to bind after logging its warnings (no resolver root).
    let out = idr(
        &[
            "serve",
            "--listen",
            &listen,
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[("IDR_ADMIN_TOKEN", "t"), ("RUST_LOG", "info")],
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(" WARN ") && stderr.contains("resolver_root"),
        "{stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "ANSI escapes in:\n{stderr:?}");
}

/// Item 8: an import line with an unknown field lists every allowed field, `identifier` among them.
#[test]
fn an_unknown_import_field_lists_identifier_among_the_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("anchors.ndjson");
    std::fs::write(
        &file,
        "{\"identifier\":\"01/09520123456788\",\"itemDescription\":\"x\",\"links\":[],\"colour\":\"red\"}\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let out = idr(
        &[
            "import",
            "--data-dir",
            data.to_str().unwrap(),
            file.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.contains("unknown field `colour`"))
        .unwrap_or_else(|| panic!("{stderr}"));
    for field in ["identifier", "itemDescription", "defaultLinkType", "links"] {
        assert!(line.contains(&format!("`{field}`")), "{field}: {line}");
    }
}

/// The shell lines of README.md's fenced `sh` blocks, continuation lines joined.
fn readme_commands() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut commands = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in readme.lines() {
        if line.starts_with("```") {
            in_sh = !in_sh && line.trim() == "```sh";
            continue;
        }
        if !in_sh || line.trim_start().starts_with('#') {
            continue;
        }
        pending.push_str(line.trim_end_matches('\\'));
        if !line.ends_with('\\') {
            commands.push(std::mem::take(&mut pending));
        }
    }
    commands
}

/// Item 8: the README's commands, run from a clone, leave no files in it: whatever they write (`-o`, `--output`,
/// `>`) goes to an absolute path, and what they read back (`@file`) is what an earlier command wrote.
#[test]
fn readme_commands_write_their_files_outside_the_repository() {
    let commands = readme_commands();
    assert!(commands.iter().any(|c| c.contains("qr")), "{commands:?}");
    let mut written = Vec::new();
    for command in &commands {
        let words: Vec<&str> = command.split_whitespace().collect();
        for (i, word) in words.iter().enumerate() {
            let target = match *word {
                "-o" | "--output" | ">" => words.get(i + 1).copied(),
                w if w.starts_with('>') && w.len() > 1 => Some(&w[1..]),
                w if w.starts_with("@") => {
                    assert!(
                        written.contains(&&w[1..]),
                        "{command}: reads {w}, which nothing wrote"
                    );
                    None
                }
                _ => None,
            };
            if let Some(target) = target {
                assert!(
                    target.starts_with('/') && target != "/dev/stdout",
                    "{command}: writes {target} into the current folder"
                );
                written.push(target);
            }
        }
    }
    assert!(written.len() >= 3, "{written:?}");
}

/// Item 2: the README says how to get an `idr` command before it first uses one.
#[test]
fn the_readme_says_how_to_install_idr_before_its_first_idr_command() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let install = readme
        .find("cargo install --path .")
        .expect("README gives `cargo install --path .`");
    let first_use = ["`idr ", "\nidr "]
        .iter()
        .filter_map(|p| readme.find(p))
        .min()
        .expect("README uses idr");
    assert!(
        install < first_use,
        "first `idr` command at byte {first_use}, install line at {install}"
    );
    assert!(readme[install..].contains("target/release/idr"));
}

/// Item 7: configuration errors name the key, the value as given and where, and the form expected.
#[test]
fn config_errors_name_the_key_the_value_and_the_expected_form() {
    let out = idr(&["check-config"], &[("IDR_SERVER__WORKERS", "-1")]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim_end(),
        "idr: configuration: server.workers: \"-1\" (IDR_SERVER__WORKERS): expected a whole number, 0 or more"
    );
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = idr(
        &[
            "serve",
            "--listen",
            "localhost",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim_end(),
        "idr: configuration: server.listen: \"localhost\" (--listen): expected host:port with an IP address, such as \
         127.0.0.1:8080 or [::]:8080 (not a host name such as localhost)"
    );
    assert!(!data.exists());
    let config = dir.path().join("idr.toml");
    std::fs::write(&config, "[limits]\nmanagement_burst = \"lots\"\n").unwrap();
    let out = idr(&["check-config", "--config", config.to_str().unwrap()], &[]);
    assert_eq!(
        text(&out.stderr).trim_end(),
        format!(
            "idr: configuration: limits.management_burst: \"lots\" ({}): expected a number, such as 2.5",
            config.display()
        )
    );
}
