//! Baselines for Phial's benchmarks. `bare-axum` serves the same
//! `/plaintext` and `/json` handlers as `examples/hello` with nothing else,
//! so `scripts/bench-hello.sh` can print Phial's cost as a ratio.
