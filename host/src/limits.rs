//! Limits: fuel, memory, wall-clock time and the bytes that cross the boundary;
//! and how a trap becomes a typed [`Fault`].

use std::time::Duration;

use crate::error::Fault;

/// The resource limits of one plugin; every call and every `init` runs under them.
///
/// ```
/// use std::time::Duration;
/// use wasp_host::Limits;
/// let limits = Limits::default().timeout(Duration::from_millis(500)).fuel(1_000_000);
/// assert_eq!(limits.timeout_value(), Duration::from_millis(500));
/// assert_eq!(Limits::default().memory_value(), 64 << 20);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub(crate) fuel: u64,
    pub(crate) memory: u64,
    pub(crate) timeout: Duration,
    pub(crate) max_input: u64,
    pub(crate) max_output: u64,
    pub(crate) max_faults: u32,
}

impl Default for Limits {
    /// `fuel = 1_000_000_000`, `memory = "64MiB"`, `timeout = "2s"`,
    /// `max-input = max-output = "16MiB"`, `max-faults = 5`.
    fn default() -> Self {
        Limits {
            fuel: 1_000_000_000,
            memory: 64 << 20,
            timeout: Duration::from_secs(2),
            max_input: 16 << 20,
            max_output: 16 << 20,
            max_faults: 5,
        }
    }
}

impl Limits {
    /// Fuel per call (one unit is roughly one wasm instruction). Default 10⁹.
    ///
    /// ```
    /// assert_eq!(wasp_host::Limits::default().fuel(5).fuel_value(), 5);
    /// ```
    pub fn fuel(mut self, fuel: u64) -> Self {
        self.fuel = fuel;
        self
    }
    /// Linear memory plus tables per instance, in bytes. Default 64 MiB.
    ///
    /// ```
    /// assert_eq!(wasp_host::Limits::default().memory(1 << 20).memory_value(), 1 << 20);
    /// ```
    pub fn memory(mut self, bytes: u64) -> Self {
        self.memory = bytes;
        self
    }
    /// Wall-clock time per call. Default 2 s.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let l = wasp_host::Limits::default().timeout(Duration::from_secs(1));
    /// assert_eq!(l.timeout_value(), Duration::from_secs(1));
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
    /// Largest input a call accepts, in bytes. Default 16 MiB.
    ///
    /// ```
    /// assert_eq!(wasp_host::Limits::default().max_input(10).max_input_value(), 10);
    /// ```
    pub fn max_input(mut self, bytes: u64) -> Self {
        self.max_input = bytes;
        self
    }
    /// Largest output a call may return, in bytes. Default 16 MiB.
    ///
    /// ```
    /// assert_eq!(wasp_host::Limits::default().max_output(10).max_output_value(), 10);
    /// ```
    pub fn max_output(mut self, bytes: u64) -> Self {
        self.max_output = bytes;
        self
    }
    /// Consecutive faults before the plugin is quarantined. Default 5.
    ///
    /// ```
    /// assert_eq!(wasp_host::Limits::default().max_faults(1).max_faults_value(), 1);
    /// ```
    pub fn max_faults(mut self, n: u32) -> Self {
        self.max_faults = n;
        self
    }

    /// See [`Limits::fuel`].
    ///
    /// ```
    /// assert_eq!(wasp_host::Limits::default().fuel_value(), 1_000_000_000);
    /// ```
    pub fn fuel_value(&self) -> u64 {
        self.fuel
    }
    /// See [`Limits::memory`].
    ///
    /// ```
    /// assert_eq!(wasp_host::Limits::default().memory_value(), 64 << 20);
    /// ```
    pub fn memory_value(&self) -> u64 {
        self.memory
    }
    /// See [`Limits::timeout`].
    ///
    /// ```
    /// # use std::time::Duration;
    /// assert_eq!(wasp_host::Limits::default().timeout_value(), Duration::from_secs(2));
    /// ```
    pub fn timeout_value(&self) -> Duration {
        self.timeout
    }
    /// See [`Limits::max_input`].
    ///
    /// ```
    /// assert_eq!(wasp_host::Limits::default().max_input_value(), 16 << 20);
    /// ```
    pub fn max_input_value(&self) -> u64 {
        self.max_input
    }
    /// See [`Limits::max_output`].
    ///
    /// ```
    /// assert_eq!(wasp_host::Limits::default().max_output_value(), 16 << 20);
    /// ```
    pub fn max_output_value(&self) -> u64 {
        self.max_output
    }
    /// See [`Limits::max_faults`].
    ///
    /// ```
    /// assert_eq!(wasp_host::Limits::default().max_faults_value(), 5);
    /// ```
    pub fn max_faults_value(&self) -> u32 {
        self.max_faults
    }
}

/// Bounds the linear memory and tables of one instance, and remembers a refusal so
/// that the trap that follows (Rust's allocator aborts with `unreachable`) can be
/// reported as [`Fault::MemoryLimit`].
#[derive(Debug)]
pub(crate) struct Limiter {
    memory: u64,
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

/// What the store recorded while the call ran, used to classify a trap.
#[derive(Debug, Default)]
pub(crate) struct TrapContext {
    pub(crate) memory_refused: bool,
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
    if let Some(last) = &ctx.last_error
        && last.starts_with("panicked at ")
    {
        return Fault::Panic {
            message: last.clone(),
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
