//! The VNNLIB reader on the real benchmark files and on malformed input.

mod reach_common;

use saferl::spec::vnnlib::{VnnlibError, parse_vnnlib, read_vnnlib};

use reach_common::repo_data;

fn parse(text: &str) -> Result<Vec<saferl::spec::Property>, VnnlibError> {
    parse_vnnlib(text, "test.vnnlib", "test")
}

/// The error message with file and line, e.g. "test.vnnlib line 3: ...".
fn error(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn reads_every_acas_property() {
    for k in 1..=10 {
        let props = read_vnnlib(&repo_data(&format!("acasxu/prop_{k}.vnnlib"))).unwrap();
        let expected_parts = if k == 6 { 2 } else { 1 };
        assert_eq!(props.len(), expected_parts, "prop_{k}");
        for p in &props {
            assert_eq!(p.input.dim(), 5);
            assert!(p.input.constraints.is_empty());
            assert!(
                p.input
                    .lower
                    .iter()
                    .zip(&p.input.upper)
                    .all(|(l, u)| l <= u)
            );
            for disjunct in &p.unsafe_set.disjuncts {
                assert!(disjunct.iter().all(|h| h.coeffs.len() == 5));
            }
        }
    }
    let p1 = &read_vnnlib(&repo_data("acasxu/prop_1.vnnlib")).unwrap()[0];
    assert_eq!(p1.name, "prop_1");
    assert_eq!(p1.input.lower, vec![0.6, -0.5, -0.5, 0.45, -0.5]);
    assert_eq!(p1.input.upper, vec![0.679857769, 0.5, 0.5, 0.5, -0.45]);
    // Y_0 >= 3.99...  ⇔  −Y_0 <= −3.99...
    assert_eq!(p1.unsafe_set.disjuncts.len(), 1);
    assert_eq!(
        p1.unsafe_set.disjuncts[0][0].coeffs,
        vec![-1.0, 0.0, 0.0, 0.0, 0.0]
    );
    assert_eq!(p1.unsafe_set.disjuncts[0][0].rhs, -3.991125645861615);
    // Property 2: one conjunction of four comparisons Y_j <= Y_0.
    let p2 = &read_vnnlib(&repo_data("acasxu/prop_2.vnnlib")).unwrap()[0];
    assert_eq!(p2.unsafe_set.disjuncts.len(), 1);
    assert_eq!(p2.unsafe_set.disjuncts[0].len(), 4);
    assert_eq!(
        p2.unsafe_set.disjuncts[0][0].coeffs,
        vec![-1.0, 1.0, 0.0, 0.0, 0.0]
    );
    // Property 4 pins X_2 to 0.
    let p4 = &read_vnnlib(&repo_data("acasxu/prop_4.vnnlib")).unwrap()[0];
    assert_eq!((p4.input.lower[2], p4.input.upper[2]), (0.0, 0.0));
    // Property 6: two input boxes, each with the four output disjuncts.
    let p6 = read_vnnlib(&repo_data("acasxu/prop_6.vnnlib")).unwrap();
    assert_eq!(
        (p6[0].name.as_str(), p6[1].name.as_str()),
        ("prop_6[0]", "prop_6[1]")
    );
    assert_eq!(p6[0].input.lower[1], 0.11140846);
    assert_eq!(p6[1].input.upper[1], -0.11140846);
    assert!(p6.iter().all(|p| p.unsafe_set.disjuncts.len() == 4));
    // Property 7: two disjuncts of three comparisons.
    let p7 = &read_vnnlib(&repo_data("acasxu/prop_7.vnnlib")).unwrap()[0];
    assert_eq!(p7.unsafe_set.disjuncts.len(), 2);
    assert!(p7.unsafe_set.disjuncts.iter().all(|d| d.len() == 3));
}

#[test]
fn reads_the_rocket_properties() {
    for k in [1, 2] {
        let props = read_vnnlib(&repo_data(&format!("rocket-agents/property{k}.vnnlib"))).unwrap();
        assert_eq!(props.len(), 1);
        let p = &props[0];
        assert_eq!(p.input.dim(), 11);
        assert_eq!((p.input.lower[6], p.input.upper[6]), (0.0, 0.0));
        assert_eq!(p.unsafe_set.disjuncts.len(), 1);
        let rows = &p.unsafe_set.disjuncts[0];
        assert_eq!(rows.len(), 2);
        let sign = if k == 1 { -1.0 } else { 1.0 }; // property 1: Y >= 0, property 2: Y <= 0
        assert_eq!(rows[0].coeffs, vec![0.0, sign, 0.0]);
        assert_eq!(rows[1].coeffs, vec![0.0, 0.0, sign]);
        assert_eq!(rows[0].rhs, 0.0);
    }
}

#[test]
fn reads_linear_terms_and_vnncomp_style_disjunctions() {
    let text = "
        (declare-const X_0 Real) (declare-const X_1 Real)
        (declare-const Y_0 Real) (declare-const Y_1 Real)
        (assert (or
            (and (>= X_0 0) (<= X_0 1) (>= X_1 -1) (<= X_1 1) (<= (+ (* 2 Y_0) (- Y_1) 1) 0.5))
            (and (>= X_0 1) (<= X_0 2) (>= X_1 -1) (<= X_1 1) (>= (- Y_0 Y_1) (/ 1 4)))
            (and (>= X_0 1) (<= X_0 2) (>= X_1 -1) (<= X_1 1) (< Y_1 -3))
        ))
        (assert (<= (+ X_0 X_1) 2.5))";
    let props = parse(text).unwrap();
    assert_eq!(props.len(), 2);
    assert_eq!(props[0].input.lower, vec![0.0, -1.0]);
    assert_eq!(props[0].input.upper, vec![1.0, 1.0]);
    assert_eq!(props[0].input.constraints.len(), 1);
    assert_eq!(props[0].input.constraints[0].coeffs, vec![1.0, 1.0]);
    assert_eq!(props[0].input.constraints[0].rhs, 2.5);
    // 2·Y0 − Y1 + 1 <= 0.5  ⇔  2·Y0 − Y1 <= −0.5
    let h = &props[0].unsafe_set.disjuncts[0][0];
    assert_eq!((h.coeffs.clone(), h.rhs), (vec![2.0, -1.0], -0.5));
    // The second and third disjuncts share their input box: one property, two disjuncts.
    assert_eq!(props[1].unsafe_set.disjuncts.len(), 2);
    let h = &props[1].unsafe_set.disjuncts[0][0];
    assert_eq!((h.coeffs.clone(), h.rhs), (vec![-1.0, 1.0], -0.25));
    let h = &props[1].unsafe_set.disjuncts[1][0];
    assert_eq!((h.coeffs.clone(), h.rhs), (vec![0.0, 1.0], -3.0));
    // An unsatisfiable violation condition leaves nothing to verify.
    let none = "(declare-const X_0 Real) (declare-const Y_0 Real) (assert (>= X_0 0)) (assert (<= X_0 1)) (assert (or))";
    assert!(parse(none).unwrap().is_empty());
}

#[test]
fn errors_name_the_file_the_line_and_the_problem() {
    let head = "(declare-const X_0 Real)\n(declare-const Y_0 Real)\n";
    let cases = [
        ("(assert (<= X_1 1))", "line 3: unknown variable 'X_1'"),
        ("(assert (<= X_0 1.2.3))", "line 3: bad number '1.2.3'"),
        ("(assert (<= X_0 nan))", "line 3: unknown variable 'nan'"),
        ("(assert (<= X_0 1e999))", "line 3: bad number '1e999'"),
        ("(assert (<= X_0 1)))", "line 3: unbalanced parentheses"),
        (
            "(assert (<= X_0\n 1)",
            "line 4: truncated: the '(' opened at line 3",
        ),
        (
            "(assert (<= X_0 1))\n(assert (>= X_0 -1))\n(assert (<= (* X_0 Y_0) 1))",
            "line 5: expected a linear product",
        ),
        (
            "(assert (<= X_0 Y_0))",
            "line 3: this constraint mixes inputs (X) and outputs (Y)",
        ),
        ("(assert (<= X_0 1))", "X_0 has no lower bound"),
        ("(assert (=> X_0 1))", "line 3: expected a formula"),
        (
            "(assert (<= X_0 1 2))",
            "line 3: expected (<= a b) with two terms",
        ),
        (
            "(assert (<= X_0 (/ 1 0)))",
            "line 3: expected a non-zero constant divisor",
        ),
        (
            "(declare-const Z Real)",
            "line 3: unsupported variable name 'Z'",
        ),
        (
            "(declare-const X_0 Real)",
            "line 3: 'X_0' is declared twice",
        ),
        ("(declare-const X_1 Int)", "line 3: expected the sort Real"),
        (
            "(declare-const X_2 Real)",
            "line 3: X_1 is not declared but X_2 is",
        ),
        ("(push 1)", "line 3: expected declare-const or assert"),
        ("X_0", "line 3: expected a command in parentheses"),
    ];
    for (tail, expected) in cases {
        let message = error(&format!("{head}{tail}"));
        assert!(message.starts_with("test.vnnlib"), "{message}");
        assert!(
            message.contains(expected),
            "for {tail:?}: got {message:?}, expected {expected:?}"
        );
    }
    let missing = read_vnnlib(std::path::Path::new("/nonexistent/p.vnnlib")).unwrap_err();
    assert!(missing.to_string().contains("/nonexistent/p.vnnlib"));
}

/// Truncating or mangling a real file anywhere gives an error or a result, never a panic.
#[test]
fn never_panics_on_mangled_input() {
    let text = std::fs::read_to_string(repo_data("acasxu/prop_6.vnnlib")).unwrap();
    let bytes = text.as_bytes();
    for cut in (0..bytes.len()).step_by(3) {
        let truncated = String::from_utf8_lossy(&bytes[..cut]);
        let _ = parse(&truncated);
    }
    for (i, replacement) in (0..bytes.len())
        .step_by(5)
        .zip(["(", ")", "X_9", "", " ", "-", "e"].iter().cycle())
    {
        let mangled = format!("{}{}{}", &text[..i], replacement, &text[i + 1..]);
        let _ = parse(&mangled);
    }
}
