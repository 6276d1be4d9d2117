//! Enforcing limits: the memory limiter, and how a trap becomes a typed
//! [`Fault`]. (The limits themselves are plain data: [`crate::Limits`].)

use crate::error::Fault;
use crate::spec::limits::Limits;

/// Bounds the linear memory and tables of one instance, and remembers a refusal so
/// that the trap that follows (Rust's allocator aborts with `unreachable`) can be
/// reported as [`Fault::MemoryLimit`].
#[derive(Debug)]
pub(crate) struct Limiter {
    /// The current ceiling in bytes (the plugin's limit, or a call's override).
    pub(crate) memory: u64,
    /// Set when a growth was refused.
    pub(crate) refused: bool,
}

/// At most this many table elements per table: enough for any real plugin's
/// indirect-call table, small enough that tables cannot be a memory bomb.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl Limiter {
    pub(crate) fn new(memory: u64) -> Self {
        Limiter {
            memory,
            refused: false,
        }
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = desired as u64 <= self.memory;
        if !ok {
            self.refused = true;
        }
        Ok(ok)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = desired <= MAX_TABLE_ELEMENTS;
        if !ok {
            self.refused = true;
        }
        Ok(ok)
    }

    // The component of a plugin plus the WASI adapter hold a handful of each; a
    // plugin cannot create more at run time, these only bound what a crafted
    // component may declare.
    fn instances(&self) -> usize {
        64
    }
    fn tables(&self) -> usize {
        64
    }
    fn memories(&self) -> usize {
        16
    }
}

/// A panic as the plugin reported it, as data (log fields `wasp.panic` and
/// `wasp.panic.location`), before it trapped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PanicRecord {
    pub(crate) message: String,
    pub(crate) location: Option<String>,
}

/// What the store recorded while the call ran, used to classify a trap.
#[derive(Debug, Default)]
pub(crate) struct TrapContext {
    pub(crate) memory_refused: bool,
    pub(crate) panic: Option<PanicRecord>,
    pub(crate) last_error: Option<String>,
}

/// Turns wasmtime's error from a call into a [`Fault`].
pub(crate) fn classify(err: &wasmtime::Error, limits: &Limits, ctx: TrapContext) -> Fault {
    if let Some(exit) = err.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return Fault::Exit { code: exit.0 };
    }
    let trap = err.downcast_ref::<wasmtime::Trap>().copied();
    match trap {
        Some(wasmtime::Trap::OutOfFuel) => return Fault::FuelExhausted { fuel: limits.fuel },
        Some(wasmtime::Trap::Interrupt) => {
            return Fault::Timeout {
                limit: limits.timeout,
            };
        }
        Some(wasmtime::Trap::StackOverflow) => return Fault::StackOverflow,
        _ => {}
    }
    if ctx.memory_refused {
        return Fault::MemoryLimit {
            limit: limits.memory,
        };
    }
    if let Some(p) = ctx.panic {
        return Fault::Panic {
            message: p.message,
            location: p.location,
        };
    }
    let message = match trap {
        Some(t) => t.to_string(),
        None => format!("{err:#}"),
    };
    Fault::Trap {
        message,
        last_error: ctx.last_error,
    }
}
