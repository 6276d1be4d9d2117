//! Every fixture is exercised: each constant of `wasp_tests::fixtures` must be
//! used in the code (not a comment) of a test module under `tests/all/` or of the
//! CLI's tests. A fixture listed nowhere, or only in an empty stub, fails here.

use std::path::Path;

/// The source files that count: test modules, without this one and main.rs.
fn test_sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in [root.join("all"), root.join("../cli/tests")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.extension().is_none_or(|e| e != "rs")
                || name == "coverage.rs"
                || name == "main.rs"
            {
                continue;
            }
            let code: String = std::fs::read_to_string(&path)
                .unwrap()
                .lines()
                .map(|l| l.split("//").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n");
            out.push((name, code));
        }
    }
    out
}

#[test]
fn every_fixture_is_used_by_a_test() {
    let sources = test_sources();
    let mut missing = Vec::new();
    for (name, _) in wasp_tests::fixtures::ALL {
        let konst = name.to_uppercase().replace('-', "_");
        let used = sources.iter().any(|(_, code)| {
            code.match_indices(&format!("fixtures::{konst}"))
                .any(|(i, m)| {
                    // The whole constant, not a prefix of a longer one.
                    !code[i + m.len()..]
                        .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                })
        });
        if !used {
            missing.push(format!("{name} (fixtures::{konst})"));
        }
    }
    assert!(
        missing.is_empty(),
        "fixtures no test uses: {}; add a test that loads each (tests/all/*.rs or cli/tests/*.rs)",
        missing.join(", ")
    );
}
