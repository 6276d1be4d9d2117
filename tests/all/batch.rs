//! `call-batch` (`wasp:plugin@0.3.0`): one crossing for many inputs, one result per
//! input in order; limits of a batch of n (fuel and timeout n times a call's,
//! `max-input`/`max-output` per element); a wrong-length result is a fault.

use std::time::Duration;

use wasp_host::{Error, Fault, Limits, PluginOptions};
use wasp_tests::fixtures;

use crate::load_as;

fn inputs(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("event {i}").into_bytes()).collect()
}

#[tokio::test]
async fn sdk_plugins_answer_a_batch_with_one_result_per_input_in_order() {
    let h = load_as("batch-sdk", fixtures::HOSTILE, PluginOptions::default())
        .await
        .unwrap();
    assert!(h.api_version().has_call_batch());
    let events = inputs(300);
    let out = h.call_batch("echo", &events).await.unwrap();
    let out: Vec<Vec<u8>> = out.into_iter().map(Result::unwrap).collect();
    assert_eq!(out, events);
    // A batch of n counts as n calls.
    assert_eq!(h.stats().calls, 300);
    assert_eq!(h.stats().in_flight, 0);

    // An empty batch is an empty answer.
    assert!(h.call_batch("echo", &[]).await.unwrap().is_empty());

    // A plugin-error is per input: a poisoned event fails alone.
    let mixed = vec![
        b"{\"a\":1}".to_vec(),
        b"{\"poison\":\"fail\"}".to_vec(),
        b"{\"a\":3}".to_vec(),
    ];
    let out = h.call_batch("process", &mixed).await.unwrap();
    assert_eq!(out.len(), 3);
    assert_eq!(out[0].as_ref().unwrap(), &mixed[0]);
    assert!(
        matches!(&out[1], Err(Error::Plugin { code, .. }) if code == "poisoned"),
        "{:?}",
        out[1]
    );
    assert_eq!(out[2].as_ref().unwrap(), &mixed[2]);
    assert_eq!(h.stats().errors, 1);

    // Names are checked before anything runs.
    let err = h.call_batch("no-such-fn", &events).await.unwrap_err();
    assert!(matches!(err, Error::NoSuchFunction { .. }), "{err:?}");
}

#[tokio::test]
async fn a_fault_in_a_batch_fails_the_batch_and_the_plugin_recovers() {
    let h = load_as("batch-fault", fixtures::HOSTILE, PluginOptions::default())
        .await
        .unwrap();
    let batch = vec![b"{}".to_vec(), b"{\"poison\":\"panic\"}".to_vec()];
    let err = h.call_batch("process", &batch).await.unwrap_err();
    assert!(matches!(err.fault(), Some(Fault::Panic { .. })), "{err:?}");
    // The events one by one: only the poisoned one faults.
    assert_eq!(h.call_raw("process", &batch[0]).await.unwrap(), batch[0]);
    assert!(h.call_raw("process", &batch[1]).await.is_err());
    let out = h.call_batch("echo", &inputs(2)).await.unwrap();
    assert_eq!(out.len(), 2);
}

#[tokio::test]
async fn a_batch_gets_n_times_the_fuel_and_time_of_a_call() {
    // `sleep` 60 ms per element under a 100 ms timeout: a batch of 4 takes 240 ms,
    // within its 400 ms (a wide margin for a loaded machine), though more than
    // one call's 100 ms; a call of 400 ms is not within its own.
    let limits = Limits::default().timeout(Duration::from_millis(100));
    let h = load_as(
        "batch-time",
        fixtures::HOSTILE,
        PluginOptions::default().limits(limits),
    )
    .await
    .unwrap();
    let naps = vec![b"60".to_vec(); 4];
    let out = h.call_batch("sleep", &naps).await.unwrap();
    assert!(out.iter().all(Result::is_ok), "{out:?}");
    let err = h.call_raw("sleep", b"400").await.unwrap_err();
    assert!(
        matches!(err.fault(), Some(Fault::Timeout { .. })),
        "{err:?}"
    );

    // Fuel: the batch of a spinning function still runs out.
    let limits = Limits::default().fuel(2_000_000);
    let h = load_as(
        "batch-fuel",
        fixtures::HOSTILE,
        PluginOptions::default().limits(limits),
    )
    .await
    .unwrap();
    let err = h.call_batch("spin", &inputs(3)).await.unwrap_err();
    assert!(
        matches!(err.fault(), Some(Fault::FuelExhausted { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn max_input_and_max_output_apply_to_each_element() {
    let limits = Limits::default().max_input(64).max_output(1000);
    let h = load_as(
        "batch-sizes",
        fixtures::HOSTILE,
        PluginOptions::default().limits(limits),
    )
    .await
    .unwrap();
    // Ten outputs of 600 bytes: 6000 in all, each within 1000.
    let out = h
        .call_batch("big-output", &vec![b"600".to_vec(); 10])
        .await
        .unwrap();
    assert!(out.iter().all(|r| r.as_ref().is_ok_and(|o| o.len() == 600)));
    let err = h
        .call_batch("big-output", &[b"10".to_vec(), b"1001".to_vec()])
        .await
        .unwrap_err();
    assert!(
        matches!(err.fault(), Some(Fault::OutputTooLarge { limit: 1000 })),
        "{err:?}"
    );
    let err = h
        .call_batch("echo", &[vec![1; 10], vec![1; 65]])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InputTooLarge { size: 65, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_batch_of_the_wrong_length_is_a_fault_naming_both_counts() {
    let liar = load_as("liar", fixtures::BATCH_LIAR, PluginOptions::default())
        .await
        .unwrap();
    assert!(liar.api_version().has_call_batch());
    for (function, results) in [("process", 2), ("long", 4)] {
        let err = liar.call_batch(function, &inputs(3)).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Fault {
                    fault: Fault::BatchLength { inputs: 3, results: r },
                    ..
                } if r == results
            ),
            "{err:?}"
        );
        assert!(
            err.to_string().starts_with(&format!(
                "plugin 'liar' returned {results} results for 3 inputs"
            )),
            "{err}"
        );
        assert_eq!(err.exit_code(), 3);
        // One by one, it works.
        assert_eq!(liar.call_raw(function, b"x").await.unwrap(), b"x");
    }
    let out = liar.call_batch("echo", &inputs(3)).await.unwrap();
    assert_eq!(out.len(), 3);
    assert_eq!(liar.stats().faults.get("batch-length"), Some(&2));
}
