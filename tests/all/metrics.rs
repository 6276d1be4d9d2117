//! What each plugin costs: fuel, CPU time, bytes in and out move by the right
//! amounts for known calls, and the Prometheus export shows the same numbers.

use wasp_host::{CallOptions, PluginOptions, Runtime};
use wasp_tests::fixtures;

#[tokio::test]
async fn bytes_and_fuel_move_by_the_right_amounts() {
    let rt = Runtime::builder().build().unwrap();
    let upper = rt
        .load_file(fixtures::UPPER, PluginOptions::default().max_instances(1))
        .await
        .unwrap();
    let after_init = upper.stats();
    assert!(after_init.fuel_consumed > 0, "info and init burn fuel too");
    let out: String = upper.call("upper", "hello").await.unwrap();
    assert_eq!(out, "HELLO");
    let one = upper.stats();
    assert_eq!(one.bytes_in - after_init.bytes_in, 5);
    assert_eq!(one.bytes_out - after_init.bytes_out, 5);
    let first_call_fuel = one.fuel_consumed - after_init.fuel_consumed;
    assert!(first_call_fuel > 0);
    // The same call on the same (warm) instance burns the same fuel again.
    let _: String = upper.call("upper", "hello").await.unwrap();
    let _: String = upper.call("upper", "hello").await.unwrap();
    let three = upper.stats();
    let second = {
        let _: String = upper.call("upper", "hello").await.unwrap();
        upper.stats().fuel_consumed - three.fuel_consumed
    };
    let third = {
        let before = upper.stats().fuel_consumed;
        let _: String = upper.call("upper", "hello").await.unwrap();
        upper.stats().fuel_consumed - before
    };
    assert_eq!(second, third, "a call's fuel is deterministic");
    // A batch counts every input's bytes and every output's.
    let before = upper.stats();
    let inputs = vec![b"ab".to_vec(), b"cde".to_vec(), Vec::new()];
    let results = upper.call_batch("upper", &inputs).await.unwrap();
    assert_eq!(results.len(), 3);
    let after = upper.stats();
    assert_eq!(after.bytes_in - before.bytes_in, 5);
    assert_eq!(after.bytes_out - before.bytes_out, 5);
    assert_eq!(after.calls - before.calls, 3);
}

#[tokio::test]
async fn a_fuel_fault_burns_exactly_its_limit_and_cpu_time_is_counted() {
    let rt = Runtime::builder().build().unwrap();
    let hostile = rt
        .load_file(fixtures::HOSTILE, PluginOptions::default())
        .await
        .unwrap();
    let before = hostile.stats();
    let limit = 50_000_000;
    let e = hostile
        .call_with::<_, String>("spin", "", CallOptions::default().fuel(limit))
        .await
        .unwrap_err();
    assert_eq!(
        e.fault().map(wasp_host::Fault::kind),
        Some("fuel-exhausted")
    );
    let after = hostile.stats();
    assert_eq!(after.fuel_consumed - before.fuel_consumed, limit);
    // Burning 50M fuel takes real CPU time, all of it inside the guest.
    assert!(
        after.cpu_time - before.cpu_time > std::time::Duration::from_millis(1),
        "{:?}",
        after.cpu_time - before.cpu_time
    );
}

#[tokio::test]
async fn the_prometheus_export_shows_the_plugins_counters() {
    let rt = Runtime::builder().build().unwrap();
    let plugins = rt.plugins();
    let upper = plugins
        .load("upper", fixtures::UPPER, PluginOptions::default())
        .await
        .unwrap();
    let hostile = plugins
        .load("hostile", fixtures::HOSTILE, PluginOptions::default())
        .await
        .unwrap();
    for _ in 0..3 {
        let _: String = upper.call("upper", "abc").await.unwrap();
    }
    let _ = hostile
        .call_with::<_, String>("spin", "", CallOptions::default().fuel(1_000_000))
        .await
        .unwrap_err();
    let _ = hostile.call::<_, String>("fail", "").await.unwrap_err();
    let text = wasp_host::prometheus::Exporter::new(&plugins).render();
    let v = |name: &str, plugin: &wasp_host::Plugin| {
        format!(
            "{name}{{plugin=\"{}\",version=\"{}\"}}",
            plugin.name(),
            &plugin.sha256()[..12]
        )
    };
    let s = upper.stats();
    for (metric, value) in [
        ("wasp_calls_total", s.calls),
        ("wasp_bytes_in_total", s.bytes_in),
        ("wasp_bytes_out_total", s.bytes_out),
        ("wasp_fuel_consumed_total", s.fuel_consumed),
        ("wasp_call_duration_seconds_count", s.calls),
    ] {
        let line = format!("{} {value}\n", v(metric, &upper));
        assert!(text.contains(&line), "no `{line}` in:\n{text}");
    }
    assert!(text.contains(&format!("{} 9\n", v("wasp_bytes_in_total", &upper))));
    let fault = format!(
        "wasp_faults_total{{plugin=\"hostile\",version=\"{}\",kind=\"fuel-exhausted\"}} 1\n",
        &hostile.sha256()[..12]
    );
    assert!(text.contains(&fault), "{text}");
    assert!(text.contains(&format!("{} 1\n", v("wasp_call_errors_total", &hostile))));
    assert!(text.contains("# TYPE wasp_call_duration_seconds histogram"));
    assert!(text.contains("wasp_reloads_total{plugin=\"upper\"} 0"));
    // A reload counts, and the new version's series has its own digest.
    plugins
        .load("upper", fixtures::REDACT, PluginOptions::default())
        .await
        .unwrap();
    let text = wasp_host::prometheus::Exporter::new(&plugins).render();
    assert!(
        text.contains("wasp_reloads_total{plugin=\"upper\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn a_profile_is_written_once_and_only_when_recorded() {
    let rt = Runtime::builder().build().unwrap();
    let plain = rt
        .load_file(fixtures::UPPER, PluginOptions::default())
        .await
        .unwrap();
    let e = plain.write_profile(Vec::new()).unwrap_err();
    assert!(matches!(e, wasp_host::Error::Profile { .. }), "{e}");
    let profiled = rt
        .load_file(fixtures::UPPER, PluginOptions::default().profile(true))
        .await
        .unwrap();
    let _: String = profiled.call("upper", "abc").await.unwrap();
    let mut out = Vec::new();
    profiled.write_profile(&mut out).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert!(v["threads"].is_array());
    assert!(matches!(
        profiled.write_profile(Vec::new()),
        Err(wasp_host::Error::Profile { .. })
    ));
}
