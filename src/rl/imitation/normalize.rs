//! Z-scoring, and folding it into a network so the network reads and writes raw units.
//!
//! Training wants inputs and targets of unit scale; verification and repair want the
//! network in the units its properties are written in (degrees). The standardization is
//! affine, so it composes exactly with the first and last layers.

use nalgebra::DVector;

use crate::nn::{Layer, ReluNet};

/// Per-column mean and standard deviation of a set of rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer {
    pub mean: Vec<f64>,
    /// Standard deviations; a constant column gets 1 so it maps to 0 instead of NaN.
    pub std: Vec<f64>,
}

impl Standardizer {
    /// Statistics of `rows` (all of the same length, at least one).
    pub fn fit(rows: &[Vec<f64>]) -> Self {
        let n = rows.len() as f64;
        let dim = rows.first().map_or(0, Vec::len);
        let mean: Vec<f64> = (0..dim)
            .map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / n)
            .collect();
        let std = (0..dim)
            .map(|j| {
                let var = rows.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / n;
                if var > 0.0 { var.sqrt() } else { 1.0 }
            })
            .collect();
        Self { mean, std }
    }

    /// `(x − mean) / std`, column by column.
    pub fn apply(&self, x: &[f64]) -> Vec<f64> {
        x.iter()
            .zip(self.mean.iter().zip(&self.std))
            .map(|(v, (m, s))| (v - m) / s)
            .collect()
    }
}

/// The network `x ↦ out.mean + out.std ⊙ net((x − inp.mean) / inp.std)`, exactly (up to
/// rounding): the input scaling goes into the first layer, the output scaling into the last.
pub fn fold(net: &ReluNet, inp: &Standardizer, out: &Standardizer) -> ReluNet {
    let mut layers = net.layers().to_vec();
    let first = &mut layers[0];
    let shift = DVector::from_iterator(
        inp.mean.len(),
        inp.mean.iter().zip(&inp.std).map(|(m, s)| m / s),
    );
    first.bias -= &first.weights * shift;
    for (mut column, s) in first.weights.column_iter_mut().zip(&inp.std) {
        column /= *s;
    }
    let last: &mut Layer = layers.last_mut().expect("a ReluNet has a layer");
    for (i, (m, s)) in out.mean.iter().zip(&out.std).enumerate() {
        let mut row = last.weights.row_mut(i);
        row *= *s;
        last.bias[i] = last.bias[i] * s + m;
    }
    ReluNet::new(layers).expect("folding keeps the shapes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::random_net;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn folded_network_on_raw_inputs_equals_network_on_standardized_inputs() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for sizes in [vec![4, 6, 5, 2], vec![4, 2]] {
            let net = random_net(&mut rng, &sizes);
            let rows: Vec<Vec<f64>> = (0..50)
                .map(|_| {
                    (0..4)
                        .map(|j| rng.random_range(-30.0..30.0) * (j + 1) as f64)
                        .collect()
                })
                .collect();
            let inp = Standardizer::fit(&rows);
            let out = Standardizer {
                mean: vec![5.0, -2.0][..sizes[sizes.len() - 1]].to_vec(),
                std: vec![7.3, 0.5][..sizes[sizes.len() - 1]].to_vec(),
            };
            let folded = fold(&net, &inp, &out);
            for x in &rows {
                let expected: Vec<f64> = net
                    .forward(&inp.apply(x))
                    .iter()
                    .zip(out.mean.iter().zip(&out.std))
                    .map(|(y, (m, s))| m + s * y)
                    .collect();
                for (a, b) in folded.forward(x).iter().zip(&expected) {
                    assert!((a - b).abs() < 1e-9 * (1.0 + b.abs()), "{a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn constant_columns_do_not_divide_by_zero() {
        let s = Standardizer::fit(&[vec![1.0, 3.0], vec![1.0, 5.0]]);
        assert_eq!(s.std, vec![1.0, 1.0]);
        assert_eq!(s.apply(&[1.0, 5.0]), vec![0.0, 1.0]);
    }
}
