//! The LP backends the commands choose from by name (`--backend`).

use std::time::Duration;

use basis_aware::{backends, Backend};

/// The name `--backend` defaults to: the first backend compiled in.
pub fn default_name() -> &'static str {
    backends::AVAILABLE.first().copied().unwrap_or("none")
}

/// A fresh backend by name, each LP bounded by `lp_time_limit`; `none` decides nothing below
/// the threshold.
pub fn make(
    name: &str,
    lp_time_limit: Duration,
) -> Result<Option<Box<dyn Backend + Send>>, String> {
    match name {
        "none" => Ok(None),
        "simplex" => Ok(Some(Box::new(backends::SimplexBackend::with_time_limit(
            lp_time_limit,
        )))),
        #[cfg(feature = "highs")]
        "highs" => Ok(Some(Box::new(backends::HighsBackend::with_time_limit(
            lp_time_limit.as_secs_f64(),
        )))),
        other => Err(format!(
            "backend `{other}` is not in this build; available: {}",
            backends::AVAILABLE
                .iter()
                .chain(&["none"])
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// `--time-limit` and friends: a positive, finite number of seconds.
pub fn seconds(text: &str) -> Result<Duration, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(value.is_finite() && value > 0.0 && value < 1e9) {
        return Err(format!("`{text}` is not a positive number of seconds"));
    }
    Ok(Duration::from_secs_f64(value))
}
