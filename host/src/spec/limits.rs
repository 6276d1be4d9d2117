//! The resource limits of one plugin.

use std::time::Duration;

/// The resource limits of one plugin; every call, and `init`, runs under them.
///
/// Read a limit from its public field; set one with the method of the same name,
/// which chains:
///
/// ```
/// use std::time::Duration;
/// use wasp_host::Limits;
/// let limits = Limits::default().timeout(Duration::from_millis(500)).fuel(1_000_000);
/// assert_eq!(limits.timeout, Duration::from_millis(500));
/// assert_eq!(limits.fuel, 1_000_000);
/// assert_eq!(Limits::default().memory, 64 << 20);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Fuel per call (one unit is roughly one wasm instruction). Default 10⁹.
    pub fuel: u64,
    /// Linear memory plus tables per instance, in bytes. Default 64 MiB.
    pub memory: u64,
    /// Wall-clock time per call (and per `init`). Default 2 s.
    pub timeout: Duration,
    /// Largest input a call accepts, in bytes. Default 16 MiB.
    pub max_input: u64,
    /// Largest output a call may return, in bytes. Default 16 MiB.
    pub max_output: u64,
    /// Consecutive faults before the plugin is quarantined. Default 5.
    pub max_faults: u32,
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
    /// Sets [`Limits::fuel`].
    ///
    /// ```
    /// assert_eq!(wasp_host::Limits::default().fuel(5).fuel, 5);
    /// ```
    pub fn fuel(mut self, fuel: u64) -> Self {
        self.fuel = fuel;
        self
    }
    /// Sets [`Limits::memory`].
    ///
    /// ```
    /// assert_eq!(wasp_host::Limits::default().memory(1 << 20).memory, 1 << 20);
    /// ```
    pub fn memory(mut self, bytes: u64) -> Self {
        self.memory = bytes;
        self
    }
    /// Sets [`Limits::timeout`].
    ///
    /// ```
    /// # use std::time::Duration;
    /// let l = wasp_host::Limits::default().timeout(Duration::from_secs(1));
    /// assert_eq!(l.timeout, Duration::from_secs(1));
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
    /// Sets [`Limits::max_input`].
    ///
    /// ```
    /// assert_eq!(wasp_host::Limits::default().max_input(10).max_input, 10);
    /// ```
    pub fn max_input(mut self, bytes: u64) -> Self {
        self.max_input = bytes;
        self
    }
    /// Sets [`Limits::max_output`].
    ///
    /// ```
    /// assert_eq!(wasp_host::Limits::default().max_output(10).max_output, 10);
    /// ```
    pub fn max_output(mut self, bytes: u64) -> Self {
        self.max_output = bytes;
        self
    }
    /// Sets [`Limits::max_faults`].
    ///
    /// ```
    /// assert_eq!(wasp_host::Limits::default().max_faults(1).max_faults, 1);
    /// ```
    pub fn max_faults(mut self, n: u32) -> Self {
        self.max_faults = n;
        self
    }
}
