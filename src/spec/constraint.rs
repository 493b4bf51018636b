//! The safety constraints Ψ(x, y) a patch enforces.
//!
//! One shape covers the paper's three kinds: "if the input lies in `condition`, the pair
//! (x, y) must avoid `unsafe_set`", where the unsafe set is a union of polytopes over
//! (x, y) jointly.
//! - global output bound `y0 <= 10`: no condition, unsafe `[["y0 >= 10"]]`;
//! - input-output bound `|y0 − x39| <= 2`: unsafe `[["y0 - x39 >= 2"], ["x39 - y0 >= 2"]]`;
//! - conditional box: condition `x0 ∈ [-2, -0.5]`, unsafe `[["y0 >= 1", "y0 <= 3"]]`.
//!
//! Because x is data for every repair sample, a joint half-space is a half-space over y
//! with a sample-dependent right-hand side, so every kind stays linear in the model.

use crate::spec::linear::{LinearParseError, parse_inequality};
use crate::spec::{HalfSpace, InputSet, Property, UnsafeSet};

/// The half-space `x·input + y·output <= rhs` over an input-output pair.
#[derive(Debug, Clone, PartialEq)]
pub struct JointHalfSpace {
    pub input: Vec<f64>,
    pub output: Vec<f64>,
    pub rhs: f64,
}

impl JointHalfSpace {
    /// `rhs − x·input`: the right-hand side of the half-space over y for input `x`.
    pub fn output_rhs(&self, x: &[f64]) -> f64 {
        self.rhs - dot(&self.input, x)
    }

    /// `rhs − x·input − y·output`: how far inside the half-space `(x, y)` lies.
    pub fn slack(&self, x: &[f64], y: &[f64]) -> f64 {
        self.output_rhs(x) - dot(&self.output, y)
    }

    /// Whether `(x, y)` lies in the (closed) half-space.
    pub fn contains(&self, x: &[f64], y: &[f64]) -> bool {
        self.slack(x, y) >= 0.0
    }
}

/// "If x ∈ `condition`, then (x, y) ∉ `unsafe_set`" (a union of conjunctions).
#[derive(Debug, Clone, PartialEq)]
pub struct Constraint {
    pub name: String,
    /// Where the constraint applies (bounds may be infinite).
    pub condition: InputSet,
    pub unsafe_set: Vec<Vec<JointHalfSpace>>,
}

impl Constraint {
    /// Whether the constraint applies to `x`, counting points within `tol` of the
    /// condition as inside (verifier vertices lie on its boundary up to rounding).
    pub fn applies_to(&self, x: &[f64], tol: f64) -> bool {
        let c = &self.condition;
        x.iter()
            .zip(c.lower.iter().zip(&c.upper))
            .all(|(v, (lo, hi))| lo - tol <= *v && *v <= hi + tol)
            && c.constraints.iter().all(|h| h.slack(x) >= -tol)
    }

    /// True when `(x, y)` violates the constraint (exact semantics, no tolerance).
    pub fn violated_by(&self, x: &[f64], y: &[f64]) -> bool {
        self.applies_to(x, 0.0)
            && self
                .unsafe_set
                .iter()
                .any(|conj| conj.iter().all(|h| h.contains(x, y)))
    }

    /// The constraint of a verifier property (its unsafe set is over outputs only).
    pub fn from_property(property: &Property) -> Self {
        let inputs = property.input.dim();
        Self {
            name: property.name.clone(),
            condition: property.input.clone(),
            unsafe_set: property
                .unsafe_set
                .disjuncts
                .iter()
                .map(|conj| {
                    conj.iter()
                        .map(|h| JointHalfSpace {
                            input: vec![0.0; inputs],
                            output: h.coeffs.clone(),
                            rhs: h.rhs,
                        })
                        .collect()
                })
                .collect(),
        }
    }

    /// The constraint as a property the exact verifier can check, or why it cannot be one:
    /// the verifier needs a bounded input box and an unsafe set over the outputs only.
    pub fn to_property(&self) -> Result<Property, String> {
        let c = &self.condition;
        if c.lower.iter().chain(&c.upper).any(|v| !v.is_finite()) {
            return Err("its input condition is not a bounded box".to_string());
        }
        let mentions_input = self
            .unsafe_set
            .iter()
            .flatten()
            .any(|h| h.input.iter().any(|&a| a != 0.0));
        if mentions_input {
            return Err("its unsafe set depends on the input".to_string());
        }
        Ok(Property {
            name: self.name.clone(),
            input: c.clone(),
            unsafe_set: UnsafeSet {
                disjuncts: self
                    .unsafe_set
                    .iter()
                    .map(|conj| {
                        conj.iter()
                            .map(|h| HalfSpace {
                                coeffs: h.output.clone(),
                                rhs: h.rhs,
                            })
                            .collect()
                    })
                    .collect(),
            },
        })
    }
}

/// Parses an inequality over inputs `x0 … x{inputs-1}` and outputs `y0 … y{outputs-1}`,
/// e.g. `"y0 - x39 >= 2"`.
pub fn parse_joint_inequality(
    text: &str,
    inputs: usize,
    outputs: usize,
) -> Result<JointHalfSpace, LinearParseError> {
    // Rename x<i> to v<i> and y<j> to v<inputs + j>, then read one vector v = (x, y).
    let fail = |message: String| LinearParseError {
        text: text.to_string(),
        message,
    };
    let mut renamed = String::with_capacity(text.len() + 8);
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let after_number = i > 0 && (chars[i - 1].is_ascii_digit() || chars[i - 1] == '.');
        let is_exponent = after_number && (c == 'e' || c == 'E');
        let starts_name = c.is_ascii_alphabetic()
            && !is_exponent
            && (i == 0 || !chars[i - 1].is_ascii_alphabetic());
        if starts_name {
            let end = (i + 1..chars.len())
                .find(|&k| !chars[k].is_ascii_alphanumeric())
                .unwrap_or(chars.len());
            let name: String = chars[i..end].iter().collect();
            let index = name[1..].parse::<usize>().ok();
            let shifted = match (c, index) {
                ('x', Some(k)) if k < inputs => k,
                ('y', Some(k)) if k < outputs => inputs + k,
                ('x', Some(_)) | ('y', Some(_)) => {
                    return Err(fail(format!(
                        "variable '{name}' is out of range: there are {inputs} inputs (x0 …) and {outputs} outputs (y0 …)"
                    )));
                }
                _ => {
                    return Err(fail(format!(
                        "unknown variable '{name}': expected x0 … x{} or y0 … y{}",
                        inputs.saturating_sub(1),
                        outputs.saturating_sub(1)
                    )));
                }
            };
            renamed.push_str(&format!("v{shifted}"));
            i = end;
        } else {
            renamed.push(c);
            i += 1;
        }
    }
    let joint = parse_inequality(&renamed, 'v', inputs + outputs).map_err(|e| fail(e.message))?;
    Ok(JointHalfSpace {
        input: joint.coeffs[..inputs].to_vec(),
        output: joint.coeffs[inputs..].to_vec(),
        rhs: joint.rhs,
    })
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(p, q)| p * q).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_inputs_and_outputs_together() {
        let h = parse_joint_inequality("y0 - x2 >= 1.5e0", 3, 1).unwrap();
        assert_eq!(h.input, vec![0.0, 0.0, 1.0]);
        assert_eq!(h.output, vec![-1.0]);
        assert_eq!(h.rhs, -1.5);
        assert!(h.contains(&[0.0, 0.0, 1.0], &[3.0]));
        assert!(!h.contains(&[0.0, 0.0, 1.0], &[2.0]));
        let msg = |t: &str| parse_joint_inequality(t, 3, 1).unwrap_err().message;
        assert!(msg("y1 <= 2").contains("out of range"));
        assert!(msg("z0 <= 2").contains("unknown variable"));
        assert!(msg("y0 2").contains("comparison"));
    }

    #[test]
    fn conditional_box_semantics() {
        let c = Constraint {
            name: "box".into(),
            condition: InputSet {
                lower: vec![-2.0],
                upper: vec![-0.5],
                constraints: vec![],
            },
            unsafe_set: vec![vec![
                parse_joint_inequality("y0 >= 1", 1, 1).unwrap(),
                parse_joint_inequality("y0 <= 3", 1, 1).unwrap(),
            ]],
        };
        assert!(c.violated_by(&[-1.0], &[2.0]));
        assert!(!c.violated_by(&[-1.0], &[3.5]));
        assert!(!c.violated_by(&[0.0], &[2.0]), "outside the condition");
        let p = c.to_property().unwrap();
        assert!(p.violated_by(&[-1.0], &[2.0]));
    }
}
