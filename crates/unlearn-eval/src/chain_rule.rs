//! When a chain of deletion requests should give way to retraining (docs/algorithms.md §14),
//! decided from what an operator can measure without oracles: the chain's cost so far, how far
//! its models landed from the datamodels' prediction on everything forgotten, and what it did to
//! validation accuracy; and, before a request, whether its points hold each other up.

use crate::audit::Audit;
use serde::{Deserialize, Serialize};

/// Thresholds of the rule (defaults chosen on the digits and Fashion-MNIST sequences; see
/// docs/algorithms.md §14).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChainRule {
    /// Retrain once the chain has cost this many retrainings (a retraining would then have
    /// been cheaper than the chain).
    pub max_cost: f64,
    /// Retrain once the models' RMS distance from the prediction on the forgotten points
    /// exceeds this share of the change the prediction asked for.
    pub max_miss: f64,
    /// Retrain once validation accuracy has fallen this much below the trained originals'.
    pub max_accuracy_drop: f64,
    /// Flag a request whose points hold each other up this much ([`coupling`]): the datamodels
    /// under-predict the removal of such groups.
    pub max_coupling: f64,
}

impl Default for ChainRule {
    fn default() -> Self {
        Self {
            max_cost: 1.0,
            max_miss: 1.0,
            max_accuracy_drop: 0.02,
            max_coupling: 0.75,
        }
    }
}

/// The rule's verdict on one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainVerdict {
    /// Whether a retraining is due.
    pub retrain_due: bool,
    /// Why (each threshold crossed), or what was within tolerance.
    pub reasons: Vec<String>,
}

impl ChainVerdict {
    /// `within` or `retrain due (reasons)`.
    pub fn line(&self) -> String {
        if self.retrain_due {
            format!("retrain due ({})", self.reasons.join("; "))
        } else {
            "within".into()
        }
    }
}

impl ChainRule {
    /// The verdict after a step: `audit` of the chain's models against the trained originals
    /// on every point forgotten so far (with the datamodels' prediction when there is one), and
    /// the chain's cost so far.
    pub fn judge(&self, audit: &Audit, cumulative_cost: f64) -> ChainVerdict {
        let mut reasons = Vec::new();
        if cumulative_cost >= self.max_cost {
            reasons.push(format!(
                "cost {cumulative_cost:.2} ≥ {} retraining",
                self.max_cost
            ));
        }
        if let (Some(miss), Some(asked)) = (audit.forget_rms_error, audit.forget_rms_asked)
            && asked > 0.0
            && miss / asked > self.max_miss
        {
            reasons.push(format!(
                "missed the prediction by {:.2} of the asked change",
                miss / asked
            ));
        }
        let drop = audit.before.validation - audit.after.validation;
        if drop > self.max_accuracy_drop {
            reasons.push(format!(
                "validation accuracy {:.1} points lower",
                100.0 * drop
            ));
        }
        ChainVerdict {
            retrain_due: !reasons.is_empty(),
            reasons,
        }
    }

    /// Whether a request's points are coupled enough to flag (see [`coupling`]).
    pub fn coupled(&self, coupling: f64) -> bool {
        coupling > self.max_coupling
    }
}

/// How much a request's points hold each other up, from the datamodels `beta` (row-major
/// `n_train × points × classes`, row i the effect of training on point i): with M[i, j] the
/// effect of i on point j's margin (β on j's label minus its mean over the other classes), the
/// support the request's points give each other against the support each gives itself,
/// Σ_j Σ_{i≠j} M[i, j] / Σ_j M[j, j]. On digits: random sets 0.01–0.09, a class 0.53, the ends
/// of principal components 0.92–0.97, nearest neighbours 1.39 (docs/algorithms.md §14).
pub fn coupling(
    beta: &[f32],
    points: usize,
    classes: usize,
    labels: &[u32],
    request: &[usize],
) -> f64 {
    let per = points * classes;
    let margin_effect = |i: usize, j: usize| -> f64 {
        let row = &beta[i * per + j * classes..i * per + (j + 1) * classes];
        let y = labels[j] as usize;
        let others: f64 = row
            .iter()
            .enumerate()
            .filter(|&(c, _)| c != y)
            .map(|(_, &v)| f64::from(v))
            .sum();
        f64::from(row[y]) - others / (classes - 1).max(1) as f64
    };
    let (mut mutual, mut own) = (0.0, 0.0);
    for &j in request {
        for &i in request {
            if i == j {
                own += margin_effect(i, j);
            } else {
                mutual += margin_effect(i, j);
            }
        }
    }
    if own > 0.0 { mutual / own } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accuracy::SplitAccuracy;

    fn audit(before: f64, after: f64, miss: Option<(f64, f64)>) -> Audit {
        let acc = |v| SplitAccuracy {
            forget: v,
            retain: v,
            validation: v,
        };
        Audit {
            before: acc(before),
            after: acc(after),
            mia_before: 0.0,
            mia_after: 0.0,
            forget_margin: [0.0; 3],
            validation_margin: 0.0,
            forget_rms_error: miss.map(|m| m.0),
            forget_rms_asked: miss.map(|m| m.1),
        }
    }

    #[test]
    fn each_threshold_makes_a_retrain_due() {
        let rule = ChainRule::default();
        assert!(
            !rule
                .judge(&audit(0.9, 0.89, Some((0.5, 1.0))), 0.6)
                .retrain_due
        );
        let v = rule.judge(&audit(0.9, 0.89, None), 1.0);
        assert!(v.retrain_due && v.reasons[0].contains("cost"), "{v:?}");
        let v = rule.judge(&audit(0.9, 0.89, Some((1.5, 1.0))), 0.1);
        assert!(
            v.retrain_due && v.line().contains("1.50 of the asked change"),
            "{v:?}"
        );
        let v = rule.judge(&audit(0.9, 0.85, None), 0.1);
        assert!(v.retrain_due && v.line().contains("5.0 points"), "{v:?}");
    }

    #[test]
    fn coupling_is_the_support_points_give_each_other_over_their_own() {
        // 3 training points, evaluated on themselves, 2 classes, labels [0, 1, 0]. Margin
        // effects M[i, j] = β[i, j, y_j] − β[i, j, other]:
        //   M = [[2, 1, 0], [1, 2, 0], [0, 0, 2]].
        let labels = [0u32, 1, 0];
        let beta = [
            1.0f32, -1.0, -0.5, 0.5, 0.0, 0.0, // i = 0
            0.5, -0.5, -1.0, 1.0, 0.0, 0.0, // i = 1
            0.0, 0.0, 0.0, 0.0, 1.0, -1.0, // i = 2
        ];
        let c = |request: &[usize]| coupling(&beta, 3, 2, &labels, request);
        // {0, 1}: mutual 1 + 1 over own 2 + 2.
        assert!((c(&[0, 1]) - 0.5).abs() < 1e-12);
        // {0, 2}: nothing mutual.
        assert_eq!(c(&[0, 2]), 0.0);
        // All three: 2 / 6.
        assert!((c(&[0, 1, 2]) - 1.0 / 3.0).abs() < 1e-12);
        let rule = ChainRule::default();
        assert!(!rule.coupled(c(&[0, 1])));
        assert!(rule.coupled(0.9));
    }
}
