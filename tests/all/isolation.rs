//! Isolation between plugins and from the host: a spinning plugin does not starve
//! others (on both tokio flavours), and faulting instances do not leak memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasp_host::{Error, Fault, Limits, PluginOptions};
use wasp_tests::fixtures;

use crate::rss_bytes;

use crate::{hostile, load_as};

async fn spinner_does_not_block_other_plugins() {
    let spinner = hostile(
        PluginOptions::default().limits(
            Limits::default()
                .fuel(u64::MAX / 2)
                .timeout(Duration::from_secs(2)),
        ),
    )
    .await;
    let upper = load_as("upper", fixtures::UPPER, PluginOptions::default())
        .await
        .unwrap();
    let spinning = Arc::new(AtomicBool::new(true));
    let flag = spinning.clone();
    let spin_stats = spinner.clone();
    let spin = tokio::spawn(async move {
        let r = spinner.call_raw("spin", b"").await;
        flag.store(false, Ordering::SeqCst);
        r
    });
    // Wait until the spinner is really running (in flight) ...
    while spinning.load(Ordering::SeqCst) && upper_spinner_in_flight(&spin_stats) == 0 {
        tokio::task::yield_now().await;
    }
    // ... then the other plugin serves while it spins.
    for i in 0..100 {
        let out: String = upper.call("upper", format!("call {i}")).await.unwrap();
        assert_eq!(out, format!("CALL {i}"));
    }
    assert!(
        spinning.load(Ordering::SeqCst),
        "the other plugin's 100 calls should finish while the spinner is still running"
    );
    let err = spin.await.unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            Error::Fault {
                fault: Fault::Timeout { .. },
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn spinner_yields_on_a_current_thread_runtime() {
    spinner_does_not_block_other_plugins().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spinner_yields_on_a_multi_thread_runtime() {
    spinner_does_not_block_other_plugins().await;
}

fn upper_spinner_in_flight(p: &wasp_host::Plugin) -> u64 {
    p.stats().in_flight
}

#[tokio::test]
async fn memory_bombs_do_not_leak() {
    let limit = 16u64 << 20;
    let p =
        hostile(PluginOptions::default().limits(Limits::default().memory(limit).max_faults(1_000)))
            .await;
    let bomb = || async {
        let err = p.call_raw("alloc", b"64").await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Fault {
                    fault: Fault::MemoryLimit { .. },
                    ..
                }
            ),
            "{err:?}"
        );
    };
    for _ in 0..20 {
        bomb().await;
    }
    let before = rss_bytes();
    for _ in 0..200 {
        bomb().await;
    }
    let after = rss_bytes();
    // 200 leaked instances would be 200 × 16 MiB = 3.2 GiB; other tests share this
    // process, so allow generous noise.
    let growth = after.saturating_sub(before);
    assert!(
        growth < 256 << 20,
        "RSS grew by {} MiB over 200 faults",
        growth >> 20
    );
    assert_eq!(p.stats().faults.get("memory-limit"), Some(&220));
    // And the plugin still serves.
    let n: String = p.call("count", "").await.unwrap();
    assert_eq!(n, "1");
}
