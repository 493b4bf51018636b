//! Linear inequalities written as text, e.g. `"y0 >= 1.5"` or `"2*x0 - x1 <= 0.3"`.
//!
//! Run configs state properties in this form because it reads like the paper's
//! notation; the parser turns each one into a [`HalfSpace`] `a·v <= b`.
//! Strict comparisons (`<`, `>`) are read as non-strict: for an *unsafe* set this
//! over-approximates it, which errs on the side of safety.

use super::HalfSpace;

/// A text inequality that could not be read; `message` says what was expected.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("'{text}': {message}")]
pub struct LinearParseError {
    pub text: String,
    pub message: String,
}

/// Parses `text` over variables `{var}0 … {var}{dim-1}` into `coeffs·v <= rhs`.
pub fn parse_inequality(text: &str, var: char, dim: usize) -> Result<HalfSpace, LinearParseError> {
    let fail = |message: String| LinearParseError {
        text: text.to_string(),
        message,
    };
    let (op_at, op) = find_comparison(text)
        .ok_or_else(|| fail("expected one comparison: <=, >=, < or >".to_string()))?;
    let (lhs_text, rhs_text) = (&text[..op_at], &text[op_at + op.len()..]);
    if find_comparison(rhs_text).is_some() {
        return Err(fail("expected exactly one comparison".to_string()));
    }
    let lhs = parse_affine(lhs_text, var, dim).map_err(fail)?;
    let rhs = parse_affine(rhs_text, var, dim).map_err(fail)?;
    // lhs ≤ rhs  ⇔  (lhs − rhs)·v ≤ rhs.c − lhs.c ; for ≥ flip the sign.
    let sign = if op.starts_with('<') { 1.0 } else { -1.0 };
    let coeffs = lhs
        .coeffs
        .iter()
        .zip(&rhs.coeffs)
        .map(|(l, r)| sign * (l - r))
        .collect();
    Ok(HalfSpace {
        coeffs,
        rhs: sign * (rhs.constant - lhs.constant),
    })
}

/// `Σ coeffs·v + constant`.
struct Affine {
    coeffs: Vec<f64>,
    constant: f64,
}

fn find_comparison(text: &str) -> Option<(usize, &'static str)> {
    let at = text.find(['<', '>'])?;
    let op = match &text[at..] {
        s if s.starts_with("<=") => "<=",
        s if s.starts_with(">=") => ">=",
        s if s.starts_with('<') => "<",
        _ => ">",
    };
    Some((at, op))
}

/// Parses a sum of terms `[number ['*']] var<i>` or `number`, separated by `+`/`-`.
fn parse_affine(text: &str, var: char, dim: usize) -> Result<Affine, String> {
    let mut affine = Affine {
        coeffs: vec![0.0; dim],
        constant: 0.0,
    };
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return Err("a side of the comparison is empty".to_string());
    }
    for (sign, term) in split_terms(&compact)? {
        add_term(&mut affine, sign, term, var, dim)?;
    }
    Ok(affine)
}

/// Splits `"-2*x0+x1-3"` into `[(-1, "2*x0"), (1, "x1"), (-1, "3")]`, keeping exponents
/// such as `1e-3` inside their number.
fn split_terms(s: &str) -> Result<Vec<(f64, &str)>, String> {
    let bytes = s.as_bytes();
    let mut terms = Vec::new();
    let mut sign = 1.0;
    let mut start = 0;
    if matches!(bytes[0], b'+' | b'-') {
        sign = if bytes[0] == b'-' { -1.0 } else { 1.0 };
        start = 1;
    }
    let mut i = start;
    while i < bytes.len() {
        let is_exponent_sign = i > start
            && matches!(bytes[i - 1], b'e' | b'E')
            && i >= 2
            && bytes[i - 2].is_ascii_digit();
        if matches!(bytes[i], b'+' | b'-') && !is_exponent_sign {
            terms.push((sign, &s[start..i]));
            sign = if bytes[i] == b'-' { -1.0 } else { 1.0 };
            start = i + 1;
        }
        i += 1;
    }
    terms.push((sign, &s[start..]));
    if let Some((_, _)) = terms.iter().find(|(_, t)| t.is_empty()) {
        return Err("a term is missing between two signs".to_string());
    }
    Ok(terms)
}

fn add_term(
    affine: &mut Affine,
    sign: f64,
    term: &str,
    var: char,
    dim: usize,
) -> Result<(), String> {
    let var_at = term.find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E');
    let Some(var_at) = var_at else {
        affine.constant += sign * parse_number(term)?;
        return Ok(());
    };
    let coeff_text = term[..var_at].trim_end_matches('*');
    let coeff = if coeff_text.is_empty() {
        1.0
    } else {
        parse_number(coeff_text)?
    };
    let name = &term[var_at..];
    let index = name
        .strip_prefix(var)
        .and_then(|i| i.parse::<usize>().ok())
        .ok_or_else(|| {
            format!(
                "unknown variable '{name}': expected {var}0 … {var}{}",
                dim - 1
            )
        })?;
    if index >= dim {
        return Err(format!(
            "variable '{name}' is out of range: there are {dim} ({var}0 … {var}{})",
            dim - 1
        ));
    }
    affine.coeffs[index] += sign * coeff;
    Ok(())
}

fn parse_number(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("'{text}' is not a finite number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_simple_and_compound_inequalities() {
        let h = parse_inequality("y0 >= 1.5", 'y', 2).unwrap();
        assert_eq!(h.coeffs, vec![-1.0, 0.0]);
        assert_eq!(h.rhs, -1.5);
        let h = parse_inequality("2*x0 - x1 + 1e-3 <= 0.5 + x2", 'x', 3).unwrap();
        assert_eq!(h.coeffs, vec![2.0, -1.0, -1.0]);
        assert!((h.rhs - 0.499).abs() < 1e-12);
        let h = parse_inequality("-y1 < -2.5e-1", 'y', 2).unwrap();
        assert_eq!(h.coeffs, vec![0.0, -1.0]);
        assert_eq!(h.rhs, -0.25);
        let h = parse_inequality("y0 <= y1", 'y', 2).unwrap();
        assert_eq!(h.coeffs, vec![1.0, -1.0]);
        assert_eq!(h.rhs, 0.0);
    }

    #[test]
    fn semantics_match_the_text() {
        let h = parse_inequality("0.5 x0 > 1", 'x', 1).unwrap();
        assert!(h.contains(&[3.0]) && !h.contains(&[1.0]));
    }

    #[test]
    fn explains_what_is_wrong() {
        let msg = |t: &str| parse_inequality(t, 'y', 2).unwrap_err().message;
        assert!(msg("y0 1.5").contains("comparison"));
        assert!(msg("y2 <= 1").contains("out of range"));
        assert!(msg("z0 <= 1").contains("unknown variable"));
        assert!(msg("y0 <= abc").contains("unknown variable"));
        assert!(msg("y0 <= 1.2.3").contains("not a finite number"));
        assert!(msg("<= 1").contains("empty"));
        assert!(msg("y0 <= 1 <= 2").contains("exactly one"));
        assert!(msg("y0 +- y1 <= 1").contains("missing"));
    }
}
