//! Learning-rate schedules over (fractional) epochs.

use serde::{Deserialize, Serialize};

/// How the learning rate moves over training; `peak` is the recipe's learning rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// The same learning rate throughout.
    Constant,
    /// Linear from 0 up to the peak at `peak_epoch`, then linearly down to 0 at the end.
    Triangular {
        /// Epoch (may be fractional) at which the peak is reached.
        peak_epoch: f64,
    },
    /// Cosine decay from the peak to `final_fraction`·peak.
    Cosine {
        /// Share of the peak left at the end (0 decays to zero).
        final_fraction: f64,
    },
    /// Multiply by `gamma` after every epoch.
    Exponential {
        /// Factor per epoch.
        gamma: f64,
    },
}

impl Schedule {
    /// Learning rate after `progress` epochs (fractional) of `epochs`.
    ///
    /// Evaluated at the *end* of each step, so a triangular schedule's first step is not zero.
    pub fn lr(&self, peak: f64, progress: f64, epochs: usize) -> f64 {
        let total = epochs.max(1) as f64;
        let t = progress.clamp(0.0, total);
        match *self {
            Schedule::Constant => peak,
            Schedule::Triangular { peak_epoch } => {
                let p = peak_epoch.clamp(0.0, total);
                if t <= p && p > 0.0 {
                    peak * t / p
                } else if total > p {
                    peak * (total - t) / (total - p)
                } else {
                    peak
                }
            }
            Schedule::Cosine { final_fraction } => {
                let c = 0.5 * (1.0 + (std::f64::consts::PI * t / total).cos());
                peak * (final_fraction + (1.0 - final_fraction) * c)
            }
            Schedule::Exponential { gamma } => peak * gamma.powi(t.floor() as i32),
        }
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Schedule::Triangular { peak_epoch } if !(peak_epoch >= 0.0) => {
                Err("triangular peak_epoch must be ≥ 0".into())
            }
            Schedule::Cosine { final_fraction } if !(0.0..=1.0).contains(&final_fraction) => {
                Err("cosine final_fraction must be in [0, 1]".into())
            }
            Schedule::Exponential { gamma } if !(gamma > 0.0) => {
                Err("exponential gamma must be > 0".into())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triangular_rises_then_falls_to_zero() {
        let s = Schedule::Triangular { peak_epoch: 2.0 };
        assert_eq!(s.lr(0.4, 0.0, 10), 0.0);
        assert!((s.lr(0.4, 1.0, 10) - 0.2).abs() < 1e-12);
        assert!((s.lr(0.4, 2.0, 10) - 0.4).abs() < 1e-12);
        assert!((s.lr(0.4, 6.0, 10) - 0.2).abs() < 1e-12);
        assert_eq!(s.lr(0.4, 10.0, 10), 0.0);
    }

    #[test]
    fn cosine_and_exponential_hand_values() {
        let c = Schedule::Cosine {
            final_fraction: 0.01,
        };
        assert!((c.lr(1.0, 0.0, 4) - 1.0).abs() < 1e-12);
        assert!((c.lr(1.0, 2.0, 4) - 0.505).abs() < 1e-12);
        assert!((c.lr(1.0, 4.0, 4) - 0.01).abs() < 1e-12);
        let e = Schedule::Exponential { gamma: 0.95 };
        assert!((e.lr(1e-3, 2.5, 10) - 1e-3 * 0.9025).abs() < 1e-15);
        assert_eq!(Schedule::Constant.lr(0.3, 7.0, 10), 0.3);
    }
}
