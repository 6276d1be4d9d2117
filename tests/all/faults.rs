//! Faults: each kind is reported as itself, the instance is discarded, and the
//! same runtime then serves the same plugin and another one.

use std::time::Duration;

use wasp_host::{Error, Fault, Limits, PluginOptions};
use wasp_tests::fixtures;

use crate::{hostile, load_as};

/// Runs `function(input)`, expects a fault, checks it with `check`, then checks
/// that the plugin (fresh instance) and another plugin still serve.
async fn fault_then_recover(
    limits: Limits,
    function: &str,
    input: &str,
    check: impl Fn(&Fault) -> bool,
) -> Fault {
    let p = hostile(PluginOptions::default().limits(limits)).await;
    let before: String = p.call("count", "").await.unwrap();
    assert_eq!(before, "1");
    let err = p.call_raw(function, input.as_bytes()).await.unwrap_err();
    let fault = match &err {
        Error::Fault {
            plugin,
            function: f,
            fault,
        } => {
            assert_eq!((plugin.as_str(), f.as_str()), ("hostile", function));
            fault.clone()
        }
        other => panic!("{function}: expected a fault, got {other:?}"),
    };
    assert!(check(&fault), "{function}: unexpected fault {fault:?}");
    assert_eq!(err.exit_code(), 3);
    // The faulted instance is gone: the next call runs on a fresh one.
    let after: String = p.call("count", "").await.unwrap();
    assert_eq!(after, "1", "{function}: the instance was not replaced");
    assert_eq!(p.stats().faults.get(fault.kind()), Some(&1));
    let other = load_as("upper", fixtures::UPPER, PluginOptions::default())
        .await
        .unwrap();
    let out: String = other.call("upper", "still here").await.unwrap();
    assert_eq!(out, "STILL HERE");
    fault
}

#[tokio::test]
async fn panic_is_reported_with_its_message() {
    let f = fault_then_recover(Limits::default(), "panic", "boom at 42", |f| {
        matches!(f, Fault::Panic { .. })
    })
    .await;
    let Fault::Panic { message, location } = f else {
        unreachable!()
    };
    // The message and location arrive as data, not parsed from a log line.
    assert!(message.contains("boom at 42"), "{message}");
    assert!(!message.starts_with("panicked at"), "{message}");
    let location = location.expect("the SDK reports where it panicked");
    assert!(location.contains("src/lib.rs:"), "{location}");
}

#[tokio::test]
async fn abort_is_a_trap() {
    fault_then_recover(Limits::default(), "abort", "", |f| {
        matches!(f, Fault::Trap { .. })
    })
    .await;
}

#[tokio::test]
async fn exit_is_a_fault_not_the_end_of_the_host() {
    // WASI 0.2's `exit` carries success or failure only: any non-zero code is 1.
    fault_then_recover(Limits::default(), "exit", "7", |f| {
        *f == Fault::Exit { code: 1 }
    })
    .await;
    fault_then_recover(Limits::default(), "exit", "0", |f| {
        *f == Fault::Exit { code: 0 }
    })
    .await;
}

#[tokio::test]
async fn fuel_exhaustion() {
    fault_then_recover(Limits::default().fuel(5_000_000), "spin", "", |f| {
        *f == Fault::FuelExhausted { fuel: 5_000_000 }
    })
    .await;
}

#[tokio::test]
async fn spinning_plugin_times_out() {
    let limits = Limits::default()
        .fuel(u64::MAX / 2)
        .timeout(Duration::from_millis(200));
    fault_then_recover(limits, "spin", "", |f| matches!(f, Fault::Timeout { .. })).await;
}

#[tokio::test]
async fn sleeping_plugin_times_out() {
    let limits = Limits::default().timeout(Duration::from_millis(200));
    fault_then_recover(limits, "sleep", "10000", |f| {
        matches!(f, Fault::Timeout { .. })
    })
    .await;
}

#[tokio::test]
async fn memory_limit_is_reported_as_such() {
    let limits = Limits::default().memory(32 << 20);
    let f = fault_then_recover(limits, "alloc", "64", |f| {
        *f == Fault::MemoryLimit { limit: 32 << 20 }
    })
    .await;
    assert_eq!(f.to_string(), "memory limit of 32MiB exceeded");
}

#[tokio::test]
async fn stack_overflow() {
    fault_then_recover(Limits::default(), "recurse", "", |f| {
        *f == Fault::StackOverflow
    })
    .await;
}

#[tokio::test]
async fn output_over_max_output() {
    let limits = Limits::default().max_output(1 << 20);
    fault_then_recover(limits, "big-output", &(4 << 20).to_string(), |f| {
        *f == Fault::OutputTooLarge { limit: 1 << 20 }
    })
    .await;
}

#[tokio::test]
async fn consecutive_faults_quarantine_the_plugin() {
    let p = hostile(PluginOptions::default().limits(Limits::default().max_faults(2))).await;
    for _ in 0..2 {
        assert!(
            p.call_raw("panic", b"x")
                .await
                .unwrap_err()
                .fault()
                .is_some()
        );
    }
    let err = p.call_raw("echo", b"x").await.unwrap_err();
    assert!(
        matches!(err, Error::Quarantined { faults: 2, .. }),
        "{err:?}"
    );
    assert!(p.stats().quarantined);
}

#[tokio::test]
async fn init_that_spins_fails_the_load_with_a_timeout() {
    let options = PluginOptions::default().config("spin-init", "yes").limits(
        Limits::default()
            .fuel(u64::MAX / 2)
            .timeout(Duration::from_millis(200)),
    );
    let err = load_as("hostile", fixtures::HOSTILE, options)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Fault { ref function, fault: Fault::Timeout { .. }, .. } if function == "init"),
        "{err:?}"
    );
}
