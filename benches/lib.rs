//! Criterion benchmarks of wasp live in `benches/`; run them with `make bench`.
