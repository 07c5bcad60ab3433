//! The order API's shadow-read sampler: which answers it sends, that a
//! failed or hung send never holds the read, and its settings.

use std::collections::HashMap;
use std::sync::Arc;

use order_aws::{ConfigError, MemoryShadowQueue, ShadowCounts, ShadowSampler, ShadowSettings};
use order_domain::shadow::{SampleRate, ScriptedRandom, ShadowRead};
use order_domain::testing::migrated_order;

fn sampler(percent: f64, draws: Vec<u32>) -> (ShadowSampler, Arc<MemoryShadowQueue>) {
    let queue = Arc::new(MemoryShadowQueue::new());
    let s = ShadowSampler::with_random(
        SampleRate::from_percent(percent).expect("rate"),
        queue.clone(),
        Arc::new(ScriptedRandom::new(draws)),
    );
    (s, queue)
}

#[tokio::test]
async fn a_quarter_of_the_draws_are_sent_with_the_order_fields() {
    // Draws spread over u32: at 25%, exactly the first of every four.
    let step = u32::MAX / 4;
    let (s, queue) = sampler(25.0, vec![1, step + 1, 2 * step + 1, 3 * step + 1]);
    for n in 0..40 {
        if let Some(h) = s.offer(&migrated_order(n)) {
            h.await.expect("task");
        }
    }
    let sent: Vec<i64> = queue
        .bodies()
        .iter()
        .map(|b| ShadowRead::parse(b).expect("message").legacy_order_id)
        .collect();
    assert_eq!(sent, (0..40).step_by(4).collect::<Vec<_>>());
    assert_eq!(
        s.counts(),
        ShadowCounts {
            sampled: 10,
            sent: 10,
            failed: 0
        }
    );
}

#[tokio::test]
async fn an_order_the_new_system_took_is_never_sent() {
    let (s, queue) = sampler(100.0, vec![0]);
    let mut o = migrated_order(1);
    o.legacy = None;
    assert!(s.offer(&o).is_none());
    assert!(queue.bodies().is_empty());
    assert_eq!(s.counts(), ShadowCounts::default());
}

#[tokio::test]
async fn a_failed_send_is_counted_and_the_next_goes_out() {
    let (s, queue) = sampler(100.0, vec![0]);
    queue.fail(true);
    s.offer(&migrated_order(1))
        .expect("sampled")
        .await
        .expect("task");
    queue.fail(false);
    s.offer(&migrated_order(2))
        .expect("sampled")
        .await
        .expect("task");
    assert_eq!(
        s.counts(),
        ShadowCounts {
            sampled: 2,
            sent: 1,
            failed: 1
        }
    );
    assert_eq!(queue.bodies().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn offer_returns_at_once_and_a_hung_send_times_out() {
    let (s, queue) = sampler(100.0, vec![0]);
    queue.hang(true);
    let before = tokio::time::Instant::now();
    let handle = s.offer(&migrated_order(1)).expect("sampled");
    // The caller (the read) got control back without waiting on the send.
    assert_eq!(tokio::time::Instant::now(), before);
    assert!(!handle.is_finished());
    handle.await.expect("task");
    assert_eq!(before.elapsed(), order_aws::SHADOW_SEND_TIMEOUT);
    assert_eq!(s.counts().failed, 1);
}

#[test]
fn settings_come_in_pairs_and_are_checked() {
    let read = |pairs: &[(&str, &str)]| {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ShadowSettings::from_lookup(|k| m.get(k).cloned())
    };
    assert_eq!(read(&[]), Ok(None));
    let url = "http://localhost:5000/123456789012/ShadowReads";
    let ok = read(&[
        ("ACME_SHADOW_READS_QUEUE_URL", url),
        ("ACME_SHADOW_SAMPLE_PERCENT", "5"),
    ])
    .expect("valid")
    .expect("set");
    assert_eq!(ok.queue_url, url);
    assert_eq!(ok.rate.percent(), 5.0);
    assert_eq!(
        read(&[("ACME_SHADOW_READS_QUEUE_URL", url)]),
        Err(ConfigError::Missing("ACME_SHADOW_SAMPLE_PERCENT"))
    );
    assert_eq!(
        read(&[
            ("ACME_SHADOW_READS_QUEUE_URL", url),
            ("ACME_SHADOW_SAMPLE_PERCENT", "250")
        ]),
        Err(ConfigError::Invalid {
            var: "ACME_SHADOW_SAMPLE_PERCENT",
            reason: "sample percent `250` must be a number from 0 to 100".into()
        })
    );
    assert!(matches!(
        read(&[
            ("ACME_SHADOW_READS_QUEUE_URL", "ShadowReads"),
            ("ACME_SHADOW_SAMPLE_PERCENT", "5")
        ]),
        Err(ConfigError::Invalid {
            var: "ACME_SHADOW_READS_QUEUE_URL",
            ..
        })
    ));
}
