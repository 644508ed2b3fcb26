//! A loaded transform module, and the checks a file passes before it is one:
//! it is a Wasm component (not a core module, not garbage), it exports
//! `ingot:transform/transform@0.1.0`, and it imports nothing the sandbox
//! does not provide.

use std::fmt;
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

use super::error::NotComponentKind;
use super::host::{HostState, StagePre};
use super::{TRANSFORM_EXPORT, wasi};

/// Where a module's compiled code came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadOrigin {
    /// Compiled from the component's bytes by this load.
    Compiled,
    /// Deserialized from the runtime's on-disk cache.
    DiskCache,
    /// Already loaded by this runtime (same digest).
    MemoryCache,
}

/// A compiled, pre-instantiated transform module, identified by the sha256
/// digest of its bytes. Cheap to instantiate many times.
pub struct Module {
    pub(super) digest: String,
    pub(super) path: PathBuf,
    pub(super) origin: LoadOrigin,
    pub(super) pre: StagePre<HostState>,
}

impl Module {
    /// The sha256 digest of the component's bytes, lowercase hex.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The file the module was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the compiled code came from.
    pub fn origin(&self) -> LoadOrigin {
        self.origin
    }

    /// The engine the module was compiled for.
    pub(super) fn engine(&self) -> &Engine {
        self.pre.engine()
    }
}

impl fmt::Debug for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Module")
            .field("digest", &self.digest)
            .field("path", &self.path)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// Tells a component from a core module or from something that is not Wasm,
/// by the preamble: `\0asm`, then version 1 for a core module or version
/// 0x0d layer 1 for a component.
pub(super) fn sniff(bytes: &[u8]) -> Result<(), NotComponentKind> {
    const COMPONENT: [u8; 4] = [0x0d, 0x00, 0x01, 0x00];
    const CORE: [u8; 4] = [0x01, 0x00, 0x00, 0x00];
    match (bytes.get(..4), bytes.get(4..8)) {
        (Some(b"\0asm"), Some(version)) if version == COMPONENT => Ok(()),
        (Some(b"\0asm"), Some(version)) if version == CORE => Err(NotComponentKind::CoreModule),
        (Some(b"\0asm"), _) => Err(NotComponentKind::UnknownWasm),
        _ => Err(NotComponentKind::NotWasm),
    }
}

/// The interfaces of our own package a transform may import.
const PROVIDED_INGOT: &[&str] = &["ingot:transform/host", "ingot:transform/types"];

/// Checks that `component` imports only what the sandbox provides and
/// exports the transform interface. Returns the problem, naming the export or the
/// import, for [`super::RuntimeError::WrongWorld`].
pub(super) fn check_world(engine: &Engine, component: &Component) -> Result<(), String> {
    let ty = component.component_type();
    for (name, _) in ty.imports(engine) {
        let unversioned = name.split_once('@').map_or(name, |(base, _)| base);
        let provided =
            PROVIDED_INGOT.contains(&unversioned) || wasi::PROVIDED_WASI.contains(&unversioned);
        if !provided {
            return Err(format!(
                "it imports `{name}`, which the sandbox does not provide (guests get \
                 `ingot:transform/host` and the locked-down WASI 0.2 `cli`, `io`, `random`, \
                 `clocks`, `filesystem` and `sockets`)"
            ));
        }
    }
    if ty.get_export(engine, TRANSFORM_EXPORT).is_none() {
        let found: Vec<&str> = ty.exports(engine).map(|(name, _)| name).collect();
        return Err(format!(
            "it does not export `{TRANSFORM_EXPORT}` (it exports: {})",
            list_or_nothing(&found)
        ));
    }
    Ok(())
}

fn list_or_nothing(names: &[&str]) -> String {
    if names.is_empty() {
        "nothing".to_owned()
    } else {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniff_tells_components_core_modules_and_garbage_apart() {
        assert_eq!(sniff(b"\0asm\x0d\0\x01\0rest"), Ok(()));
        assert_eq!(sniff(b"\0asm\x01\0\0\0"), Err(NotComponentKind::CoreModule));
        assert_eq!(
            sniff(b"\0asm\x02\0\0\0"),
            Err(NotComponentKind::UnknownWasm)
        );
        assert_eq!(sniff(b"\0asm"), Err(NotComponentKind::UnknownWasm));
        assert_eq!(sniff(b"hello, world\n"), Err(NotComponentKind::NotWasm));
        assert_eq!(sniff(b""), Err(NotComponentKind::NotWasm));
    }
}
