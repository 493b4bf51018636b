//! The input set in the coordinates the analysis works in.
//!
//! Properties often pin inputs to a single value (ACAS Xu property 4 fixes the heading,
//! the rocket properties fix both leg contacts). A vertex representation of a box has
//! `2^d` corners, and a zero-width side would make every polytope flat, so fixed inputs are
//! folded into the first layer's bias and the analysis runs over the free coordinates
//! `z` only; [`Domain::embed`] maps results back to full inputs.

use nalgebra::{DMatrix, DVector};

use super::ReachError;
use super::polytope::{Polytope, Split};
use crate::nn::ReluNet;
use crate::spec::{HalfSpace, InputSet};

/// Most free input coordinates: the initial box has `2^d` vertices.
pub const MAX_FREE_INPUTS: usize = 16;

/// Free and fixed inputs of a property's input set.
#[derive(Debug, Clone)]
pub struct Domain {
    /// Indices of the inputs with a range of positive width, in order.
    pub free: Vec<usize>,
    /// The full input vector with every fixed input at its value (free entries are 0).
    pub base: Vec<f64>,
}

impl Domain {
    /// Splits `input` into free and fixed coordinates.
    pub fn new(input: &InputSet) -> Result<Self, ReachError> {
        let mut free = Vec::new();
        let mut base = vec![0.0; input.dim()];
        for (i, (&lo, &hi)) in input.lower.iter().zip(&input.upper).enumerate() {
            if !lo.is_finite() || !hi.is_finite() {
                return Err(ReachError::Unbounded { input: i });
            }
            if lo < hi {
                free.push(i);
            } else {
                base[i] = lo;
            }
        }
        if free.len() > MAX_FREE_INPUTS {
            return Err(ReachError::TooManyInputs {
                free: free.len(),
                max: MAX_FREE_INPUTS,
            });
        }
        Ok(Self { free, base })
    }

    /// The full input for free coordinates `z`.
    pub fn embed(&self, z: &[f64]) -> Vec<f64> {
        let mut x = self.base.clone();
        for (&i, &v) in self.free.iter().zip(z) {
            x[i] = v;
        }
        x
    }

    /// A half-space over free coordinates as one over full inputs (zero on fixed ones).
    pub fn embed_half_space(&self, normal: &[f64], rhs: f64) -> HalfSpace {
        let mut coeffs = vec![0.0; self.base.len()];
        for (&i, &a) in self.free.iter().zip(normal) {
            coeffs[i] = a;
        }
        HalfSpace { coeffs, rhs }
    }

    /// The equalities pinning the fixed inputs, as pairs of half-spaces.
    pub fn fixed_half_spaces(&self) -> Vec<HalfSpace> {
        let n = self.base.len();
        (0..n)
            .filter(|i| !self.free.contains(i))
            .flat_map(|i| {
                let mut up = vec![0.0; n];
                up[i] = 1.0;
                let down = up.iter().map(|a| -a).collect();
                [
                    HalfSpace {
                        coeffs: up,
                        rhs: self.base[i],
                    },
                    HalfSpace {
                        coeffs: down,
                        rhs: -self.base[i],
                    },
                ]
            })
            .collect()
    }

    /// The initial polytope over free coordinates: the box cut by the extra constraints;
    /// `None` if the set is empty.
    ///
    /// A set that the constraints flatten (e.g. `a·x <= c` and `a·x >= c`) is rejected:
    /// calling it empty would call the property safe without looking.
    pub fn polytope(&self, input: &InputSet) -> Result<Option<Polytope>, ReachError> {
        if input.lower.iter().zip(&input.upper).any(|(lo, hi)| lo > hi) {
            return Ok(None);
        }
        let lower: Vec<f64> = self.free.iter().map(|&i| input.lower[i]).collect();
        let upper: Vec<f64> = self.free.iter().map(|&i| input.upper[i]).collect();
        let mut poly = Polytope::from_box(&lower, &upper);
        for (index, h) in input.constraints.iter().enumerate() {
            let normal: Vec<f64> = self.free.iter().map(|&i| h.coeffs[i]).collect();
            // a·x <= rhs  ⇔  a_free·z + (a·base − rhs) <= 0
            let offset = h
                .coeffs
                .iter()
                .zip(&self.base)
                .map(|(a, x)| a * x)
                .sum::<f64>()
                - h.rhs;
            poly = match poly.split(&normal, offset) {
                Split::NonPositive => poly,
                Split::Both { neg, .. } => *neg,
                Split::NonNegative => {
                    let scale = 1.0 + offset.abs() + normal.iter().map(|a| a.abs()).sum::<f64>();
                    let closest = (0..poly.num_vertices())
                        .map(|v| {
                            offset
                                + normal
                                    .iter()
                                    .zip(poly.vertex(v))
                                    .map(|(a, z)| a * z)
                                    .sum::<f64>()
                        })
                        .fold(f64::INFINITY, f64::min);
                    if closest > 1e-9 * scale {
                        return Ok(None);
                    }
                    return Err(ReachError::FlatInput { constraint: index });
                }
            };
        }
        Ok(Some(poly))
    }

    /// The first layer as an affine map of `z`, transposed: `free × outputs` (column `j` is
    /// neuron `j`'s normal) and the bias with the fixed inputs folded in.
    pub fn first_map(&self, net: &ReluNet) -> (DMatrix<f64>, DVector<f64>) {
        let layer = &net.layers()[0];
        let base = DVector::from_column_slice(&self.base);
        let bias = &layer.weights * base + &layer.bias;
        let mt = DMatrix::from_fn(self.free.len(), layer.outputs(), |k, j| {
            layer.weights[(j, self.free[k])]
        });
        (mt, bias)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::Layer;

    #[test]
    fn fixed_inputs_fold_into_the_bias() {
        let input = InputSet {
            lower: vec![0.0, 2.0, -1.0],
            upper: vec![1.0, 2.0, 1.0],
            constraints: vec![],
        };
        let domain = Domain::new(&input).unwrap();
        assert_eq!(domain.free, vec![0, 2]);
        assert_eq!(domain.embed(&[0.5, -0.5]), vec![0.5, 2.0, -0.5]);
        let net = ReluNet::new(vec![Layer {
            weights: DMatrix::from_row_slice(1, 3, &[1.0, 10.0, 100.0]),
            bias: DVector::from_column_slice(&[1.0]),
        }])
        .unwrap();
        let (mt, b) = domain.first_map(&net);
        assert_eq!(mt.as_slice(), &[1.0, 100.0]);
        assert_eq!(b[0], 21.0);
        assert_eq!(domain.fixed_half_spaces().len(), 2);
    }

    #[test]
    fn constraints_cut_the_box() {
        let input = InputSet {
            lower: vec![0.0, 0.0],
            upper: vec![1.0, 1.0],
            constraints: vec![HalfSpace {
                coeffs: vec![1.0, 1.0],
                rhs: 1.0,
            }],
        };
        let domain = Domain::new(&input).unwrap();
        assert_eq!(domain.polytope(&input).unwrap().unwrap().num_vertices(), 3);
        let empty = InputSet {
            constraints: vec![HalfSpace {
                coeffs: vec![1.0, 1.0],
                rhs: -1.0,
            }],
            ..input
        };
        assert!(domain.polytope(&empty).unwrap().is_none());
        let flat = InputSet {
            constraints: vec![
                HalfSpace {
                    coeffs: vec![1.0, 1.0],
                    rhs: 1.0,
                },
                HalfSpace {
                    coeffs: vec![-1.0, -1.0],
                    rhs: -1.0,
                },
            ],
            ..empty
        };
        assert!(matches!(
            domain.polytope(&flat),
            Err(ReachError::FlatInput { constraint: 1 })
        ));
    }
}
