//! Bad input end to end: 10,000 generated malformed requests over raw TCP (random bytes in paths, broken
//! percent-encoding, invalid UTF-8, huge headers, truncated JSON bodies). Every answer must be a 4xx, the server must
//! stay up, and its memory afterwards must be within 10% of before.

use crate::support::client::Api;
use crate::support::server::{ADMIN_TOKEN, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A small deterministic generator, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
    /// Between 1 and `max` random bytes.
    fn some_bytes(&mut self, max: u64) -> Vec<u8> {
        let len = 1 + self.below(max) as usize;
        self.bytes(len)
    }
}

const VALID: &str = r#"{"itemDescription":"x","links":[{"linkType":"gs1:pip","href":"https://a.example/p","title":"t"}]}"#;

/// One malformed request, as raw bytes.
fn request(rng: &mut Rng, i: usize) -> Vec<u8> {
    let head = |target: &[u8], extra: &str| {
        let mut r = b"GET ".to_vec();
        r.extend_from_slice(target);
        r.extend_from_slice(
            format!(" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{extra}\r\n").as_bytes(),
        );
        r
    };
    match i % 6 {
        0 => {
            // Random printable bytes in the path (no spaces or line breaks, which would end the request line).
            let mut path = b"/".to_vec();
            path.extend(rng.some_bytes(200).into_iter().map(|b| 0x21 + b % 0x5e));
            // Not `/?…` or `/#…`: that is the home page with a query, a good request.
            if matches!(path[1], b'?' | b'#') {
                path[1] = b'x';
            }
            head(&path, "")
        }
        1 => {
            let bad = ["%", "%4", "%ZZ", "%G1", "%%", "%2", "%x0"][rng.below(7) as usize];
            head(format!("/01/09520123456788/10/AB{bad}").as_bytes(), "")
        }
        2 => {
            // Invalid UTF-8, raw and percent-encoded.
            let mut path = b"/01/09520123456788/21/".to_vec();
            path.extend(rng.some_bytes(20).into_iter().map(|b| 0x80 | b));
            if rng.below(2) == 0 {
                path = format!(
                    "/01/09520123456788/21/%{:02X}%{:02X}",
                    0xC0 | rng.below(32),
                    rng.below(0x40)
                )
                .into_bytes();
            }
            head(&path, "")
        }
        3 => {
            let size = 20_000 + rng.below(40_000) as usize;
            head(
                b"/01/09520123456788",
                &format!("X-Filler: {}\r\n", "a".repeat(size)),
            )
        }
        4 => {
            // Truncated JSON to the management API.
            let cut = rng.below(VALID.len() as u64 - 1) as usize;
            let body = &VALID[..cut];
            format!(
                "PUT /api/v1/anchors/01/09520123456788 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
                 Authorization: Bearer {ADMIN_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        }
        _ => {
            // Random bytes as a query string and as an Accept header.
            let query: String = rng
                .some_bytes(100)
                .into_iter()
                .map(|b| (0x21 + b % 0x5e) as char)
                .collect();
            let accept: String = rng
                .some_bytes(100)
                .into_iter()
                .map(|b| (0x20 + b % 0x5f) as char)
                .collect();
            let target = format!("/01/09520123456787?{query}");
            head(
                target.as_bytes(),
                &format!("Accept: {accept}\r\nAccept-Language: {accept}\r\n"),
            )
        }
    }
}

async fn send(port: u16, raw: &[u8]) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    let _ = stream.write_all(raw).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let line = answer.split(|&b| b == b'\r').next()?;
    let status = std::str::from_utf8(line).ok()?.split(' ').nth(1)?;
    status.parse().ok()
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn burst(port: u16, rng: &mut Rng, count: usize) -> Vec<(usize, Option<u16>)> {
    let mut bad = Vec::new();
    for chunk in (0..count).collect::<Vec<_>>().chunks(50) {
        let requests: Vec<(usize, Vec<u8>)> = chunk.iter().map(|&i| (i, request(rng, i))).collect();
        let answers =
            futures_util::future::join_all(requests.iter().map(|(_, r)| send(port, r))).await;
        for ((i, _), status) in requests.iter().zip(answers) {
            if !status.is_some_and(|s| (400..500).contains(&s)) {
                bad.push((*i, status));
            }
        }
    }
    bad
}

#[tokio::test]
async fn ten_thousand_malformed_requests_get_4xx_and_leave_the_server_as_it_was() {
    let server = Server::start().await;
    server
        .put_anchor("01/09520123456788", serde_json::from_str(VALID).unwrap())
        .await;
    let mut rng = Rng(0x1dc0_ffee_d00d_f00d);
    // Warm up allocator pools and caches before measuring.
    let warm = burst(server.port, &mut rng, 1_000).await;
    assert!(
        warm.is_empty(),
        "warm-up answers that were not 4xx: {:?}",
        &warm[..warm.len().min(10)]
    );
    let before = rss_kib(server.pid());
    let bad = burst(server.port, &mut rng, 10_000).await;
    assert!(
        bad.is_empty(),
        "{} answers were not 4xx, e.g. {:?}",
        bad.len(),
        &bad[..bad.len().min(10)]
    );
    let after = rss_kib(server.pid());
    assert!(before > 0 && after > 0);
    assert!(
        after * 10 <= before * 11,
        "RSS grew from {before} KiB to {after} KiB (more than 10%)"
    );
    // Still up, and still right.
    let r = Server::client()
        .get(server.url("/01/09520123456788"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 307);
}
