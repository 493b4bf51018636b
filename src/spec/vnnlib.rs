//! Reading VNNLIB property files (the VNN-COMP subset of SMT-LIB) into [`Property`]s.
//!
//! The verification community states its benchmarks (ACAS Xu, the rocket-lander actors) in
//! VNNLIB, so saferl reads them directly. A file describes the *violation*: the property
//! fails iff some input satisfies the `X_i` constraints while the network output satisfies
//! the `Y_j` constraints. Supported:
//!
//! - `(declare-const X_i Real)` and `(declare-const Y_j Real)`, indices contiguous from 0;
//! - `(assert F)` where `F` is `(<= s t)`, `(>= s t)` (also `<`, `>`, read as non-strict,
//!   which over-approximates the violation and so errs on the safe side), `(and F ...)`,
//!   `(or F ...)`;
//! - linear terms: numbers, variables, `(+ t ...)`, `(- t)`, `(- t u ...)`, `(* c t)` with
//!   at least all but one factor constant, `(/ t c)`.
//!
//! All assertions are conjoined and brought into disjunctive normal form. Each disjunct
//! must split into an input part and an output part (constraints that mix `X` and `Y` are
//! rejected). Disjuncts with the same input part are grouped into one [`Property`] whose
//! unsafe set lists their output parts, so an input disjunction (ACAS Xu property 6, or
//! the VNN-COMP style `(or (and X... Y...) ...)`) gives one property per input region.
//! Every error names the file and the line, and says what was expected.

use std::collections::BTreeMap;
use std::path::Path;

mod sexpr;

use self::sexpr::{Sexpr, SexprKind};
use super::{HalfSpace, InputSet, Property, UnsafeSet};

/// Most disjuncts a file may expand to: bounds the work of the normal-form expansion.
const MAX_DISJUNCTS: usize = 100_000;

/// Why a VNNLIB file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum VnnlibError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// `line` is 1-based; `message` says what was expected and what was found.
    #[error("{file} line {line}: {message}")]
    Parse {
        file: String,
        line: usize,
        message: String,
    },
}

/// Reads a VNNLIB file; properties are named after the file stem.
pub fn read_vnnlib(path: &Path) -> Result<Vec<Property>, VnnlibError> {
    let text = std::fs::read_to_string(path).map_err(|source| VnnlibError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    parse_vnnlib(&text, &path.display().to_string(), &name)
}

/// Parses VNNLIB text. `origin` names the file in errors; `name` names the properties
/// (with a `[k]` suffix when the file has several input regions).
///
/// An empty result means the violation condition is unsatisfiable (e.g. `(or)`): there is
/// nothing to verify.
pub fn parse_vnnlib(text: &str, origin: &str, name: &str) -> Result<Vec<Property>, VnnlibError> {
    let fail = |line: usize, message: String| VnnlibError::Parse {
        file: origin.to_string(),
        line,
        message,
    };
    let tree = sexpr::parse(text).map_err(|e| fail(e.line, e.message))?;
    let mut reader = Reader::default();
    for node in &tree {
        reader.command(node).map_err(|e| fail(e.line, e.message))?;
    }
    reader
        .into_properties(name)
        .map_err(|e| fail(e.line, e.message))
}

/// An error before the file name is attached.
struct Located {
    line: usize,
    message: String,
}

fn at(node: &Sexpr, message: impl Into<String>) -> Located {
    Located {
        line: node.line,
        message: message.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Side {
    Input,
    Output,
}

type Var = (Side, usize);

/// `Σ coeffs[v]·v + constant`.
#[derive(Debug, Clone, Default)]
struct Linear {
    coeffs: BTreeMap<Var, f64>,
    constant: f64,
}

impl Linear {
    fn constant(value: f64) -> Self {
        Self {
            coeffs: BTreeMap::new(),
            constant: value,
        }
    }

    fn scaled(mut self, factor: f64) -> Self {
        self.constant *= factor;
        self.coeffs.values_mut().for_each(|c| *c *= factor);
        self
    }

    fn add(mut self, other: &Linear, sign: f64) -> Self {
        self.constant += sign * other.constant;
        for (var, c) in &other.coeffs {
            *self.coeffs.entry(*var).or_insert(0.0) += sign * c;
        }
        self
    }

    fn as_constant(&self) -> Option<f64> {
        self.coeffs
            .values()
            .all(|c| *c == 0.0)
            .then_some(self.constant)
    }
}

/// The atom `expr <= 0`, with the line it came from.
#[derive(Debug, Clone)]
struct Atom {
    expr: Linear,
    line: usize,
}

/// A formula in disjunctive normal form: a list of conjunctions of atoms.
type Dnf = Vec<Vec<Atom>>;

#[derive(Default)]
struct Reader {
    declared: BTreeMap<String, Var>,
    /// Line of each variable's declaration.
    declared_at: BTreeMap<Var, usize>,
    /// Conjunction of all assertions so far, in DNF (starts as `true`).
    dnf: Option<Dnf>,
    first_assert_line: usize,
}

impl Reader {
    fn command(&mut self, node: &Sexpr) -> Result<(), Located> {
        let SexprKind::List(items) = &node.kind else {
            return Err(at(
                node,
                format!(
                    "expected a command in parentheses, found {}",
                    node.describe()
                ),
            ));
        };
        let head = items.first().and_then(Sexpr::atom).unwrap_or("");
        match head {
            "declare-const" => self.declare(node, items),
            "assert" => {
                let [_, formula] = items.as_slice() else {
                    return Err(at(
                        node,
                        "expected (assert FORMULA) with exactly one formula",
                    ));
                };
                let dnf = self.formula(formula)?;
                if self.dnf.is_none() {
                    self.first_assert_line = node.line;
                }
                let conj = match self.dnf.take() {
                    None => dnf,
                    Some(prev) => and_dnf(prev, dnf, node)?,
                };
                self.dnf = Some(conj);
                Ok(())
            }
            "set-logic" | "set-info" | "set-option" | "check-sat" | "get-model" | "exit" => Ok(()),
            _ => Err(at(
                node,
                format!(
                    "expected declare-const or assert, found {}",
                    node.describe()
                ),
            )),
        }
    }

    fn declare(&mut self, node: &Sexpr, items: &[Sexpr]) -> Result<(), Located> {
        let [_, name_node, sort] = items else {
            return Err(at(node, "expected (declare-const NAME Real)"));
        };
        let name = name_node
            .atom()
            .ok_or_else(|| at(name_node, "expected a variable name"))?;
        if sort.atom() != Some("Real") {
            return Err(at(
                sort,
                format!("expected the sort Real, found {}", sort.describe()),
            ));
        }
        let var = variable_name(name).ok_or_else(|| {
            at(
                name_node,
                format!(
                    "unsupported variable name '{name}': expected X_<i> (input) or Y_<j> (output)"
                ),
            )
        })?;
        if self.declared.insert(name.to_string(), var).is_some() {
            return Err(at(name_node, format!("'{name}' is declared twice")));
        }
        self.declared_at.insert(var, name_node.line);
        Ok(())
    }

    fn formula(&self, node: &Sexpr) -> Result<Dnf, Located> {
        let SexprKind::List(items) = &node.kind else {
            return Err(at(
                node,
                format!(
                    "expected a formula such as (<= a b), (and ...) or (or ...), found {}",
                    node.describe()
                ),
            ));
        };
        let head = items.first().and_then(Sexpr::atom).unwrap_or("");
        let args = items.get(1..).unwrap_or(&[]);
        match head {
            "and" => args.iter().try_fold(vec![Vec::new()], |acc, arg| {
                and_dnf(acc, self.formula(arg)?, node)
            }),
            "or" => {
                let mut out = Vec::new();
                for arg in args {
                    out.extend(self.formula(arg)?);
                    check_size(out.len(), node)?;
                }
                Ok(out)
            }
            "<=" | "<" | ">=" | ">" => {
                let [lhs, rhs] = args else {
                    return Err(at(node, format!("expected ({head} a b) with two terms")));
                };
                let (lhs, rhs) = (self.term(lhs)?, self.term(rhs)?);
                // lhs <= rhs ⇔ lhs − rhs <= 0; for >= the other way round.
                let expr = if head.starts_with('<') {
                    lhs.add(&rhs, -1.0)
                } else {
                    rhs.add(&lhs, -1.0)
                };
                Ok(vec![vec![Atom {
                    expr,
                    line: node.line,
                }]])
            }
            _ => Err(at(
                node,
                format!(
                    "expected a formula (<=, >=, <, >, and, or), found {}",
                    node.describe()
                ),
            )),
        }
    }

    fn term(&self, node: &Sexpr) -> Result<Linear, Located> {
        let items = match &node.kind {
            SexprKind::Atom(text) => return self.atom_term(node, text),
            SexprKind::List(items) => items,
        };
        let head = items.first().and_then(Sexpr::atom).unwrap_or("");
        let args = items.get(1..).unwrap_or(&[]);
        if args.is_empty() {
            return Err(at(
                node,
                format!("expected a term such as (+ a b), found {}", node.describe()),
            ));
        }
        let terms = args
            .iter()
            .map(|a| self.term(a))
            .collect::<Result<Vec<_>, _>>()?;
        match head {
            "+" => Ok(terms
                .iter()
                .fold(Linear::default(), |acc, t| acc.add(t, 1.0))),
            "-" if terms.len() == 1 => Ok(terms[0].clone().scaled(-1.0)),
            "-" => Ok(terms[1..]
                .iter()
                .fold(terms[0].clone(), |acc, t| acc.add(t, -1.0))),
            "*" => product(terms, node),
            "/" => {
                let [numerator, denominator] = terms.as_slice() else {
                    return Err(at(node, "expected (/ term constant) with two arguments"));
                };
                match denominator.as_constant() {
                    Some(d) if d != 0.0 => Ok(numerator.clone().scaled(1.0 / d)),
                    _ => Err(at(node, "expected a non-zero constant divisor in (/ ...)")),
                }
            }
            _ => Err(at(
                node,
                format!(
                    "expected a linear term (+, -, *, /), found {}",
                    node.describe()
                ),
            )),
        }
    }

    fn atom_term(&self, node: &Sexpr, text: &str) -> Result<Linear, Located> {
        if let Some(var) = self.declared.get(text) {
            let mut linear = Linear::default();
            linear.coeffs.insert(*var, 1.0);
            return Ok(linear);
        }
        let looks_numeric =
            text.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '-' | '+' | '.'));
        if !looks_numeric {
            return Err(at(
                node,
                format!("unknown variable '{text}' (declare it with declare-const first)"),
            ));
        }
        match text.parse::<f64>() {
            Ok(value) if value.is_finite() => Ok(Linear::constant(value)),
            _ => Err(at(
                node,
                format!("bad number '{text}': expected a finite decimal number"),
            )),
        }
    }

    fn into_properties(self, name: &str) -> Result<Vec<Property>, Located> {
        let dims = Dims::of(&self.declared_at)?;
        let dnf = self.dnf.unwrap_or_else(|| vec![Vec::new()]);
        let mut groups: Vec<(InputSet, Vec<Vec<HalfSpace>>)> = Vec::new();
        for conjunction in dnf {
            let line = conjunction
                .first()
                .map_or(self.first_assert_line, |a| a.line);
            let Some((input, output)) = split_conjunction(conjunction, &dims)? else {
                continue; // a constant atom is false: this disjunct is impossible
            };
            let input = input_set(input, &dims, line)?;
            match groups.iter_mut().find(|(set, _)| *set == input) {
                Some((_, disjuncts)) => disjuncts.push(output),
                None => groups.push((input, vec![output])),
            }
        }
        let several = groups.len() > 1;
        Ok(groups
            .into_iter()
            .enumerate()
            .map(|(k, (input, disjuncts))| Property {
                name: if several {
                    format!("{name}[{k}]")
                } else {
                    name.to_string()
                },
                input,
                unsafe_set: UnsafeSet { disjuncts },
            })
            .collect())
    }
}

fn variable_name(name: &str) -> Option<Var> {
    let (side, index) = if let Some(rest) = name.strip_prefix("X_") {
        (Side::Input, rest)
    } else {
        (Side::Output, name.strip_prefix("Y_")?)
    };
    // Canonical decimal only, so that one variable has one name ("X_01" is not "X_1").
    let valid = !index.is_empty()
        && index.bytes().all(|b| b.is_ascii_digit())
        && (index == "0" || !index.starts_with('0'));
    valid
        .then(|| index.parse().ok())
        .flatten()
        .map(|i| (side, i))
}

fn product(terms: Vec<Linear>, node: &Sexpr) -> Result<Linear, Located> {
    let mut constant = 1.0;
    let mut variable: Option<Linear> = None;
    for term in terms {
        match (term.as_constant(), &variable) {
            (Some(c), _) => constant *= c,
            (None, None) => variable = Some(term),
            (None, Some(_)) => {
                return Err(at(
                    node,
                    "expected a linear product: at most one non-constant factor in (* ...)",
                ));
            }
        }
    }
    Ok(variable.map_or(Linear::constant(constant), |v| v.scaled(constant)))
}

fn check_size(len: usize, node: &Sexpr) -> Result<(), Located> {
    if len > MAX_DISJUNCTS {
        return Err(at(
            node,
            format!("the formula expands to more than {MAX_DISJUNCTS} disjuncts; not supported"),
        ));
    }
    Ok(())
}

/// The DNF of `a ∧ b`: every conjunction of `a` with every conjunction of `b`.
fn and_dnf(a: Dnf, b: Dnf, node: &Sexpr) -> Result<Dnf, Located> {
    check_size(a.len().saturating_mul(b.len()), node)?;
    let mut out = Vec::with_capacity(a.len() * b.len());
    for left in &a {
        for right in &b {
            out.push(left.iter().chain(right).cloned().collect());
        }
    }
    Ok(out)
}

/// Numbers of declared inputs and outputs (indices must be contiguous from 0).
struct Dims {
    inputs: usize,
    outputs: usize,
}

impl Dims {
    /// From the declared variables and their lines.
    fn of(declared: &BTreeMap<Var, usize>) -> Result<Self, Located> {
        let count = |side: Side| -> Result<usize, Located> {
            // Sorted by index: the map's keys are ordered.
            let indices: Vec<(usize, usize)> = declared
                .iter()
                .filter(|((s, _), _)| *s == side)
                .map(|((_, i), line)| (*i, *line))
                .collect();
            for (expected, &(got, line)) in indices.iter().enumerate() {
                if got != expected {
                    let prefix = if side == Side::Input { "X" } else { "Y" };
                    return Err(Located {
                        line,
                        message: format!(
                            "{prefix}_{expected} is not declared but {prefix}_{got} is: indices must run from 0 without gaps"
                        ),
                    });
                }
            }
            Ok(indices.len())
        };
        let dims = Self {
            inputs: count(Side::Input)?,
            outputs: count(Side::Output)?,
        };
        if dims.inputs == 0 {
            return Err(Located {
                line: 1,
                message: "no input variable declared: expected (declare-const X_0 Real)".into(),
            });
        }
        Ok(dims)
    }
}

/// A conjunction's input atoms and output half-spaces.
type Parts = (Vec<Atom>, Vec<HalfSpace>);

/// Splits a conjunction into its input atoms and its output half-spaces; `None` if a
/// constant atom is false.
fn split_conjunction(conj: Vec<Atom>, dims: &Dims) -> Result<Option<Parts>, Located> {
    let mut input = Vec::new();
    let mut output = Vec::new();
    for atom in conj {
        let has = |side: Side| {
            atom.expr
                .coeffs
                .iter()
                .any(|((s, _), c)| *s == side && *c != 0.0)
        };
        match (has(Side::Input), has(Side::Output)) {
            (true, true) => {
                return Err(Located {
                    line: atom.line,
                    message: "this constraint mixes inputs (X) and outputs (Y); expected constraints on one side only".into(),
                });
            }
            (true, false) => input.push(atom),
            (false, true) => output.push(half_space(&atom, Side::Output, dims.outputs)),
            (false, false) if atom.expr.constant <= 0.0 => {}
            (false, false) => return Ok(None),
        }
    }
    Ok(Some((input, output)))
}

/// `expr <= 0` as `coeffs·v <= rhs` over the variables of `side`.
fn half_space(atom: &Atom, side: Side, dim: usize) -> HalfSpace {
    let mut coeffs = vec![0.0; dim];
    for ((s, i), c) in &atom.expr.coeffs {
        if *s == side {
            coeffs[*i] += c;
        }
    }
    HalfSpace {
        coeffs,
        rhs: -atom.expr.constant,
    }
}

/// Single-variable atoms become box bounds (the tightest wins), the others extra half-spaces.
fn input_set(atoms: Vec<Atom>, dims: &Dims, line: usize) -> Result<InputSet, Located> {
    let mut lower = vec![f64::NEG_INFINITY; dims.inputs];
    let mut upper = vec![f64::INFINITY; dims.inputs];
    let mut constraints = Vec::new();
    for atom in &atoms {
        let h = half_space(atom, Side::Input, dims.inputs);
        let nonzero: Vec<usize> = (0..dims.inputs).filter(|&i| h.coeffs[i] != 0.0).collect();
        match nonzero.as_slice() {
            [i] => {
                let bound = h.rhs / h.coeffs[*i];
                if h.coeffs[*i] > 0.0 {
                    upper[*i] = upper[*i].min(bound);
                } else {
                    lower[*i] = lower[*i].max(bound);
                }
            }
            _ => constraints.push(h),
        }
    }
    for i in 0..dims.inputs {
        let missing = match (lower[i].is_finite(), upper[i].is_finite()) {
            (false, _) => "lower",
            (_, false) => "upper",
            _ => continue,
        };
        return Err(Located {
            line,
            message: format!("X_{i} has no {missing} bound: expected a bounded input box"),
        });
    }
    Ok(InputSet {
        lower,
        upper,
        constraints,
    })
}
