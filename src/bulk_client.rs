//! `idr import --server URL`: an NDJSON file sent to a running server's bulk write (`POST /api/v1/anchors`), streamed
//! from disk. When the server stops at its size limit (`413`, naming the last line it handled), the rest of the
//! file is sent again from the line after it, so a file of any size goes through.

use crate::http::bulk::{BulkReport, LineOutcome, NDJSON};
use crate::progress::Counting;
use indicatif::ProgressBar;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// What the server did with the whole file; line numbers are the file's.
#[derive(Debug, Default)]
pub struct RemoteReport {
    pub lines: usize,
    pub created: usize,
    pub replaced: usize,
    pub failed: usize,
    /// Failed lines the server listed (it lists at most 10,000 per request).
    pub failures: Vec<LineOutcome>,
    pub omitted: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Http(#[from] reqwest::Error),
    /// The server refused the request or stopped early; what it wrote before is in the report.
    #[error("the server answered {status}: {detail}")]
    Refused { status: u16, detail: String },
}

/// Bytes sent per request, at most (cut at a line end): well under the default `limits.max_import_bytes`, so one
/// request's answer stays small and a server with a smaller limit costs only a resend.
const PART: u64 = 64 << 20;

/// Sends `file` to `server` (its origin, e.g. `https://id.example.com`) with `token`, a part at a time, moving
/// `bar` by the bytes sent. `Err(Refused)` keeps what was reported before in `report`.
pub async fn import(
    server: &str,
    token: &str,
    file: &Path,
    bar: &ProgressBar,
    report: &mut RemoteReport,
) -> Result<(), RemoteError> {
    let url = format!("{}/api/v1/anchors", server.trim_end_matches('/'));
    let client = reqwest::Client::builder().build()?;
    let size = std::fs::metadata(file)?.len();
    // Lines of the file the server has handled so far, and where the next request starts.
    let (mut done, mut offset) = (0usize, 0u64);
    while offset < size {
        let (end, lines) = part_end(file, offset, PART)?;
        let mut input = std::fs::File::open(file)?;
        input.seek(SeekFrom::Start(offset))?;
        bar.set_position(offset);
        let body = reqwest::Body::wrap_stream(chunks(Counting {
            inner: input.take(end - offset),
            bar: bar.clone(),
        }));
        let response = client
            .post(&url)
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, NDJSON)
            .body(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        let answer: Option<BulkReport> = serde_json::from_str(&text).ok();
        let Some(answer) = answer.filter(|_| matches!(status, 200 | 413 | 503)) else {
            return Err(refused(status, &text));
        };
        let last = answer.last_line;
        add(report, answer, done);
        match status {
            200 => {
                done += lines;
                offset = end;
            }
            // The server's limit is below a part: the rest of the part goes again.
            413 if last > 0 => {
                done += last;
                offset = after_line(file, done)?;
            }
            _ => return Err(refused(status, &text)),
        }
    }
    bar.set_position(size);
    Ok(())
}

fn add(report: &mut RemoteReport, answer: BulkReport, done: usize) {
    report.lines += answer.totals.lines;
    report.created += answer.totals.created;
    report.replaced += answer.totals.replaced;
    report.failed += answer.totals.failed;
    report.omitted += answer.outcomes_omitted;
    report.failures.extend(
        answer
            .outcomes
            .into_iter()
            .filter(|o| o.status >= 300)
            .map(|o| LineOutcome {
                line: o.line + done,
                ..o
            }),
    );
}

fn refused(status: u16, text: &str) -> RemoteError {
    let detail = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("detail")?.as_str().map(str::to_string))
        .unwrap_or_else(|| text.chars().take(500).collect());
    RemoteError::Refused { status, detail }
}

/// The byte offset just after line `line` (1-based) of `file`.
fn after_line(file: &Path, line: usize) -> std::io::Result<u64> {
    let mut reader = BufReader::new(std::fs::File::open(file)?);
    let (mut offset, mut buf) = (0u64, Vec::new());
    for _ in 0..line {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        offset += n as u64;
    }
    Ok(offset)
}

/// Where a part that starts at `offset` ends: the end of the first line that reaches `max` bytes, or of the file;
/// and the lines in it.
fn part_end(file: &Path, offset: u64, max: u64) -> std::io::Result<(u64, usize)> {
    let mut input = std::fs::File::open(file)?;
    input.seek(SeekFrom::Start(offset))?;
    let mut reader = BufReader::new(input);
    let (mut end, mut lines, mut buf) = (offset, 0usize, Vec::new());
    while end - offset < max {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        end += n as u64;
        lines += 1;
    }
    Ok((end, lines))
}

/// The file as a stream of 256 KiB chunks (read on the blocking pool).
fn chunks<R: Read + Send + 'static>(
    reader: R,
) -> impl futures_util::Stream<Item = std::io::Result<Vec<u8>>> + Send + 'static {
    futures_util::stream::unfold(Some(reader), |reader| async move {
        let mut reader = reader?;
        let read = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; 256 << 10];
            let n = reader.read(&mut buf)?;
            buf.truncate(n);
            Ok::<_, std::io::Error>((buf, reader))
        })
        .await
        .map_err(std::io::Error::other);
        match read {
            Ok(Ok((buf, _))) if buf.is_empty() => None,
            Ok(Ok((buf, reader))) => Some((Ok(buf), Some(reader))),
            Ok(Err(e)) | Err(e) => Some((Err(e), None)),
        }
    })
}
