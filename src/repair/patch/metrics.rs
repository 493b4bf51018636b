//! The paper's Table 1 metrics on held-out data, computed on the real networks.

use crate::nn::ReluNet;
use crate::spec::Constraint;
use serde::Serialize;

/// How the patch changed behaviour on test inputs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestMetrics {
    pub samples: usize,
    /// Mean |patched(x) − original(x)| over test inputs and outputs.
    pub mae: f64,
    /// Test inputs the original network violates Ψ on.
    pub originally_violating: usize,
    /// Of those, how many the patched network satisfies Ψ on.
    pub repaired: usize,
    /// `repaired / originally_violating` (none when nothing violated).
    pub efficacy: Option<f64>,
    /// Test inputs the original network satisfies Ψ on.
    pub originally_safe: usize,
    /// Of those, how many the patched network violates Ψ on.
    pub introduced: usize,
    /// `introduced / originally_safe` (none when nothing was safe).
    pub introduced_bugs: Option<f64>,
}

/// Compares `patched` with `original` on `inputs` (both evaluated with `forward`).
pub fn test_metrics(
    original: &ReluNet,
    patched: &ReluNet,
    inputs: &[Vec<f64>],
    constraints: &[Constraint],
) -> TestMetrics {
    let violates = |x: &[f64], y: &[f64]| constraints.iter().any(|c| c.violated_by(x, y));
    let mut m = TestMetrics {
        samples: inputs.len(),
        mae: 0.0,
        originally_violating: 0,
        repaired: 0,
        efficacy: None,
        originally_safe: 0,
        introduced: 0,
        introduced_bugs: None,
    };
    let mut abs_sum = 0.0;
    let mut count = 0usize;
    for x in inputs {
        let (before, after) = (original.forward(x), patched.forward(x));
        abs_sum += before
            .iter()
            .zip(&after)
            .map(|(a, b)| (a - b).abs())
            .sum::<f64>();
        count += before.len();
        match (violates(x, &before), violates(x, &after)) {
            (true, false) => {
                m.originally_violating += 1;
                m.repaired += 1;
            }
            (true, true) => m.originally_violating += 1,
            (false, true) => {
                m.originally_safe += 1;
                m.introduced += 1;
            }
            (false, false) => m.originally_safe += 1,
        }
    }
    m.mae = if count == 0 {
        0.0
    } else {
        abs_sum / count as f64
    };
    let share = |a: usize, b: usize| (b > 0).then(|| a as f64 / b as f64);
    m.efficacy = share(m.repaired, m.originally_violating);
    m.introduced_bugs = share(m.introduced, m.originally_safe);
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::Layer;
    use crate::spec::InputSet;
    use crate::spec::constraint::parse_joint_inequality;
    use nalgebra::{DMatrix, DVector};

    fn scale(k: f64) -> ReluNet {
        ReluNet::new(vec![Layer {
            weights: DMatrix::from_row_slice(1, 1, &[k]),
            bias: DVector::from_column_slice(&[0.0]),
        }])
        .unwrap()
    }

    #[test]
    fn efficacy_and_introduced_bugs_count_the_right_populations() {
        // Ψ: y0 < 1. original y = x, patched y = 0.5 x.
        let c = Constraint {
            name: "below-one".into(),
            condition: InputSet {
                lower: vec![f64::NEG_INFINITY],
                upper: vec![f64::INFINITY],
                constraints: vec![],
            },
            unsafe_set: vec![vec![parse_joint_inequality("y0 >= 1", 1, 1).unwrap()]],
        };
        // x = 1.5: violating → repaired (0.75); x = 3: violating → still (1.5);
        // x = -1.5 and 0.5: safe → stay safe; x = -4: safe before, safe after.
        let inputs: Vec<Vec<f64>> = [1.5, 3.0, -1.5, 0.5, -4.0]
            .iter()
            .map(|&v| vec![v])
            .collect();
        let m = test_metrics(&scale(1.0), &scale(0.5), &inputs, std::slice::from_ref(&c));
        assert_eq!((m.originally_violating, m.repaired), (2, 1));
        assert_eq!(m.efficacy, Some(0.5));
        assert_eq!((m.originally_safe, m.introduced), (3, 0));
        assert_eq!(m.introduced_bugs, Some(0.0));
        assert!((m.mae - (0.75 + 1.5 + 0.75 + 0.25 + 2.0) / 5.0).abs() < 1e-12);
        // Patching the other way (y = 2x) breaks x = 0.5 (safe → 1.0 violates): 1 of 3 safe.
        let m = test_metrics(&scale(1.0), &scale(2.0), &inputs, &[c]);
        assert_eq!((m.originally_safe, m.introduced), (3, 1));
        assert_eq!(m.introduced_bugs, Some(1.0 / 3.0));
    }
}
