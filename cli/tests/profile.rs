//! Guest profiles: `wasp call --profile` and `wasp run --profile` write Firefox
//! Profiler JSON whose stacks name the plugin's own functions.

// Tests fail loudly on anything unexpected.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use wasp_tests::fixtures;

mod common;
use common::{wasp, write_manifest};

/// The profile at `path`, checked to be in the Firefox Profiler's processed
/// format, with its samples and every string it interns.
fn read_profile(path: &std::path::Path) -> (usize, String) {
    let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert!(v["meta"]["version"].is_number(), "no meta.version: {v}");
    assert!(v["libs"].is_array());
    let thread = &v["threads"][0];
    let samples = thread["samples"]["length"].as_u64().unwrap() as usize;
    assert!(thread["stackTable"].is_object() && thread["frameTable"].is_object());
    let strings = thread["stringArray"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    (samples, strings)
}

#[test]
fn call_profile_names_the_plugins_functions_even_when_it_faults() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("spin.json");
    wasp()
        .args(["--no-cache", "call", "--timeout", "300ms", "--profile"])
        .arg(&out)
        .args([fixtures::HOSTILE, "spin", ""])
        .assert()
        .code(3);
    let (samples, strings) = read_profile(&out);
    assert!(samples > 10, "{samples} samples in 300 ms at a 1 ms tick");
    assert!(strings.contains("spin_forever"), "{strings}");
}

#[test]
fn run_profile_writes_one_profile_per_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(
        dir.path(),
        &format!(
            "[plugins.hostile]\npath = \"{}\"\nlimits = {{ timeout = \"200ms\" }}\n\
             [plugins.upper]\npath = \"{}\"\n\
             [pipeline]\nstages = [\"hostile\", \"upper\"]\n",
            fixtures::HOSTILE,
            fixtures::UPPER
        ),
    );
    let profiles = dir.path().join("profiles");
    wasp()
        .args(["--no-cache", "run", "-m"])
        .arg(&m)
        .arg("--profile")
        .arg(&profiles)
        .arg("--dead-letter")
        .arg(dir.path().join("dead.jsonl"))
        .write_stdin("{\"id\":1}\n{\"id\":2,\"poison\":\"spin\"}\n{\"id\":3}\n")
        .assert()
        .success();
    let (samples, strings) = read_profile(&profiles.join("hostile.json"));
    assert!(samples > 10, "{samples}");
    assert!(strings.contains("spin_forever"), "{strings}");
    read_profile(&profiles.join("upper.json"));
}
