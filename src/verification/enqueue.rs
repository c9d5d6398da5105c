//! The anchors as the HTTP layer writes them: every write that stored a record (a `PUT`, a bulk line, a restore, a
//! Pyx or DID-signed write, an import through the server) of a record with credential links queues the anchor for a
//! check once the store accepted it. Queuing never waits and never fails, so a write is neither slowed nor refused
//! by verification.

use super::Verification;
use crate::registry::{
    AnchorRecord, AnchorSink, AnchorStore, CacheStats, ListQuery, Lookup, Page, Precondition,
    PutEach, PutOutcome, Settles, StoreError, StoredAnchor, Take, format,
};
use std::sync::Arc;

/// An `AnchorStore` that queues each anchor it stores for verification.
pub struct Enqueuing {
    inner: Arc<dyn AnchorStore>,
    verification: Arc<Verification>,
}

impl Enqueuing {
    pub fn wrap(
        inner: Arc<dyn AnchorStore>,
        verification: Arc<Verification>,
    ) -> Arc<dyn AnchorStore> {
        Arc::new(Enqueuing {
            inner,
            verification,
        })
    }
}

#[async_trait::async_trait]
impl AnchorStore for Enqueuing {
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Arc<StoredAnchor>>>, StoreError> {
        self.inner.get_many(keys).await
    }

    async fn get(&self, key: &str) -> Result<Option<Arc<StoredAnchor>>, StoreError> {
        self.inner.get(key).await
    }

    async fn get_until(&self, keys: &[&str], take: &mut Take<'_>) -> Result<(), StoreError> {
        self.inner.get_until(keys, take).await
    }

    async fn lookup_until(
        &self,
        keys: &[&str],
        settles: Option<Settles<'_>>,
    ) -> Result<Lookup, StoreError> {
        self.inner.lookup_until(keys, settles).await
    }

    fn local_reads(&self) -> bool {
        self.inner.local_reads()
    }

    fn cache_stats(&self) -> Option<CacheStats> {
        self.inner.cache_stats()
    }

    async fn put(
        &self,
        key: &str,
        record: AnchorRecord,
        precondition: Precondition,
        who: &str,
    ) -> Result<PutOutcome, StoreError> {
        let outcome = self.inner.put(key, record, precondition, who).await?;
        self.verification.enqueue(key, &outcome.stored.record);
        Ok(outcome)
    }

    async fn delete(
        &self,
        key: &str,
        precondition: Precondition,
        who: &str,
    ) -> Result<bool, StoreError> {
        self.inner.delete(key, precondition, who).await
    }

    async fn delete_hard(
        &self,
        key: &str,
        precondition: Precondition,
        who: &str,
    ) -> Result<bool, StoreError> {
        self.inner.delete_hard(key, precondition, who).await
    }

    async fn restore(&self, key: &str, who: &str) -> Result<Option<PutOutcome>, StoreError> {
        let restored = self.inner.restore(key, who).await?;
        if let Some(outcome) = &restored {
            self.verification.enqueue(key, &outcome.stored.record);
        }
        Ok(restored)
    }

    async fn put_batch(
        &self,
        batch: Vec<(String, format::Payload)>,
        who: &str,
    ) -> Result<(), StoreError> {
        // The records as written (decoded from their payloads: the batch moves into the store).
        let written: Vec<(String, AnchorRecord)> = batch
            .iter()
            .filter_map(|(k, payload)| {
                format::decode(&payload.stored(0))
                    .ok()
                    .map(|stored| (k.clone(), stored.record))
            })
            .collect();
        self.inner.put_batch(batch, who).await?;
        for (key, record) in &written {
            self.verification.enqueue(key, record);
        }
        Ok(())
    }

    async fn put_each(
        &self,
        writes: Vec<PutEach>,
        who: &str,
    ) -> Result<Vec<Result<PutOutcome, StoreError>>, StoreError> {
        let keys: Vec<String> = writes.iter().map(|w| w.key.clone()).collect();
        let outcomes = self.inner.put_each(writes, who).await?;
        for (key, outcome) in keys.iter().zip(&outcomes) {
            if let Ok(outcome) = outcome {
                self.verification.enqueue(key, &outcome.stored.record);
            }
        }
        Ok(outcomes)
    }

    async fn list(&self, query: &ListQuery<'_>) -> Result<Page, StoreError> {
        self.inner.list(query).await
    }

    async fn for_each(&self, sink: &mut AnchorSink<'_>) -> Result<(), StoreError> {
        self.inner.for_each(sink).await
    }

    async fn is_empty(&self) -> Result<bool, StoreError> {
        self.inner.is_empty().await
    }

    async fn find_pattern(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Option<(String, Arc<StoredAnchor>)>, StoreError> {
        self.inner.find_pattern(key, value).await
    }

    async fn patterns(&self) -> Result<Vec<(String, Arc<StoredAnchor>)>, StoreError> {
        self.inner.patterns().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{VerificationMode, VerificationSettings};
    use crate::registry::embedded::EmbeddedStore;
    use crate::vocabulary::{Vocabularies, Vocabulary};

    fn verification(store: &Arc<EmbeddedStore>, mode: VerificationMode) -> Arc<Verification> {
        let settings = VerificationSettings {
            mode,
            recheck_hours: 24,
            concurrency: 2,
            timeout_ms: 1000,
            max_credential_bytes: 1024,
            data_integrity: true,
            trust: vec![],
        };
        Arc::new(Verification::with_parts(
            &settings,
            super::super::Parts {
                anchors: store.clone(),
                verdicts: store.clone(),
                coordination: store.clone(),
                vocabularies: Arc::new(Vocabularies::new(Vocabulary::embedded())),
                checker: Arc::new(super::super::engine::Unchecked),
            },
        ))
    }

    /// A record with a credential link (`untp:dpp`).
    fn record() -> AnchorRecord {
        serde_json::from_value(serde_json::json!({"itemDescription": "x", "links": [
            {"linkType": "https://test.uncefact.org/vocabulary/linkTypes/dpp",
             "href": "https://dpp.example/1", "title": "DPP"}
        ]}))
        .unwrap()
    }

    /// A record with no credential link.
    fn plain() -> AnchorRecord {
        serde_json::from_value(serde_json::json!({"itemDescription": "x", "links": [
            {"linkType": "https://gs1.org/voc/pip", "href": "https://pip.example/1", "title": "Info"}
        ]}))
        .unwrap()
    }

    #[tokio::test]
    async fn a_write_without_credential_links_queues_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        let verification = verification(&store, VerificationMode::Report);
        let wrapped = Enqueuing::wrap(store.clone(), verification.clone());
        wrapped
            .put("01/1", plain(), Precondition::None, "t")
            .await
            .unwrap();
        let each = |key: &str, record| PutEach {
            key: key.into(),
            record,
            precondition: Precondition::None,
        };
        wrapped
            .put_each(vec![each("01/2", plain())], "t")
            .await
            .unwrap();
        wrapped
            .put_batch(
                vec![("01/3".to_string(), format::Payload::of(&plain()))],
                "t",
            )
            .await
            .unwrap();
        assert_eq!(verification.queued(), 0, "nothing to check");
        // The same writes with a credential link do queue.
        wrapped
            .put("01/1", record(), Precondition::None, "t")
            .await
            .unwrap();
        wrapped
            .put_each(vec![each("01/2", record())], "t")
            .await
            .unwrap();
        wrapped
            .put_batch(
                vec![("01/3".to_string(), format::Payload::of(&record()))],
                "t",
            )
            .await
            .unwrap();
        assert_eq!(verification.queued(), 3);
    }

    #[tokio::test]
    async fn every_stored_write_queues_its_anchor_and_nothing_else_does() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        let verification = verification(&store, VerificationMode::Report);
        let wrapped = Enqueuing::wrap(store.clone(), verification.clone());
        wrapped
            .put("01/1", record(), Precondition::None, "t")
            .await
            .unwrap();
        assert_eq!(verification.queued(), 1);
        let refused = wrapped
            .put("01/1", record(), Precondition::Absent, "t")
            .await;
        assert!(refused.is_err());
        let each = |key: &str, precondition| PutEach {
            key: key.into(),
            record: record(),
            precondition,
        };
        let outcomes = wrapped
            .put_each(
                vec![
                    each("01/2", Precondition::None),
                    each("01/3", Precondition::Exists),
                ],
                "t",
            )
            .await
            .unwrap();
        assert!(outcomes[0].is_ok() && outcomes[1].is_err());
        assert_eq!(verification.queued(), 2, "01/1 once, 01/2; not 01/3");
        wrapped
            .delete("01/2", Precondition::None, "t")
            .await
            .unwrap();
        assert_eq!(verification.queued(), 2, "a delete queues nothing");
        wrapped
            .put("~pattern/8004/952", record(), Precondition::None, "t")
            .await
            .unwrap();
        assert_eq!(
            verification.queued(),
            2,
            "a pattern has no targets of its own"
        );
        wrapped
            .put("01/9", record(), Precondition::None, "t")
            .await
            .unwrap();
        wrapped
            .delete("01/9", Precondition::None, "t")
            .await
            .unwrap();
        let engine = verification.engine.as_ref().unwrap();
        while verification.queued() > 0 {
            engine.queue.pop().await;
        }
        assert!(wrapped.restore("01/9", "t").await.unwrap().is_some());
        assert_eq!(
            engine.queue.pop().await,
            "01/9",
            "a restore queues its anchor"
        );
        assert!(wrapped.restore("01/404", "t").await.unwrap().is_none());
        assert_eq!(verification.queued(), 0, "nothing restored, nothing queued");
    }

    #[tokio::test]
    async fn nothing_is_queued_when_verification_is_off() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        let verification = verification(&store, VerificationMode::Off);
        let wrapped = Enqueuing::wrap(store.clone(), verification.clone());
        wrapped
            .put("01/1", record(), Precondition::None, "t")
            .await
            .unwrap();
        assert_eq!(verification.queued(), 0);
    }
}
