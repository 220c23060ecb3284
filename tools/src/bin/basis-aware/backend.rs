//! The LP backends the commands choose from by name (`--backend`).

use std::sync::Arc;
use std::time::Duration;

use basis_aware::{backends, Basis, Bat, Rule};

/// The name `--backend` defaults to: the first backend compiled in.
pub fn default_name() -> &'static str {
    backends::AVAILABLE.first().copied().unwrap_or("none")
}

/// A [`Bat`] deciding with the backend named `name` (each LP bounded by `lp_time_limit`;
/// `none` decides nothing below the threshold) and, when `deadline` is given, every call bounded
/// by it.
pub fn bat(
    basis: Arc<Basis>,
    rule: Rule,
    name: &str,
    deadline: Option<Duration>,
    lp_time_limit: Duration,
) -> Result<Bat, String> {
    let bat = Bat::new(basis, rule);
    let bat = match name {
        "none" => bat.without_backend(),
        "simplex" => bat.with_backend(backends::SimplexBackend::with_time_limit(lp_time_limit)),
        #[cfg(feature = "highs")]
        "highs" => bat.with_backend(backends::HighsBackend::with_time_limit(
            lp_time_limit.as_secs_f64(),
        )),
        other => {
            return Err(format!(
                "backend `{other}` is not in this build; available: {}",
                backends::AVAILABLE
                    .iter()
                    .chain(&["none"])
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    };
    Ok(match deadline {
        Some(d) => bat.with_deadline(d),
        None => bat,
    })
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
