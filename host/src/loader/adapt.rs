//! A wasm32-wasip1 core module → a component, with the WASI preview1 reactor
//! adapter of the wasmtime release we run on.

use wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER;

use crate::error::LoadError;

/// Turns a core module built with wit-bindgen (which embeds the world in a
/// `component-type` custom section) into a component. Its WASI preview1 imports
/// are adapted to WASI preview2 with the reactor adapter.
///
/// # Errors
/// When the module is malformed or its imports cannot be adapted; the error says
/// which.
///
/// ```
/// let err = wasp_host::loader::componentize(b"\0asm\x01\0\0\0\x01").unwrap_err();
/// assert!(matches!(err, wasp_host::LoadError::InvalidModule { .. }));
/// ```
pub fn componentize(module: &[u8]) -> Result<Vec<u8>, LoadError> {
    // Validate first: wit-component assumes a well-formed module.
    wasmparser::Validator::new()
        .validate_all(module)
        .map_err(|source| LoadError::InvalidModule { source })?;
    check_world_sections(module)?;
    let encode = || {
        wit_component::ComponentEncoder::default()
            .validate(true)
            .module(module)
            .and_then(|e| {
                e.adapter(
                    "wasi_snapshot_preview1",
                    WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
                )
            })
            .and_then(|mut e| e.encode())
            .map_err(|source| LoadError::Adapt { source })
    };
    // wit-component decodes the module's component-type section, which a hostile
    // file controls; a panic there is this file's error, not the host's end.
    std::panic::catch_unwind(encode).unwrap_or_else(|_| {
        Err(LoadError::MalformedWorldSection {
            section: "component-type".into(),
            detail: "the decoder panicked on it".into(),
        })
    })
}

/// wit-component merges the worlds of the module's `component-type` sections with
/// a recursive walk over their package dependencies, which never ends (a stack
/// overflow, which kills the process and cannot be caught) when a crafted section
/// makes packages depend on each other in a cycle. Decode each section here and
/// refuse such a graph before wit-component sees it.
fn check_world_sections(module: &[u8]) -> Result<(), LoadError> {
    use wasmparser::{Parser, Payload};
    for payload in Parser::new(0).parse_all(module) {
        let Ok(Payload::CustomSection(section)) = payload else {
            continue;
        };
        if !section.name().starts_with("component-type") {
            continue;
        }
        let malformed = |detail: String| LoadError::MalformedWorldSection {
            section: section.name().to_string(),
            detail,
        };
        let resolve = decode_world_section(section.data()).map_err(malformed)?;
        if has_package_cycle(&resolve) {
            return Err(malformed(
                "its packages depend on each other in a cycle".into(),
            ));
        }
    }
    Ok(())
}

/// Decodes a `component-type` section the way wit-component does: the current
/// format is a component; the historical one (first byte 3) is an encoding byte,
/// a world name and a WIT package.
fn decode_world_section(data: &[u8]) -> Result<wit_parser::Resolve, String> {
    if data.first() == Some(&0x03) {
        let mut reader = wasmparser::BinaryReader::new(data, 0);
        let header = (|| {
            reader.read_u8()?;
            reader.read_u8()?;
            reader.read_string()?;
            Ok::<_, wasmparser::BinaryReaderError>(reader.original_position())
        })()
        .map_err(|e| e.to_string())?;
        let rest = data.get(header..).unwrap_or_default();
        return match wit_parser::decoding::decode(rest).map_err(|e| format!("{e:#}"))? {
            wit_parser::decoding::DecodedWasm::WitPackage(resolve, _) => Ok(resolve),
            wit_parser::decoding::DecodedWasm::Component(resolve, _) => Ok(resolve),
        };
    }
    wit_parser::decoding::decode_world(data)
        .map(|(resolve, _)| resolve)
        .map_err(|e| format!("{e:#}"))
}

/// Whether the package dependency graph has a cycle (iterative DFS: no recursion
/// on hostile input).
fn has_package_cycle(resolve: &wit_parser::Resolve) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let ids: Vec<_> = resolve.packages.iter().map(|(id, _)| id).collect();
    let mut mark = vec![Mark::New; ids.len()];
    for &root in &ids {
        if mark[root.index()] != Mark::New {
            continue;
        }
        let mut stack = vec![(root, resolve.package_direct_deps(root).collect::<Vec<_>>())];
        mark[root.index()] = Mark::Open;
        while let Some((id, deps)) = stack.last_mut() {
            match deps.pop() {
                Some(dep) => match mark.get(dep.index()).copied() {
                    Some(Mark::Open) => return true,
                    Some(Mark::New) => {
                        mark[dep.index()] = Mark::Open;
                        let next = resolve.package_direct_deps(dep).collect();
                        stack.push((dep, next));
                    }
                    _ => {}
                },
                None => {
                    mark[id.index()] = Mark::Done;
                    stack.pop();
                }
            }
        }
    }
    false
}
