//! Empty: the measurement lives in `benches/factorisation.rs`.
