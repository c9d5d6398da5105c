//! The Data Integrity verifier: `integrity::verify_offline` run in a process of its own, so that a proof whose
//! canonicalisation would not end is stopped at a time limit (blocking work in this process could not be cancelled).
//!
//! The process is this executable again (`Verifier::this_executable`), run with the hidden subcommand `SUBCOMMAND`.
//! It reads one `Request` as JSON on standard input (the credential, its issuer, and the issuer's DID document as the
//! resolver fetched it through the guarded outbound client) and writes one `Answer` as JSON on standard output. It
//! fetches nothing: its DID resolution answers only from the request (a did:key is decoded offline), its runtime has
//! no I/O driver, and JSON-LD contexts come from ssi's static set. It limits itself before reading anything
//! (`limit_self`): `RLIMIT_CPU` (the check's time, rounded up to whole seconds: past it the kernel stops it with
//! `SIGXCPU`), `RLIMIT_AS` (`MEMORY_BYTES`) and no core files.
//!
//! The resolver runs at most `verification.concurrency` verifiers at once (`Verifier::verify` waits for a slot
//! within the check's time, else the check is deferred), kills one that outlives its wall-clock bound, and reaps
//! every one it starts, also when the check that started it is dropped (`Reaped`).
//!
//! How an end maps to a verdict: an answer is the verdict; stopped at the processor-time limit, or stopped without
//! an answer (a crash, the memory limit), the credential `failed` (it is what made the verifier stop, and checking
//! it again would stop it again); not started, its pipes broken, or past the wall-clock bound while under the
//! processor-time limit (the machine too busy to give it its time), the check is deferred (`super::DEFERRED`): that
//! says nothing about the credential.

use super::integrity;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::sync::Semaphore;

/// The hidden subcommand of `idr` that runs one verification (not listed by `idr --help`).
pub const SUBCOMMAND: &str = "verify-data-integrity-proof";

/// The address space a verifier may use (`RLIMIT_AS`). A verifier of a good credential stays under 64 MiB resident;
/// a credential within the bounds whose canonicalisation blows up can take more than this in a few seconds.
pub const MEMORY_BYTES: u64 = 512 << 20;

/// mimalloc, the global allocator, reserves 1 GiB of address space up front by default, more than `MEMORY_BYTES`:
/// a verifier asks it for 64 MiB at a time (its environment variable).
const ALLOCATOR_RESERVE: (&str, &str) = ("MIMALLOC_ARENA_RESERVE", "64MiB");

/// The largest request a verifier reads: a credential of `integrity::MAX_BYTES`, and a DID document.
const MAX_REQUEST_BYTES: u64 = 4 << 20;
/// What the resolver reads of a verifier's answer, and of what it wrote on standard error (for the log).
const MAX_ANSWER_BYTES: u64 = 64 << 10;
const MAX_STDERR_BYTES: u64 = 4 << 10;

/// What the resolver sends a verifier on standard input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// The credential with its proof, as JSON text (within `integrity::bounded`).
    pub credential: String,
    /// Its issuer's DID.
    pub issuer: String,
    /// The issuer's DID document as the resolver fetched it (did:web); absent for a did:key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<serde_json::Value>,
}

/// What a verifier writes on standard output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Answer {
    /// The proof verifies.
    Verified,
    /// The proof does not verify, or the credential cannot be read; `reason` says which.
    Failed { reason: String },
    /// The verifier could not do its work (its limits could not be set, the request was not readable): nothing is
    /// said about the credential.
    Unavailable { reason: String },
}

/// Why a Data Integrity proof was not found to verify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IntegrityError {
    /// The credential fails, and this says why.
    Failed(String),
    /// The proof was not checked (no slot free, the verifier could not run, the machine too busy): nothing is said
    /// about the credential.
    Deferred(String),
}

/// Runs verifiers: at most `concurrency` at once, each limited in processor time, wall time and memory.
pub struct Verifier {
    program: PathBuf,
    slots: Arc<Semaphore>,
    concurrency: usize,
    /// `RLIMIT_CPU` of each verifier.
    cpu_seconds: u64,
    /// Past this a verifier is killed (its processor time should end it first).
    wall: Duration,
}

impl Verifier {
    /// Verifiers of `program` (`this_executable()` in a server), at most `concurrency` at once, each given `limit`
    /// of processor time (rounded up to whole seconds) and three times that plus a second of wall time, the bound
    /// of a whole check (`engine`).
    pub fn new(program: PathBuf, concurrency: usize, limit: Duration) -> Verifier {
        let cpu_seconds = u64::try_from(limit.as_millis().div_ceil(1000))
            .unwrap_or(u64::MAX)
            .max(1);
        Verifier {
            program,
            slots: Arc::new(Semaphore::new(concurrency.max(1))),
            concurrency: concurrency.max(1),
            cpu_seconds,
            wall: limit.saturating_mul(3) + Duration::from_secs(1),
        }
    }

    /// This verifier with another wall-clock bound (a test that must see the processor-time limit on a loaded
    /// machine).
    pub fn with_wall_bound(mut self, wall: Duration) -> Verifier {
        self.wall = wall;
        self
    }

    /// The running executable: `/proc/self/exe` on Linux, which still names it after the file was replaced (an
    /// upgrade in place), else `std::env::current_exe`.
    pub fn this_executable() -> PathBuf {
        let proc = Path::new("/proc/self/exe");
        if proc.exists() {
            return proc.to_path_buf();
        }
        std::env::current_exe().unwrap_or_else(|_| PathBuf::from("idr"))
    }

    /// Verifies `request` in a verifier process once a slot is free, waiting at most `wait` for one.
    pub async fn verify(&self, request: &Request, wait: Duration) -> Result<(), IntegrityError> {
        let Ok(Ok(_slot)) = tokio::time::timeout(wait, self.slots.clone().acquire_owned()).await
        else {
            return Err(IntegrityError::Deferred(format!(
                "the Data Integrity proof was not checked: all {} verifier slots (verification.concurrency) stayed \
                 taken for {} ms",
                self.concurrency,
                wait.as_millis()
            )));
        };
        let input = serde_json::to_vec(request).map_err(|e| unavailable(&e))?;
        let mut child = match self.spawn() {
            Ok(child) => Reaped(Some(child)),
            Err(error) => {
                tracing::error!(program = %self.program.display(), %error, "the Data Integrity verifier could not start");
                return Err(unavailable(&format!(
                    "the verifier could not start: {error}"
                )));
            }
        };
        let ran = tokio::time::timeout(self.wall, exchange(child.get(), input)).await;
        match ran {
            Ok(Ok(ended)) => {
                child.0 = None;
                self.judge(&ended)
            }
            Ok(Err(error)) => {
                child.kill_and_reap().await;
                tracing::error!(%error, "the Data Integrity verifier's pipes failed");
                Err(unavailable(&format!(
                    "the verifier's pipes failed: {error}"
                )))
            }
            Err(_) => {
                child.kill_and_reap().await;
                tracing::warn!(
                    wall_ms = self.wall.as_millis() as u64,
                    "a Data Integrity verifier was killed at its wall-clock bound before its processor time ran out"
                );
                Err(IntegrityError::Deferred(format!(
                    "the Data Integrity proof was not checked: the verifier got less than {} s of processor time \
                     within {} ms (the resolver is busy)",
                    self.cpu_seconds,
                    self.wall.as_millis()
                )))
            }
        }
    }

    fn spawn(&self) -> std::io::Result<Child> {
        Command::new(&self.program)
            .arg(SUBCOMMAND)
            .arg("--cpu-seconds")
            .arg(self.cpu_seconds.to_string())
            .arg("--memory-bytes")
            .arg(MEMORY_BYTES.to_string())
            .env_clear()
            .env(ALLOCATOR_RESERVE.0, ALLOCATOR_RESERVE.1)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
    }

    /// The verdict of a verifier that ended.
    fn judge(&self, ended: &Ended) -> Result<(), IntegrityError> {
        if let Ok(answer) = serde_json::from_slice::<Answer>(&ended.stdout) {
            return match answer {
                Answer::Verified => Ok(()),
                Answer::Failed { reason } => Err(IntegrityError::Failed(reason)),
                Answer::Unavailable { reason } => {
                    tracing::error!(%reason, "the Data Integrity verifier could not work");
                    Err(unavailable(&reason))
                }
            };
        }
        let stderr = String::from_utf8_lossy(&ended.stderr);
        if stopped_by_cpu_limit(ended.status) {
            tracing::warn!(
                cpu_seconds = self.cpu_seconds,
                "a Data Integrity verifier reached its processor-time limit"
            );
            return Err(IntegrityError::Failed(format!(
                "the Data Integrity proof could not be checked within {} s of processor time, this resolver's limit \
                 (verification.timeout_ms): canonicalising this credential costs too much; publish it enveloped \
                 (application/vc+jwt)",
                self.cpu_seconds
            )));
        }
        tracing::warn!(status = %ended.status, stderr = %stderr.trim(), "a Data Integrity verifier stopped without a verdict");
        let why = if stderr.contains("memory allocation") {
            format!(
                "it needed more than the {} MiB of memory a verification may use",
                MEMORY_BYTES >> 20
            )
        } else {
            format!(
                "it crashed, or needed more than the {} MiB of memory a verification may use",
                MEMORY_BYTES >> 20
            )
        };
        Err(IntegrityError::Failed(format!(
            "the Data Integrity proof could not be checked: the verifier stopped without a verdict ({}): {why}; \
             publish the credential enveloped (application/vc+jwt)",
            ended.status
        )))
    }
}

/// How a verifier ended: its exit status and what it wrote (each read up to a bound).
struct Ended {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Writes `input` to the child's standard input (then closes it) while reading its standard output and error, then
/// waits for it to end. A child that ends before reading everything is judged by how it ended, not by the write.
async fn exchange(child: &mut Child, input: Vec<u8>) -> std::io::Result<Ended> {
    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(std::io::Error::other("the verifier's pipes are missing"));
    };
    let write = async move {
        // A broken pipe here means the child ended early; its exit status says why.
        let _ = stdin.write_all(&input).await;
        let _ = stdin.shutdown().await;
    };
    let (_, stdout, stderr) = tokio::join!(
        write,
        read_bounded(stdout, MAX_ANSWER_BYTES),
        read_bounded(stderr, MAX_STDERR_BYTES)
    );
    let status = child.wait().await?;
    Ok(Ended {
        status,
        stdout: stdout?,
        stderr: stderr?,
    })
}

/// Reads `from` to its end, keeping at most `limit` bytes.
async fn read_bounded(mut from: impl AsyncRead + Unpin, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut kept = Vec::new();
    (&mut from).take(limit).read_to_end(&mut kept).await?;
    // Whatever is left is read and dropped, so that the child is never blocked on a full pipe.
    tokio::io::copy(&mut from, &mut tokio::io::sink()).await?;
    Ok(kept)
}

/// A verifier process, killed and reaped if it is dropped before it was waited for (the check that started it was
/// cut off): no verifier outlives its check, and none is left a zombie.
struct Reaped(Option<Child>);

impl Reaped {
    fn get(&mut self) -> &mut Child {
        self.0.as_mut().expect("a verifier not yet reaped")
    }

    async fn kill_and_reap(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.start_kill();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let _ = child.wait().await;
                });
            }
        }
    }
}

fn unavailable(why: &dyn std::fmt::Display) -> IntegrityError {
    IntegrityError::Deferred(format!("the Data Integrity proof was not checked: {why}"))
}

#[cfg(unix)]
fn stopped_by_cpu_limit(status: ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(rustix::process::Signal::XCPU.as_raw())
}

#[cfg(not(unix))]
fn stopped_by_cpu_limit(_: ExitStatus) -> bool {
    false
}

/// The hidden subcommand: limits this process, reads one `Request` from standard input, writes one `Answer` to
/// standard output. Exits 0 when it wrote an answer.
pub fn run(cpu_seconds: u64, memory_bytes: u64) -> std::process::ExitCode {
    let answer = match limit_self(cpu_seconds, memory_bytes) {
        Ok(()) => answer(std::io::stdin().lock()),
        Err(error) => Answer::Unavailable {
            reason: format!("the verifier could not limit its processor time and memory: {error}"),
        },
    };
    let mut out = std::io::stdout().lock();
    let written = serde_json::to_writer(&mut out, &answer)
        .map_err(std::io::Error::from)
        .and_then(|()| out.flush());
    match written {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(_) => std::process::ExitCode::FAILURE,
    }
}

/// The answer to the request read from `input`: the verification, on a runtime without any I/O driver.
pub fn answer(input: impl Read) -> Answer {
    let unavailable = |reason: String| Answer::Unavailable { reason };
    let mut bytes = Vec::new();
    if let Err(error) = input.take(MAX_REQUEST_BYTES + 1).read_to_end(&mut bytes) {
        return unavailable(format!("the request could not be read: {error}"));
    }
    if bytes.len() as u64 > MAX_REQUEST_BYTES {
        return unavailable(format!(
            "the request is larger than {MAX_REQUEST_BYTES} bytes"
        ));
    }
    let request: Request = match serde_json::from_slice(&bytes) {
        Ok(request) => request,
        Err(error) => return unavailable(format!("the request is not readable: {error}")),
    };
    let document = match request
        .document
        .as_ref()
        .map(serde_json::to_vec)
        .transpose()
    {
        Ok(document) => document,
        Err(error) => return unavailable(format!("the DID document is not readable: {error}")),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(runtime) => runtime,
        Err(error) => return unavailable(format!("no runtime: {error}")),
    };
    match runtime.block_on(integrity::verify_offline(
        &request.credential,
        request.issuer,
        document,
    )) {
        Ok(()) => Answer::Verified,
        Err(reason) => Answer::Failed { reason },
    }
}

/// Sets this process's limits: processor time (`SIGXCPU` past `cpu_seconds`, `SIGKILL` a second later), address
/// space, and no core file.
#[cfg(unix)]
fn limit_self(cpu_seconds: u64, memory_bytes: u64) -> std::io::Result<()> {
    use rustix::process::{Resource, Rlimit, setrlimit};
    let limit = |resource, current: u64, maximum: u64| {
        setrlimit(
            resource,
            Rlimit {
                current: Some(current),
                maximum: Some(maximum),
            },
        )
    };
    limit(Resource::Core, 0, 0)?;
    limit(Resource::Cpu, cpu_seconds, cpu_seconds.saturating_add(1))?;
    limit(Resource::As, memory_bytes, memory_bytes)?;
    Ok(())
}

#[cfg(not(unix))]
fn limit_self(_: u64, _: u64) -> std::io::Result<()> {
    Err(std::io::Error::other("process limits are set on Unix only"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn the_protocol_is_json_both_ways() {
        let request = Request {
            credential: "{}".into(),
            issuer: "did:web:a.example".into(),
            document: Some(serde_json::json!({"id": "did:web:a.example"})),
        };
        assert_eq!(
            serde_json::to_string(&request).unwrap(),
            r#"{"credential":"{}","issuer":"did:web:a.example","document":{"id":"did:web:a.example"}}"#
        );
        let key: Request =
            serde_json::from_str(r#"{"credential":"{}","issuer":"did:key:z6Mk"}"#).unwrap();
        assert_eq!(key.document, None);
        assert!(
            serde_json::from_str::<Request>(
                r#"{"credential":"{}","issuer":"x","url":"https://a.example/"}"#
            )
            .is_err()
        );
        for (answer, text) in [
            (Answer::Verified, r#"{"outcome":"verified"}"#),
            (
                Answer::Failed { reason: "r".into() },
                r#"{"outcome":"failed","reason":"r"}"#,
            ),
            (
                Answer::Unavailable { reason: "u".into() },
                r#"{"outcome":"unavailable","reason":"u"}"#,
            ),
        ] {
            assert_eq!(serde_json::to_string(&answer).unwrap(), text);
            assert_eq!(serde_json::from_str::<Answer>(text).unwrap(), answer);
        }
    }

    #[test]
    fn a_verifier_answers_what_it_reads() {
        let failed = answer(&br#"{"credential":"{}","issuer":"did:key:z"}"#[..]);
        assert!(
            matches!(&failed, Answer::Failed { reason } if reason.contains("cannot be read")),
            "{failed:?}"
        );
        let unreadable = answer(&b"not json"[..]);
        assert!(
            matches!(&unreadable, Answer::Unavailable { reason } if reason.contains("not readable")),
            "{unreadable:?}"
        );
        let large = vec![b' '; MAX_REQUEST_BYTES as usize + 1];
        let refused = answer(&large[..]);
        assert!(
            matches!(&refused, Answer::Unavailable { reason } if reason.contains("larger than")),
            "{refused:?}"
        );
    }

    fn verifier() -> Verifier {
        Verifier::new("unused".into(), 1, Duration::from_millis(1500))
    }

    fn ended(status: i32, stdout: &str, stderr: &str) -> Ended {
        Ended {
            status: ExitStatus::from_raw(status),
            stdout: stdout.into(),
            stderr: stderr.into(),
        }
    }

    #[test]
    fn each_end_of_a_verifier_has_its_verdict() {
        let v = verifier();
        assert_eq!(v.cpu_seconds, 2);
        assert_eq!(v.wall, Duration::from_millis(5500));
        assert_eq!(v.judge(&ended(0, r#"{"outcome":"verified"}"#, "")), Ok(()));
        assert_eq!(
            v.judge(&ended(0, r#"{"outcome":"failed","reason":"bad"}"#, "")),
            Err(IntegrityError::Failed("bad".into()))
        );
        let unavailable = v.judge(&ended(0, r#"{"outcome":"unavailable","reason":"no"}"#, ""));
        assert!(
            matches!(&unavailable, Err(IntegrityError::Deferred(r)) if r.ends_with(": no")),
            "{unavailable:?}"
        );
        // Stopped by the kernel at the processor-time limit (SIGXCPU, 24 on Linux): the credential fails.
        let costly = v.judge(&ended(24, "", ""));
        assert!(
            matches!(&costly, Err(IntegrityError::Failed(r)) if r.contains("within 2 s of processor time")),
            "{costly:?}"
        );
        // A crash (exit code 101, a panic), the memory limit (SIGABRT after a failed allocation): failed too.
        let crashed = v.judge(&ended(101 << 8, "", "thread panicked"));
        assert!(
            matches!(&crashed, Err(IntegrityError::Failed(r)) if r.contains("stopped without a verdict (exit status: 101)")),
            "{crashed:?}"
        );
        let memory = v.judge(&ended(6, "", "memory allocation of 4096 bytes failed"));
        assert!(
            matches!(&memory, Err(IntegrityError::Failed(r)) if r.contains("needed more than the 512 MiB of memory")),
            "{memory:?}"
        );
        // Half an answer is no answer.
        let cut = v.judge(&ended(9, r#"{"outcome":"verif"#, ""));
        assert!(
            matches!(&cut, Err(IntegrityError::Failed(r)) if r.contains("signal: 9")),
            "{cut:?}"
        );
    }

    /// A shell script standing in for the verifier; `$1` of it is `SUBCOMMAND`.
    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn request() -> Request {
        Request {
            credential: r#"{"a":1}"#.into(),
            issuer: "did:key:z".into(),
            document: None,
        }
    }

    #[tokio::test]
    async fn the_request_goes_in_on_stdin_and_the_answer_comes_out_on_stdout() {
        let dir = tempfile::tempdir().unwrap();
        let seen = dir.path().join("seen");
        let program = script(
            dir.path(),
            "answers",
            &format!(
                "echo \"$@\" > {0}.args; cat > {0}; printf '{{\"outcome\":\"verified\"}}'",
                seen.display()
            ),
        );
        let v = Verifier::new(program, 1, Duration::from_millis(2500));
        assert_eq!(v.verify(&request(), Duration::from_secs(1)).await, Ok(()));
        assert_eq!(
            std::fs::read_to_string(&seen).unwrap(),
            r#"{"credential":"{\"a\":1}","issuer":"did:key:z"}"#
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("seen.args")).unwrap(),
            format!("{SUBCOMMAND} --cpu-seconds 3 --memory-bytes {MEMORY_BYTES}\n")
        );
    }

    #[tokio::test]
    async fn a_verifier_past_its_wall_bound_is_killed_and_reaped_and_the_check_deferred() {
        let dir = tempfile::tempdir().unwrap();
        let pid = dir.path().join("pid");
        let program = script(
            dir.path(),
            "sleeps",
            &format!("echo $$ > {}; exec sleep 30", pid.display()),
        );
        // 1 ms of processor time: a wall bound of 1.003 s.
        let v = Verifier::new(program, 1, Duration::from_millis(1));
        let started = std::time::Instant::now();
        let outcome = v.verify(&request(), Duration::from_secs(1)).await;
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        assert!(
            matches!(&outcome, Err(IntegrityError::Deferred(r)) if r.contains("the resolver is busy")),
            "{outcome:?}"
        );
        let pid = std::fs::read_to_string(&pid).unwrap();
        // Killed and waited for: not even a zombie is left.
        assert!(
            !Path::new(&format!("/proc/{}", pid.trim())).exists(),
            "verifier {pid} is still there"
        );
    }

    #[tokio::test]
    async fn a_verifier_dropped_with_its_check_is_killed_and_reaped() {
        let dir = tempfile::tempdir().unwrap();
        let pid = dir.path().join("pid");
        let program = script(
            dir.path(),
            "sleeps",
            &format!("echo $$ > {}; exec sleep 30", pid.display()),
        );
        let v = Verifier::new(program, 1, Duration::from_secs(10));
        let cut = tokio::time::timeout(
            Duration::from_millis(500),
            v.verify(&request(), Duration::from_secs(1)),
        )
        .await;
        assert!(cut.is_err(), "{cut:?}");
        let pid = std::fs::read_to_string(&pid).unwrap();
        let proc = format!("/proc/{}", pid.trim());
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while Path::new(&proc).exists() && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!Path::new(&proc).exists(), "verifier {pid} is still there");
    }

    #[tokio::test]
    async fn a_verifier_that_cannot_start_or_crashes_is_never_verified() {
        let dir = tempfile::tempdir().unwrap();
        let missing = Verifier::new(dir.path().join("missing"), 1, Duration::from_secs(1));
        let outcome = missing.verify(&request(), Duration::from_secs(1)).await;
        assert!(
            matches!(&outcome, Err(IntegrityError::Deferred(r)) if r.contains("could not start")),
            "{outcome:?}"
        );
        let program = script(
            dir.path(),
            "crashes",
            "cat > /dev/null; echo oops >&2; exit 3",
        );
        let crashes = Verifier::new(program, 1, Duration::from_secs(1));
        let outcome = crashes.verify(&request(), Duration::from_secs(1)).await;
        assert!(
            matches!(&outcome, Err(IntegrityError::Failed(r)) if r.contains("stopped without a verdict (exit status: 3)")),
            "{outcome:?}"
        );
    }

    #[tokio::test]
    async fn with_every_slot_taken_the_check_is_deferred() {
        let v = Verifier::new("unused".into(), 1, Duration::from_secs(1));
        let held = v.slots.clone().acquire_owned().await.unwrap();
        let outcome = v.verify(&request(), Duration::from_millis(20)).await;
        assert!(
            matches!(&outcome, Err(IntegrityError::Deferred(r)) if r.contains("all 1 verifier slots")),
            "{outcome:?}"
        );
        drop(held);
        // With the slot free the same call runs (and the program is not there).
        let ran = v.verify(&request(), Duration::from_millis(20)).await;
        assert!(
            matches!(&ran, Err(IntegrityError::Deferred(r)) if r.contains("could not start")),
            "{ran:?}"
        );
    }
}
