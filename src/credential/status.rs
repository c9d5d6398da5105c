//! BitstringStatusList (W3C): a credential's `credentialStatus` entries, and the lists they point to, fetched through
//! the guarded outbound client, verified as signed by the credential's own issuer, and cached.

use super::jws::{Issuer, Jws};
use super::{credential_of, excerpt, issuer_of, strings, window};
use crate::config::DiaSettings;
use crate::did::DidResolver;
use crate::outbound::{FetchError, Outbound, Request};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Decoded status lists are at most this large (the W3C minimum is 16 KiB; 2 MiB holds 16 M entries).
const MAX_DECODED_LIST: u64 = 2 * 1024 * 1024;
const STATUS_ACCEPT: &str = "application/vc+jwt, application/jwt;q=0.9, */*;q=0.1";

/// One `BitstringStatusListEntry` of a credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusEntry {
    pub list: String,
    pub index: u64,
    pub purpose: String,
}

impl StatusEntry {
    /// The entries of `credentialStatus` (none, one, or an array); `Err` says what is wrong with one.
    pub fn read(vc: &Value) -> Result<Vec<StatusEntry>, String> {
        match &vc["credentialStatus"] {
            Value::Null => Ok(Vec::new()),
            Value::Array(a) => a.iter().map(StatusEntry::parse).collect(),
            one => Ok(vec![StatusEntry::parse(one)?]),
        }
    }

    fn parse(value: &Value) -> Result<StatusEntry, String> {
        let bad = |m: &str| format!("credentialStatus: {m}");
        let kind = strings(&value["type"]);
        if !kind.iter().any(|t| t == "BitstringStatusListEntry") {
            return Err(bad("only BitstringStatusListEntry is understood"));
        }
        let list = value["statusListCredential"]
            .as_str()
            .ok_or_else(|| bad("statusListCredential is missing"))?
            .to_string();
        let index = match &value["statusListIndex"] {
            Value::String(s) => s.parse::<u64>().ok(),
            n => n.as_u64(),
        }
        .ok_or_else(|| bad("statusListIndex must be a non-negative integer"))?;
        let purpose = value["statusPurpose"]
            .as_str()
            .unwrap_or("revocation")
            .to_string();
        Ok(StatusEntry {
            list,
            index,
            purpose,
        })
    }
}

/// Why a status entry refuses its credential.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    /// The entry's bit is set.
    #[error("bit {index} of the status list {list} is set ({purpose})")]
    Revoked {
        list: String,
        index: u64,
        purpose: String,
    },
    /// The list was fetched but is not one this credential's status can be read from.
    #[error("the status list {list} could not be checked: {reason}")]
    Failed { list: String, reason: String },
    /// The list could not be fetched now (its host's doing); remembered `retry_after` seconds.
    #[error("the status list {list} cannot be fetched now ({reason})")]
    Unavailable {
        list: String,
        reason: String,
        retry_after: u64,
    },
}

/// Decoded status lists by URL, kept at most `dia.status_list_cache_seconds`, bounded in bytes. One fetch per list
/// at a time (concurrent checks wait for it), and a failed fetch is remembered `outbound.failure_cache_seconds` (at
/// most the list's own bound), so credentials naming a list that cannot be fetched do not make idr fetch it again and again.
pub struct StatusLists {
    cache: moka::sync::Cache<String, ListSlot>,
    timeout: Duration,
    max_bytes: usize,
    /// How long a fetched list is believed (`dia.status_list_cache_seconds`), and a failed fetch remembered.
    ttl: Duration,
    failure_ttl: Duration,
}

/// A cache entry: empty while its fetch runs.
type ListSlot = crate::outbound::slot::Slot<FetchedList>;

impl crate::outbound::slot::Kept for FetchedList {
    fn ttl(&self) -> Duration {
        self.ttl
    }
}

/// The outcome of one fetch of a status list, and how long it is kept.
struct FetchedList {
    outcome: Result<Arc<StatusList>, StatusError>,
    ttl: Duration,
}

/// One verified status list: its issuer, purpose and bits.
struct StatusList {
    issuer: String,
    purpose: String,
    bits: Vec<u8>,
}

impl StatusLists {
    pub fn new(settings: &DiaSettings, failure_cache_seconds: u64) -> StatusLists {
        let timeout = Duration::from_millis(settings.timeout_ms);
        let ttl = Duration::from_secs(settings.status_list_cache_seconds);
        StatusLists {
            cache: moka::sync::Cache::builder()
                .max_capacity(settings.status_list_cache_bytes)
                .weigher(|url: &String, slot: &ListSlot| {
                    let bits = slot
                        .get()
                        .and_then(|f| f.outcome.as_ref().ok())
                        .map_or(0, |l| l.bits.len());
                    u32::try_from(url.len() + bits + 64).unwrap_or(u32::MAX)
                })
                .expire_after(crate::outbound::slot::SlotExpiry {
                    pending: timeout + Duration::from_secs(1),
                })
                .build(),
            timeout,
            max_bytes: settings.max_status_list_bytes,
            ttl,
            failure_ttl: Duration::from_secs(failure_cache_seconds.max(1)).min(ttl),
        }
    }

    /// The list at `url`: cached, or fetched now by this check or one running at the same time.
    async fn list(
        &self,
        entry: &StatusEntry,
        issuer: &Issuer,
        now: i64,
        skew: i64,
        resolver: Option<&DidResolver>,
        outbound: Option<&Outbound>,
    ) -> Result<Arc<StatusList>, StatusError> {
        let key = entry.list.clone();
        let slot = self
            .cache
            .get_with(key.clone(), || Arc::new(tokio::sync::OnceCell::new()));
        let mut fetched_here = false;
        let fetched = slot
            .get_or_init(|| async {
                fetched_here = true;
                let outcome = match outbound {
                    Some(outbound) => self
                        .fetch(&entry.list, issuer, now, skew, resolver, outbound)
                        .await
                        .map(Arc::new),
                    None => Err(self.unavailable(&entry.list, "outbound fetches are off".into())),
                };
                let ttl = match &outcome {
                    Ok(_) => self.ttl,
                    Err(_) => self.failure_ttl,
                };
                if let Err(error) = &outcome {
                    tracing::info!(list = %excerpt(&entry.list), %error, "status list not fetched");
                }
                FetchedList { outcome, ttl }
            })
            .await;
        if fetched_here {
            // Re-inserting makes the cache read the entry's lifetime from the settled outcome.
            self.cache.insert(key, slot.clone());
        }
        fetched.outcome.clone()
    }

    fn unavailable(&self, list: &str, reason: String) -> StatusError {
        StatusError::Unavailable {
            list: excerpt(list),
            reason,
            retry_after: self.failure_ttl.as_secs().max(1),
        }
    }

    /// Refuses the credential when `entry`'s bit is set in its list, or when the list cannot be fetched and verified.
    pub async fn check(
        &self,
        entry: &StatusEntry,
        issuer: &Issuer,
        now: i64,
        skew: i64,
        resolver: Option<&DidResolver>,
        outbound: Option<&Outbound>,
    ) -> Result<(), StatusError> {
        let failed = |reason: String| StatusError::Failed {
            list: excerpt(&entry.list),
            reason,
        };
        let list = self
            .list(entry, issuer, now, skew, resolver, outbound)
            .await?;
        if list.issuer != issuer.as_str() {
            return Err(failed(format!(
                "it was issued by {}, not by the credential's issuer",
                list.issuer
            )));
        }
        if list.purpose != entry.purpose {
            return Err(failed(format!(
                "its statusPurpose is {:?}, the credential's entry says {:?}",
                list.purpose, entry.purpose
            )));
        }
        let byte = usize::try_from(entry.index / 8)
            .ok()
            .and_then(|i| list.bits.get(i))
            .ok_or_else(|| {
                failed(format!(
                    "statusListIndex {} is beyond the list",
                    entry.index
                ))
            })?;
        // Bit 0 is the most significant bit of the first byte (W3C Bitstring Status List).
        if byte >> (7 - entry.index % 8) & 1 == 1 {
            return Err(StatusError::Revoked {
                list: excerpt(&entry.list),
                index: entry.index,
                purpose: entry.purpose.clone(),
            });
        }
        Ok(())
    }

    async fn fetch(
        &self,
        list: &str,
        issuer: &Issuer,
        now: i64,
        skew: i64,
        resolver: Option<&DidResolver>,
        outbound: &Outbound,
    ) -> Result<StatusList, StatusError> {
        let failed = |reason: String| StatusError::Failed {
            list: excerpt(list),
            reason,
        };
        let url = Url::parse(list).map_err(|e| failed(format!("not a URL: {e}")))?;
        if url.scheme() != "https" {
            return Err(failed("status lists are fetched over https only".into()));
        }
        let request = Request {
            url: &url,
            accept: STATUS_ACCEPT,
            timeout: self.timeout,
            max_bytes: self.max_bytes,
        };
        let response = outbound.get(request).await.map_err(|e| match e {
            FetchError::TooLarge(limit) => failed(format!(
                "larger than dia.max_status_list_bytes ({limit} bytes)"
            )),
            other => self.unavailable(list, other.to_string()),
        })?;
        if !(200..300).contains(&response.status) {
            return Err(self.unavailable(list, format!("HTTP {}", response.status)));
        }
        let text = std::str::from_utf8(&response.body)
            .map_err(|_| failed("not a vc+jwt (not text)".into()))?;
        let jws =
            Jws::parse(text, self.max_bytes).map_err(|e| failed(format!("not a vc+jwt: {e}")))?;
        let value: Value =
            serde_json::from_slice(&jws.payload).map_err(|e| failed(format!("payload: {e}")))?;
        let vc = credential_of(&value);
        let list_issuer = match &vc["issuer"] {
            Value::Null => String::new(),
            _ => issuer_of(vc),
        };
        if list_issuer != issuer.as_str() {
            return Err(failed(format!(
                "it was issued by {:?}, not by the credential's issuer {issuer}",
                excerpt(&list_issuer)
            )));
        }
        jws.verify_by(issuer, resolver)
            .await
            .map_err(|e| failed(e.to_string()))?;
        if let Ok(Some((until, text))) = window::time(vc, "validUntil") {
            if now > until.saturating_add(skew) {
                return Err(failed(format!("the list expired at {text}")));
            }
        }
        let subject = &vc["credentialSubject"];
        let purpose = subject["statusPurpose"].as_str().unwrap_or("").to_string();
        let encoded = subject["encodedList"]
            .as_str()
            .ok_or_else(|| failed("credentialSubject.encodedList is missing".into()))?;
        let bits = decode_list(encoded).map_err(failed)?;
        Ok(StatusList {
            issuer: list_issuer,
            purpose,
            bits,
        })
    }
}

/// `encodedList`: multibase base64url (`u`, no padding) of the GZIP-compressed bitstring; decompressed within
/// `MAX_DECODED_LIST` so a small list cannot expand without bound.
fn decode_list(encoded: &str) -> Result<Vec<u8>, String> {
    let body = encoded
        .strip_prefix('u')
        .ok_or("encodedList must be multibase base64url (starting with 'u')")?;
    let gzip = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|e| format!("encodedList is not base64url: {e}"))?;
    let mut bits = Vec::new();
    flate2::read::GzDecoder::new(gzip.as_slice())
        .take(MAX_DECODED_LIST + 1)
        .read_to_end(&mut bits)
        .map_err(|e| format!("encodedList is not GZIP: {e}"))?;
    if bits.len() as u64 > MAX_DECODED_LIST {
        return Err(format!(
            "encodedList expands beyond {MAX_DECODED_LIST} bytes"
        ));
    }
    Ok(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lists_decode_and_bound_their_size() {
        use std::io::Write;
        let gzip = |bytes: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(bytes).unwrap();
            e.finish().unwrap()
        };
        let mut bits = vec![0u8; 16 * 1024];
        bits[1] = 0b0100_0000; // index 9
        let encoded = format!("u{}", URL_SAFE_NO_PAD.encode(gzip(&bits)));
        assert_eq!(decode_list(&encoded).unwrap(), bits);
        let bomb = format!(
            "u{}",
            URL_SAFE_NO_PAD.encode(gzip(&vec![0u8; 3 * 1024 * 1024]))
        );
        assert!(decode_list(&bomb).unwrap_err().contains("expands"));
        assert!(decode_list("zabc").unwrap_err().contains("multibase"));
        assert!(decode_list("uAAAA").unwrap_err().contains("GZIP"));
    }
}
