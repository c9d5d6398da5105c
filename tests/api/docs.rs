//! The documented examples, run: the `curl` and `idr` commands of README.md and docs/*.md go to a real idr (demo data,
//! the doc's admin token) on a loopback port, and what the doc shows must be what they get.
//!
//! The contract a doc follows:
//! - ```` ```console ```` blocks: a line starting with `$ ` is a command (continued while it ends with `\` or has an
//!   open single quote); the lines up to the next `$ ` are its output.
//! - ```` ```sh ```` blocks: every other line is a command, and `# ` comment lines right after it are its output.
//! - Commands run in order, one doc per server, in a scratch folder; `$R`, `http://127.0.0.1:18080` and
//!   `http://127.0.0.1:8080` mean the test server; `NAME=value` lines set variables for later commands.
//! - Checked: the status line (`HTTP/1.1 …`, or the first word shown for `-w '%{http_code}…'`), `location:` and a
//!   problem's `"detail":"…"` of `curl` answers; every shown line of an `idr` command and its exit status (`exit N`
//!   when shown, else success). `…` (or `...`) in a shown value stands for anything.
//! - Docs show their own examples' server as `http://127.0.0.1:18080` (README: `:8080`) and start it with
//!   `IDR_ADMIN_TOKEN=…` somewhere in their text; the test uses that token.
//! - Not run, and listed as skipped with the reason: a block after `<!-- docs-test: skip REASON -->`, `curl`
//!   commands that reach any other host, anything naming a did:web DID, elided commands (`…`), commands using
//!   variables set outside the examples, `idr` commands other than `qr` and `convert` (which are offline; the others need a store, a
//!   config file or a second server), and everything else.
//!
//! No example can make the server fetch anything: it runs with `did_web.enabled = false` and no DID writers, and every
//! URL in a command that runs is the test server's.

use crate::support::server::{Server, binary};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One command as documented.
#[derive(Debug)]
struct Example {
    file: String,
    line: usize,
    command: String,
    output: Vec<String>,
    /// From `<!-- docs-test: skip REASON -->` before the block.
    skip: Option<String>,
}

fn docs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    files.insert(0, root.join("README.md"));
    files
}

/// A command goes on while it ends with `\` or leaves a single quote open.
fn incomplete(command: &str) -> bool {
    command.ends_with('\\') || command.matches('\'').count() % 2 == 1
}

fn extract(file: &str, text: &str) -> Vec<Example> {
    let mut examples: Vec<Example> = Vec::new();
    let mut skip: Option<String> = None;
    // Inside a fence: its language, the skip marker before it, and how many examples came before it.
    let mut block: Option<(&str, Option<String>, usize)> = None;
    let mut open_command = false;
    for (i, line) in text.lines().enumerate() {
        let Some((lang, block_skip, first)) = &block else {
            if let Some(reason) = line
                .trim()
                .strip_prefix("<!-- docs-test: skip")
                .and_then(|r| r.strip_suffix("-->"))
            {
                skip = Some(reason.trim().to_string());
            } else if let Some(lang) = line.strip_prefix("```") {
                let lang = match lang.trim() {
                    "console" => "console",
                    "sh" => "sh",
                    _ => "other",
                };
                block = Some((lang, skip.take(), examples.len()));
            }
            continue;
        };
        if line.starts_with("```") {
            block = None;
            open_command = false;
            continue;
        }
        if open_command {
            let last = examples.last_mut().expect("open command");
            last.command.push('\n');
            last.command.push_str(line);
            open_command = incomplete(&last.command);
            continue;
        }
        let (command, shown) = match *lang {
            "console" => (line.strip_prefix("$ "), Some(line)),
            "sh" if line.trim().is_empty() => (None, None),
            "sh" => match line.strip_prefix('#') {
                Some(comment) => (None, Some(comment.strip_prefix(' ').unwrap_or(comment))),
                None => (Some(line), None),
            },
            _ => (None, None),
        };
        if let Some(command) = command {
            examples.push(Example {
                file: file.to_string(),
                line: i + 1,
                command: command.to_string(),
                output: Vec::new(),
                skip: block_skip.clone(),
            });
            open_command = incomplete(command);
        } else if let Some(shown) = shown.filter(|_| examples.len() > *first) {
            examples
                .last_mut()
                .expect("a command")
                .output
                .push(shown.to_string());
        }
    }
    examples
}

/// The variables a command uses (`$NAME`, `${NAME}`; not inside single quotes).
fn variables(command: &str) -> Vec<String> {
    let bytes = command.as_bytes();
    let mut out = Vec::new();
    let mut quoted = false;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\'' {
            quoted = !quoted;
            i += 1;
        } else if bytes[i] == b'$' && !quoted {
            let start = i + 1 + usize::from(bytes.get(i + 1) == Some(&b'{'));
            let end = start
                + bytes[start..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                    .count();
            if end > start && !bytes[start].is_ascii_digit() {
                out.push(command[start..end].to_string());
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// `NAME=value` alone on a line (no command substitution): a variable for later commands.
fn assignment(command: &str) -> Option<&str> {
    let (name, value) = command.split_once('=')?;
    let plain = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    (plain && !value.contains("$(") && !value.contains(' ') || plain && value.starts_with('\''))
        .then_some(name)
}

/// The `http(s)://host[:port]` of every word of a command that is a URL (request bodies and headers are not).
/// `None` when the command is not shell words.
fn origins(command: &str) -> Option<Vec<String>> {
    let words = shlex::split(&command.replace("\\\n", " "))?;
    Some(
        words
            .iter()
            .filter_map(|w| {
                let rest = w
                    .strip_prefix("http://")
                    .or_else(|| w.strip_prefix("https://"))?;
                let host_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
                Some(w[..w.len() - rest.len() + host_len].to_string())
            })
            .collect(),
    )
}

/// Why an example does not run, or `None` when it does.
fn skip_reason(
    example: &Example,
    command: &str,
    known: &BTreeMap<String, String>,
    base: &str,
) -> Option<String> {
    if let Some(reason) = &example.skip {
        return Some(reason.clone());
    }
    if command.contains('…') {
        return Some("elided in the doc".into());
    }
    let used = variables(command);
    let values = used.iter().filter_map(|v| known.get(v));
    if command.contains("did:web")
        || command.contains("Authorization: DID")
        || values.into_iter().any(|v| v.contains("did:web"))
    {
        return Some("needs a did:web host".into());
    }
    if let Some(var) = used.iter().find(|v| !known.contains_key(*v)) {
        return Some(format!("uses ${var}, set outside the examples"));
    }
    let first = command.split_whitespace().next().unwrap_or("");
    match first {
        // `curl` may talk to the test server only.
        "curl" => match origins(command) {
            None => Some("not plain shell words".into()),
            Some(origins) => origins
                .into_iter()
                .find(|o| o != base)
                .map(|other| format!("reaches {other}")),
        },
        "idr" => {
            let sub = command.split_whitespace().nth(1).unwrap_or("");
            // `qr` and `convert` are offline: no store, no server
            if !matches!(sub, "qr" | "convert") {
                Some(format!(
                    "`idr {sub}` needs a store, a config file or a second server"
                ))
            } else if command.contains("--config") {
                Some("needs the doc's config file".into())
            } else {
                None
            }
        }
        _ => Some(format!("`{first}` is not an HTTP or idr command")),
    }
}

/// `shown` (with `…` or `...` standing for anything) matches `actual`.
fn matches(shown: &str, actual: &str) -> bool {
    let shown = shown.replace("...", "…");
    let parts: Vec<&str> = shown.split('…').collect();
    if parts.len() == 1 {
        return shown == actual;
    }
    let mut rest = actual;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(at) = rest.find(part) else {
                return false;
            };
            rest = &rest[at + part.len()..];
        }
    }
    true
}

/// The `"detail":"…"` of a JSON line.
fn detail(line: &str) -> Option<&str> {
    let start = line.find("\"detail\":\"")? + "\"detail\":\"".len();
    let bytes = line.as_bytes();
    let mut end = start;
    while end < bytes.len() {
        match bytes[end] {
            b'\\' => end += 2,
            b'"' => return Some(&line[start..end]),
            _ => end += 1,
        }
    }
    None
}

/// What to compare in a command's answer; empty when the doc shows nothing checkable.
fn checks(command: &str, shown: &[String]) -> Vec<Check> {
    let mut out = Vec::new();
    let is_idr = command.starts_with("idr ");
    // `curl -w '%{http_code} …'`: the status is the first word shown.
    let code = shown
        .first()
        .and_then(|l| l.split_whitespace().next())
        .filter(|w| w.len() == 3 && w.bytes().all(|b| b.is_ascii_digit()));
    if let Some(code) = code.filter(|_| command.contains("-w '%{http_code}")) {
        out.push(Check::Code(code.to_string()));
    }
    for line in shown {
        let line = line.trim_end();
        if line.starts_with("HTTP/") {
            if !out.iter().any(|c| matches!(c, Check::Status(_))) {
                out.push(Check::Status(line.to_string()));
            }
        } else if line.to_ascii_lowercase().starts_with("location: ") {
            out.push(Check::Location(line["location: ".len()..].to_string()));
        } else if let Some(d) = detail(line).filter(|d| *d != "…") {
            out.push(Check::Detail(d.to_string()));
        } else if let Some(code) = line.strip_prefix("exit ") {
            out.push(Check::Exit(code.parse().expect("exit N")));
        } else if is_idr && !line.contains('…') && !line.is_empty() {
            out.push(Check::Line(line.to_string()));
        }
    }
    if is_idr && !out.iter().any(|c| matches!(c, Check::Exit(_))) {
        out.push(Check::Success);
    }
    out
}

#[derive(Debug)]
enum Check {
    Status(String),
    Location(String),
    Detail(String),
    Exit(i32),
    /// The first word printed (`curl -w '%{http_code}'`).
    Code(String),
    Line(String),
    Success,
}

impl Check {
    /// `None` when the answer agrees with the doc, else what differs.
    fn failure(&self, stdout: &str, status: Option<i32>) -> Option<String> {
        let lines: Vec<&str> = stdout.lines().map(|l| l.trim_end_matches('\r')).collect();
        let ok = match self {
            Check::Status(s) => lines.iter().find(|l| l.starts_with("HTTP/")) == Some(&s.as_str()),
            Check::Location(l) => lines.iter().any(|a| {
                a.to_ascii_lowercase().starts_with("location: ")
                    && matches(l, &a["location: ".len()..])
            }),
            Check::Detail(d) => lines
                .iter()
                .filter_map(|a| detail(a))
                .any(|a| matches(d, a)),
            Check::Exit(code) => lines.contains(&format!("exit {code}").as_str()),
            Check::Code(code) => stdout.split_whitespace().next() == Some(code.as_str()),
            Check::Line(l) => lines.contains(&l.as_str()),
            Check::Success => status == Some(0),
        };
        (!ok).then(|| format!("expected {self:?}"))
    }
}

/// Replaces the documented local server with the test server.
fn localize(text: &str, base: &str) -> String {
    text.replace("http://127.0.0.1:18080", base)
        .replace("http://127.0.0.1:8080", base)
        .replace("cargo run --release -- ", "idr ")
}

/// The doc's admin token (`IDR_ADMIN_TOKEN=…` in its text), else the README's.
fn admin_token(text: &str) -> String {
    text.split("IDR_ADMIN_TOKEN=")
        .nth(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect::<String>()
        })
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "demo-admin-token".into())
}

#[derive(Default)]
struct Report {
    checked: usize,
    ran: usize,
    /// Per doc: commands run, of them checked, checks made.
    per_doc: BTreeMap<String, (usize, usize, usize)>,
    skipped: BTreeMap<String, Vec<String>>,
    failures: Vec<String>,
}

async fn run_doc(path: &Path, report: &mut Report) {
    let text = std::fs::read_to_string(path).expect("read doc");
    let name = path
        .strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .expect("in the repository")
        .display()
        .to_string();
    let examples = extract(&name, &text);
    if examples.is_empty() {
        return;
    }
    let token = admin_token(&text);
    let server = Server::start_with_env(
        &[],
        &[
            ("IDR_ADMIN_TOKEN", &token),
            ("IDR_DID_WEB__ENABLED", "false"),
        ],
    )
    .await;
    let scratch = tempfile::tempdir().expect("scratch dir");
    std::fs::write(
        scratch.path().join(".curlrc"),
        "max-time = 20\nnoproxy = \"*\"\n",
    )
    .expect(".curlrc");
    let bin = scratch.path().join("bin");
    std::fs::create_dir(&bin).expect("bin");
    std::os::unix::fs::symlink(binary(), bin.join("idr")).expect("idr on PATH");
    let path_var = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut known = BTreeMap::from([("R".to_string(), server.base.clone())]);
    let mut prefix = String::new();
    for example in &examples {
        let command = localize(&example.command, &server.base);
        let at = format!("{}:{}", example.file, example.line);
        let first_line = command.lines().next().unwrap_or("").to_string();
        if example.skip.is_none() {
            if let Some(var) = assignment(&command) {
                known.insert(var.to_string(), command.clone());
                prefix.push_str(&command);
                prefix.push('\n');
                continue;
            }
        }
        if let Some(reason) = skip_reason(example, &command, &known, &server.base) {
            report
                .skipped
                .entry(reason)
                .or_default()
                .push(format!("{at}: {first_line}"));
            continue;
        }
        let shown: Vec<String> = example
            .output
            .iter()
            .map(|l| localize(l, &server.base))
            .collect();
        let checks = checks(&command, &shown);
        let output = Command::new("bash")
            .arg("-c")
            .arg(format!("{prefix}{command}"))
            .current_dir(scratch.path())
            .env_clear()
            .env("PATH", &path_var)
            .env("HOME", scratch.path())
            .env("CURL_HOME", scratch.path())
            .env("RUST_LOG", "error")
            // Verified links off, as in every test server: nothing the docs register is fetched.
            .env("IDR_VERIFICATION__MODE", "off")
            .env("R", &server.base)
            .output()
            .expect("run bash");
        report.ran += 1;
        let doc = report.per_doc.entry(example.file.clone()).or_default();
        doc.0 += 1;
        doc.2 += checks.len();
        if !checks.is_empty() {
            report.checked += 1;
            doc.1 += 1;
        }
        let mut stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        stdout.push_str(&String::from_utf8_lossy(&output.stderr));
        for check in &checks {
            if let Some(failure) = check.failure(&stdout, output.status.code()) {
                report.failures.push(format!(
                    "{at}: {failure}\n  command: {command}\n  got:\n{}",
                    stdout.lines().take(12).collect::<Vec<_>>().join("\n")
                ));
            }
        }
    }
}

#[tokio::test]
async fn documented_examples_do_what_the_docs_say() {
    let curl = Command::new("curl").arg("--version").output();
    assert!(
        curl.is_ok_and(|o| o.status.success()),
        "the documented examples need curl (scripts/test installs it)"
    );
    let mut report = Report::default();
    for doc in docs() {
        run_doc(&doc, &mut report).await;
    }
    eprintln!(
        "docs: {} examples ran, {} of them checked against the docs",
        report.ran, report.checked
    );
    for (doc, (ran, checked, checks)) in &report.per_doc {
        eprintln!("docs: {doc}: {ran} ran, {checked} checked ({checks} checks)");
    }
    for (reason, examples) in &report.skipped {
        eprintln!("docs: SKIPPED ({reason}):");
        for example in examples {
            eprintln!("    {example}");
        }
    }
    assert!(
        report.failures.is_empty(),
        "{} documented examples disagree with the program:\n\n{}",
        report.failures.len(),
        report.failures.join("\n\n")
    );
    // The extractor must keep finding the examples: a format change that hid them would pass silently otherwise.
    assert!(
        report.checked >= 40,
        "only {} documented examples were checked",
        report.checked
    );
}

#[test]
fn the_extractor_reads_both_block_forms() {
    let doc = "intro\n\
        <!-- docs-test: skip needs a second server -->\n\
        ```console\n$ curl -si $R/x\nHTTP/1.1 200 OK\n```\n\
        ```console\n$ curl -si -X PUT $R/a \\\n  -d '{\"a\":\n 1}'\nHTTP/1.1 201 Created\n$ idr qr 01/1; echo \"exit $?\"\nexit 1\n```\n\
        ```sh\ncurl -i http://127.0.0.1:8080/01/1\n# HTTP/1.1 307 Temporary Redirect\n# location: https://a.example/…\n```\n\
        ```toml\nx = 1\n```\n";
    let examples = extract("doc.md", doc);
    let summary: Vec<(usize, &str, usize, bool)> = examples
        .iter()
        .map(|e| (e.line, e.command.as_str(), e.output.len(), e.skip.is_some()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (4, "curl -si $R/x", 1, true),
            (8, "curl -si -X PUT $R/a \\\n  -d '{\"a\":\n 1}'", 1, false),
            (12, "idr qr 01/1; echo \"exit $?\"", 1, false),
            (16, "curl -i http://127.0.0.1:8080/01/1", 2, false),
        ]
    );
    assert!(matches("https://a.example/…", "https://a.example/b/c"));
    assert!(matches("…check digit…", "AI (01): invalid check digit"));
    assert!(!matches(
        "the anchor is at version 1",
        "precondition failed (current version: Some(1))"
    ));
    assert_eq!(
        origins(
            "curl 'http://127.0.0.1:9/x?y' -d '{\"href\": \"https://b.example/\"}' \\\n https://id.example.com"
        ),
        Some(vec![
            "http://127.0.0.1:9".to_string(),
            "https://id.example.com".to_string()
        ])
    );
    assert_eq!(
        variables("curl \"$R/a\" -H \"x: ${TOKEN}\" | sed -n '1p;$p'; echo $?"),
        vec!["R", "TOKEN"]
    );
}
