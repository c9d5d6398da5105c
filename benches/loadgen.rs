//! Open-loop HTTP/1.1 load generator for the latency sweep of `scripts/bench`.
//!
//! Request `k` is due at `start + k / rate`, whether or not earlier answers have come back, and its latency is
//! measured from that due time (so a server that stalls is charged for every request it delayed: no coordinated
//! omission). One thread busy-polls its keep-alive connections instead of sleeping until the next due time, because
//! a timer's granularity would itself become the latency measured: oha's rate limiter sleeps on tokio's
//! millisecond timer, and at 60,000 req/s it reported a p50 of 0.6 ms and a p99 of 5 ms or more for nginx returning a
//! fixed string. Run it on a core of its own.
//!
//! `cargo bench --bench loadgen -- URL RATE SECONDS [CONNECTIONS [STATUS]]`, or the binary that
//! `cargo bench --bench loadgen --no-run` builds. URL is `http://HOST:PORT/PATH`; every answer needs a
//! `Content-Length`, and answers without STATUS (default 307) are counted as unexpected. Prints one JSON object: the
//! offered and achieved rates, the latency percentiles in microseconds, the generator's own lag behind its schedule
//! (how late it noticed a request was due, p99 and largest: the p99 should be a few microseconds, or the generator,
//! not the server, set the figures), the unexpected answers, and the idle connections the server closed (reopened).

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// How long to wait for answers still outstanding when the schedule ends.
const DRAIN: Duration = Duration::from_secs(2);

struct Options {
    host: String,
    path: String,
    rate: f64,
    duration: Duration,
    connections: usize,
    status: u16,
}

/// One keep-alive connection with at most one request in flight (no pipelining, as browsers and scanners do).
struct Connection {
    stream: TcpStream,
    /// The due time of the request in flight.
    due: Option<Instant>,
    /// Bytes of the request in flight not yet written.
    unwritten: usize,
    read: Vec<u8>,
}

struct Tally {
    latencies: Vec<u64>,
    lags: Vec<u64>,
    unexpected: u64,
    reconnects: u64,
}

/// What a readable connection had for us.
enum Received {
    Partial,
    Answer,
    /// The server closed a connection with nothing in flight (a keep-alive or first-request timeout): open another.
    ClosedIdle,
}

fn main() -> ExitCode {
    // `cargo bench` appends `--bench`.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match parse_options(&args).and_then(|options| run(&options)) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("loadgen: {message}");
            ExitCode::from(64)
        }
    }
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let usage = "usage: loadgen URL RATE SECONDS [CONNECTIONS [STATUS]]";
    let (url, rate, seconds) = match args {
        [url, rate, seconds, ..] if args.len() <= 5 => (url, rate, seconds),
        _ => return Err(usage.into()),
    };
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("only http:// URLs: {url}"))?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let number = |text: &str, what: &str| {
        text.parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n > 0.0)
            .ok_or_else(|| format!("{what} must be a positive number, not {text:?}"))
    };
    Ok(Options {
        host: host.to_string(),
        path: if path.is_empty() { "/" } else { path }.to_string(),
        rate: number(rate, "RATE")?,
        duration: Duration::from_secs_f64(number(seconds, "SECONDS")?),
        connections: match args.get(3) {
            Some(n) => n
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or("CONNECTIONS must be a positive integer")?,
            None => 64,
        },
        status: match args.get(4) {
            Some(s) => s
                .parse()
                .map_err(|_| "STATUS must be an HTTP status code")?,
            None => 307,
        },
    })
}

fn connect(address: SocketAddr, token: usize, poll: &Poll) -> Result<Connection, String> {
    let stream =
        std::net::TcpStream::connect(address).map_err(|e| format!("connect {address}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    stream.set_nonblocking(true).map_err(|e| e.to_string())?;
    let mut stream = TcpStream::from_std(stream);
    poll.registry()
        .register(
            &mut stream,
            Token(token),
            Interest::READABLE | Interest::WRITABLE,
        )
        .map_err(|e| e.to_string())?;
    Ok(Connection {
        stream,
        due: None,
        unwritten: 0,
        read: Vec::with_capacity(4096),
    })
}

fn run(options: &Options) -> Result<String, String> {
    let mut poll = Poll::new().map_err(|e| e.to_string())?;
    let address = options
        .host
        .to_socket_addrs()
        .map_err(|e| format!("{}: {e}", options.host))?
        .next()
        .ok_or_else(|| format!("{}: no address", options.host))?;
    let mut connections = (0..options.connections)
        .map(|i| connect(address, i, &poll))
        .collect::<Result<Vec<_>, _>>()?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: idr-loadgen\r\nAccept: */*\r\n\r\n",
        options.path, options.host
    )
    .into_bytes();
    // First in, first out: each connection is used in turn, so none idles long enough for a keep-alive timeout.
    let mut idle: VecDeque<usize> = (0..connections.len()).collect();
    let mut waiting: VecDeque<Instant> = VecDeque::new();
    let mut events = Events::with_capacity(connections.len());
    // Room for every request up front: growing a vector of half a million latencies mid-run copies it, a stall
    // the generator would then measure.
    let expected = (options.rate * options.duration.as_secs_f64()) as usize + 1024;
    let mut tally = Tally {
        latencies: Vec::with_capacity(expected),
        lags: Vec::with_capacity(expected),
        unexpected: 0,
        reconnects: 0,
    };
    let interval = Duration::from_secs_f64(1.0 / options.rate);
    let start = Instant::now();
    let end = start + options.duration;
    let (mut scheduled, mut next) = (0u64, start);
    loop {
        let now = Instant::now();
        while next <= now && next < end {
            tally.lags.push(as_nanos(now - next));
            waiting.push_back(next);
            scheduled += 1;
            next = start + interval.mul_f64(scheduled as f64);
        }
        while !waiting.is_empty() {
            let Some(i) = idle.pop_front() else { break };
            let due = waiting.pop_front().expect("checked above");
            send(&mut connections[i], due, &request)?;
        }
        // A connection is either idle or has a request in flight.
        let outstanding = idle.len() < connections.len();
        if now >= end && (!outstanding || now >= end + DRAIN) {
            break;
        }
        poll.poll(&mut events, Some(Duration::ZERO))
            .map_err(|e| e.to_string())?;
        for event in &events {
            let i = event.token().0;
            let connection = &mut connections[i];
            if event.is_writable() && connection.unwritten > 0 {
                write_rest(connection, &request)?;
            }
            if !event.is_readable() {
                continue;
            }
            match receive(connection, options.status, &mut tally)? {
                Received::Partial => {}
                Received::Answer => idle.push_back(i),
                Received::ClosedIdle => {
                    // Still queued in `idle`: only its socket changes.
                    poll.registry()
                        .deregister(&mut connection.stream)
                        .map_err(|e| e.to_string())?;
                    *connection = connect(address, i, &poll)?;
                    tally.reconnects += 1;
                }
            }
        }
    }
    Ok(report(options, &mut tally, scheduled))
}

fn send(connection: &mut Connection, due: Instant, request: &[u8]) -> Result<(), String> {
    connection.due = Some(due);
    connection.unwritten = request.len();
    write_rest(connection, request)
}

fn write_rest(connection: &mut Connection, request: &[u8]) -> Result<(), String> {
    while connection.unwritten > 0 {
        let from = request.len() - connection.unwritten;
        match connection.stream.write(&request[from..]) {
            Ok(0) => return Err("the server closed a connection".into()),
            Ok(n) => connection.unwritten -= n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("write: {e}")),
        }
    }
    Ok(())
}

/// Reads what the socket holds, and records the answer in flight once it is complete.
fn receive(
    connection: &mut Connection,
    status: u16,
    tally: &mut Tally,
) -> Result<Received, String> {
    let mut chunk = [0u8; 8192];
    loop {
        match connection.stream.read(&mut chunk) {
            Ok(0) if connection.due.is_none() => return Ok(Received::ClosedIdle),
            Ok(0) => return Err("the server closed a connection with a request in flight".into()),
            Ok(n) => connection.read.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("read: {e}")),
        }
    }
    let Some((length, answered)) = parse_answer(&connection.read)? else {
        return Ok(Received::Partial);
    };
    let Some(due) = connection.due.take() else {
        // An answer to no request: actix-web's 408 to a connection that sent nothing for 5 s, which it then closes.
        return Ok(Received::ClosedIdle);
    };
    tally.latencies.push(as_nanos(due.elapsed()));
    if answered != status {
        tally.unexpected += 1;
    }
    connection.read.drain(..length);
    if !connection.read.is_empty() {
        return Err("more bytes than one answer on a connection".into());
    }
    Ok(Received::Answer)
}

/// The length and status of a complete answer at the start of `bytes`, or `None` while it is incomplete.
fn parse_answer(bytes: &[u8]) -> Result<Option<(usize, u16)>, String> {
    let Some(head) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head_text =
        std::str::from_utf8(&bytes[..head]).map_err(|_| "an answer's head is not UTF-8")?;
    let mut lines = head_text.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or("an answer without a status line")?;
    let body = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .ok_or("an answer without Content-Length")?;
    let length = head + 4 + body;
    Ok((bytes.len() >= length).then_some((length, status)))
}

fn as_nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// The value below which `q` of the sorted `values` lie, in microseconds.
fn percentile(values: &[u64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let rank = ((values.len() as f64 * q).ceil() as usize).clamp(1, values.len());
    values[rank - 1] as f64 / 1000.0
}

fn report(options: &Options, tally: &mut Tally, scheduled: u64) -> String {
    tally.latencies.sort_unstable();
    tally.lags.sort_unstable();
    let l = &tally.latencies;
    let answered = l.len() as u64;
    format!(
        concat!(
            "{{\"offered_rps\":{:.0},\"achieved_rps\":{:.0},\"scheduled\":{},\"answered\":{},\"unanswered\":{},",
            "\"unexpected\":{},\"p50_us\":{:.1},\"p90_us\":{:.1},\"p99_us\":{:.1},\"p999_us\":{:.1},",
            "\"max_us\":{:.1},\"lag_p99_us\":{:.1},\"lag_max_us\":{:.1},\"reconnects\":{}}}"
        ),
        options.rate,
        answered as f64 / options.duration.as_secs_f64(),
        scheduled,
        answered,
        scheduled.saturating_sub(answered),
        tally.unexpected,
        percentile(l, 0.50),
        percentile(l, 0.90),
        percentile(l, 0.99),
        percentile(l, 0.999),
        percentile(l, 1.0),
        percentile(&tally.lags, 0.99),
        percentile(&tally.lags, 1.0),
        tally.reconnects,
    )
}
