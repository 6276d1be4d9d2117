//! Builds the guest workspaces, `plugins/` and `tests/fixtures/`, for wasm32-wasip1,
//! and writes `$OUT_DIR/fixtures.rs`: a `&str` constant with the path of every `.wasm`
//! they produce, the list `ALL`, and `foreach_fixture!` (see `src/lib.rs`).
//!
//! Each workspace is built by a nested `cargo build --release --target wasm32-wasip1`
//! into `target/wasm`, a target directory of its own: the outer build holds the lock
//! of its own target directory while this script runs, so sharing it would deadlock.
//! Both workspaces share `target/wasm`, so their common dependencies (the SDK, serde)
//! build once. The nested cargo gets the outer environment minus everything that
//! would carry the outer build's settings into it (flags, wrappers, target dir,
//! profile overrides, features, cfgs); it keeps `CARGO_HOME`, the toolchain and the
//! jobserver, so the nested build shares the outer build's job slots.

use std::env;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The target the guests are built for.
const TARGET: &str = "wasm32-wasip1";

/// The guest workspaces, relative to the repository root.
const WORKSPACES: [&str; 2] = ["plugins", "tests/fixtures"];

/// Host-side sources that the guests build from: a change rebuilds them.
const SHARED_INPUTS: [&str; 8] = [
    "Cargo.toml",
    "wit",
    "codec/Cargo.toml",
    "codec/src",
    "guest-sdk/Cargo.toml",
    "guest-sdk/src",
    "guest-sdk/macros/Cargo.toml",
    "guest-sdk/macros/src",
];

/// Variables removed from the nested cargo's environment, by exact name.
const REMOVED: [&str; 20] = [
    "CARGO_TARGET_DIR",
    "RUSTFLAGS",
    "RUSTDOCFLAGS",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTC_LINKER",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_INCREMENTAL",
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_MANIFEST_LINKS",
    "CARGO_CRATE_NAME",
    "CARGO_RUSTC_CURRENT_DIR",
    "OUT_DIR",
    "TARGET",
    "HOST",
    "NUM_JOBS",
    "OPT_LEVEL",
    "DEBUG",
    "PROFILE",
];

/// Variables removed by prefix: build settings (`CARGO_BUILD_*`, `CARGO_PROFILE_*`,
/// `CARGO_TARGET_*` such as `CARGO_TARGET_<triple>_RUSTFLAGS`), encoded flags, and
/// what cargo tells this build script about the outer package (features, cfgs,
/// links metadata, package fields), plus cargo's internal `__CARGO_*`.
const REMOVED_PREFIXES: [&str; 9] = [
    "CARGO_BUILD_",
    "CARGO_PROFILE_",
    "CARGO_TARGET_",
    "CARGO_ENCODED_",
    "CARGO_FEATURE_",
    "CARGO_CFG_",
    "CARGO_PKG_",
    "DEP_",
    "__CARGO",
];

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// One `.wasm` that a guest workspace produces.
struct Fixture {
    /// The crate's name, e.g. `upper`.
    name: String,
    /// Where the crate lives, relative to the root, e.g. `plugins/upper`.
    dir: String,
    /// The crate's `description`.
    description: String,
    /// The absolute path of the built `.wasm`.
    wasm: PathBuf,
}

fn run() -> Result<(), String> {
    let manifest_dir = env_path("CARGO_MANIFEST_DIR")?;
    let root = manifest_dir
        .parent()
        .ok_or("tests/ has no parent directory")?
        .to_path_buf();
    let out_dir = env_path("OUT_DIR")?;
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = root.join("target").join("wasm");

    for input in SHARED_INPUTS {
        rerun_if_changed(&root.join(input));
    }

    let mut fixtures = Vec::new();
    for workspace in WORKSPACES {
        let dir = root.join(workspace);
        let manifest = dir.join("Cargo.toml");
        for input in ["Cargo.toml", "Cargo.lock", ".cargo"] {
            rerun_if_changed(&dir.join(input));
        }
        for member in workspace_members(&manifest)? {
            let crate_dir = dir.join(&member);
            for input in ["Cargo.toml", "src", "wit", "build.rs"] {
                rerun_if_changed(&crate_dir.join(input));
            }
            let package = parse_manifest(&crate_dir.join("Cargo.toml"))?;
            let name = package_field(&package, "name")
                .ok_or_else(|| format!("{workspace}/{member}/Cargo.toml has no package name"))?;
            let wasm = target_dir
                .join(TARGET)
                .join("release")
                .join(format!("{}.wasm", name.replace('-', "_")));
            fixtures.push(Fixture {
                description: package_field(&package, "description").unwrap_or_default(),
                dir: format!("{workspace}/{member}"),
                name,
                wasm,
            });
        }
    }

    check_target_installed()?;
    for workspace in WORKSPACES {
        build(
            &cargo,
            &root.join(workspace).join("Cargo.toml"),
            &target_dir,
        )?;
    }

    for fixture in &fixtures {
        let bytes = fs::read(&fixture.wasm).map_err(|e| {
            format!(
                "the build of {} made no {}: {e}",
                fixture.dir,
                fixture.wasm.display()
            )
        })?;
        if !bytes.starts_with(b"\0asm\x01\0\0\0") {
            return Err(format!(
                "{} is not a core wasm module",
                fixture.wasm.display()
            ));
        }
    }

    let code = fixtures_rs(&fixtures)?;
    let path = out_dir.join("fixtures.rs");
    fs::write(&path, code).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Fails with one clear message when the wasm32-wasip1 standard library is missing.
fn check_target_installed() -> Result<(), String> {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", TARGET])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", rustc.to_string_lossy()))?;
    let libdir = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if output.status.success() && !libdir.is_empty() && Path::new(&libdir).is_dir() {
        return Ok(());
    }
    Err(format!(
        "the Rust target {TARGET} is not installed, and the integration tests need it to \
         build the plugins they run.\n       Install it with `rustup target add {TARGET}` \
         (or run `make test`, which does)."
    ))
}

/// Runs the nested `cargo build` of one guest workspace.
fn build(cargo: &OsStr, manifest: &Path, target_dir: &Path) -> Result<(), String> {
    let mut command = Command::new(cargo);
    command
        .args(["build", "--release", "--target", TARGET, "--manifest-path"])
        .arg(manifest)
        // The flags `wasp build` and `wasp new`'s scaffold use: every guest in the
        // shared target dir is built alike, so no build invalidates another's.
        .args([
            "--config",
            r#"target.wasm32-wasip1.rustflags=["-C", "target-feature=+simd128"]"#,
        ])
        .arg("--target-dir")
        .arg(target_dir);
    for (key, _) in env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if REMOVED.contains(&key) || REMOVED_PREFIXES.iter().any(|p| key.starts_with(p)) {
            command.env_remove(key);
        }
    }
    let output = command
        .output()
        .map_err(|e| format!("cannot run {}: {e}", cargo.to_string_lossy()))?;
    if output.status.success() {
        // The nested output is hidden on success: surface that it had warnings.
        let stderr = String::from_utf8_lossy(&output.stderr);
        let warnings = stderr
            .lines()
            .filter(|l| l.starts_with("warning:") && !l.contains(" generated "))
            .count();
        if warnings > 0 {
            println!(
                "cargo:warning={} built with {warnings} warning(s); see them with \
                 `cargo build --release --target {TARGET} --manifest-path {}`",
                manifest.display(),
                manifest.display()
            );
        }
        return Ok(());
    }
    Err(format!(
        "building the guest workspace {} for {TARGET} failed ({}):\n{}",
        manifest.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    ))
}

/// The Rust code of `$OUT_DIR/fixtures.rs`.
fn fixtures_rs(fixtures: &[Fixture]) -> Result<String, String> {
    let mut code = String::from("// Generated by tests/build.rs; do not edit.\n\n");
    let mut all = String::new();
    let mut calls = String::new();
    for fixture in fixtures {
        let path = fixture
            .wasm
            .to_str()
            .ok_or_else(|| format!("{} is not UTF-8", fixture.wasm.display()))?;
        let konst = const_name(&fixture.name);
        let snake = fixture.name.replace('-', "_");
        let mut doc = format!(" `{}` ({}), built for {TARGET}", fixture.name, fixture.dir);
        if !fixture.description.is_empty() {
            let _ = write!(doc, ": {}", fixture.description);
        }
        // `{:?}` writes valid Rust string literals, escapes included.
        let _ = writeln!(
            code,
            "#[doc = {doc:?}]\npub const {konst}: &str = {path:?};\n"
        );
        let _ = writeln!(all, "    ({:?}, {konst}),", fixture.name);
        let _ = writeln!(calls, "        $m!({snake}, {konst});");
    }
    let _ = writeln!(
        code,
        "/// Every fixture as (crate name, path of its `.wasm`), in build order.\n\
         pub const ALL: &[(&str, &str)] = &[\n{all}];\n"
    );
    let _ = writeln!(
        code,
        "/// Invokes `$m!(snake_name, CONST_NAME)` once per fixture, e.g. \
         `$m!(upper, UPPER)`; see the crate docs.\n\
         #[macro_export]\n\
         macro_rules! foreach_fixture {{\n    ($m:ident) => {{\n{calls}    }};\n}}"
    );
    Ok(code)
}

/// `big-output` → `BIG_OUTPUT`.
fn const_name(name: &str) -> String {
    name.to_uppercase().replace('-', "_")
}

/// A manifest, parsed with the `toml` crate.
fn parse_manifest(path: &Path) -> Result<toml::Table, String> {
    read(path)?
        .parse::<toml::Table>()
        .map_err(|e| format!("{} is not valid TOML: {e}", path.display()))
}

/// The members of a workspace: `workspace.members` of its manifest.
fn workspace_members(path: &Path) -> Result<Vec<String>, String> {
    let manifest = parse_manifest(path)?;
    let members = manifest
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(toml::Value::as_array)
        .ok_or_else(|| format!("{} has no `workspace.members`", path.display()))?;
    members
        .iter()
        .map(|m| {
            m.as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("{}: a member is not a string", path.display()))
        })
        .collect()
}

/// A string field of a crate manifest's `[package]` table.
fn package_field(manifest: &toml::Table, key: &str) -> Option<String> {
    manifest
        .get("package")?
        .get(key)?
        .as_str()
        .map(str::to_string)
}

fn rerun_if_changed(path: &Path) {
    // A path that does not exist would make cargo rerun this script every time.
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn env_path(key: &str) -> Result<PathBuf, String> {
    env::var_os(key)
        .map(PathBuf::from)
        .ok_or_else(|| format!("cargo did not set {key}"))
}
