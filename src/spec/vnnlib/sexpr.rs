//! S-expressions with line numbers: the syntax layer under the VNNLIB reader.
//!
//! Kept apart from the VNNLIB semantics so that every syntax error (unbalanced
//! parentheses, a truncated file) is reported in one place, with the line where it
//! happened, before any meaning is given to the tokens.

/// One node of the tree; `line` is 1-based (the line of the atom or of the opening `(`).
#[derive(Debug, Clone, PartialEq)]
pub struct Sexpr {
    pub line: usize,
    pub kind: SexprKind,
}

/// An atom (symbol or number, kept as text) or a parenthesized list.
#[derive(Debug, Clone, PartialEq)]
pub enum SexprKind {
    Atom(String),
    List(Vec<Sexpr>),
}

impl Sexpr {
    /// The atom's text, if this node is an atom.
    pub fn atom(&self) -> Option<&str> {
        match &self.kind {
            SexprKind::Atom(text) => Some(text),
            SexprKind::List(_) => None,
        }
    }

    /// A short rendering for error messages (lists are abbreviated).
    pub fn describe(&self) -> String {
        match &self.kind {
            SexprKind::Atom(text) => format!("'{text}'"),
            SexprKind::List(items) => match items.first().and_then(Sexpr::atom) {
                Some(head) => format!("'({head} ...)'"),
                None if items.is_empty() => "'()'".to_string(),
                None => "a list".to_string(),
            },
        }
    }
}

/// A syntax error at a 1-based line.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

/// Parses all top-level expressions of `text`; `;` starts a comment up to the end of the line.
pub fn parse(text: &str) -> Result<Vec<Sexpr>, SyntaxError> {
    // Stack of open lists: (line of the '(', items so far).
    let mut open: Vec<(usize, Vec<Sexpr>)> = Vec::new();
    let mut top = Vec::new();
    let mut last_line = 1;
    for (index, raw_line) in text.lines().enumerate() {
        let line = index + 1;
        last_line = line;
        let code = raw_line.split(';').next().unwrap_or("");
        for token in tokens(code) {
            match token {
                "(" => open.push((line, Vec::new())),
                ")" => {
                    let (start, items) = open.pop().ok_or_else(|| SyntaxError {
                        line,
                        message: "unbalanced parentheses: ')' closes nothing".to_string(),
                    })?;
                    let node = Sexpr {
                        line: start,
                        kind: SexprKind::List(items),
                    };
                    push(&mut open, &mut top, node);
                }
                atom => {
                    let node = Sexpr {
                        line,
                        kind: SexprKind::Atom(atom.to_string()),
                    };
                    push(&mut open, &mut top, node);
                }
            }
        }
    }
    if let Some((start, _)) = open.last() {
        return Err(SyntaxError {
            line: last_line,
            message: format!(
                "truncated: the '(' opened at line {start} is never closed ({} still open at the end)",
                open.len()
            ),
        });
    }
    Ok(top)
}

fn push(open: &mut [(usize, Vec<Sexpr>)], top: &mut Vec<Sexpr>, node: Sexpr) {
    match open.last_mut() {
        Some((_, items)) => items.push(node),
        None => top.push(node),
    }
}

/// Splits one comment-free line into `(`, `)` and whitespace-separated atoms.
fn tokens(code: &str) -> impl Iterator<Item = &str> {
    let mut rest = code;
    std::iter::from_fn(move || {
        rest = rest.trim_start();
        let first = rest.chars().next()?;
        let len = if first == '(' || first == ')' {
            1
        } else {
            rest.find(|c: char| c.is_whitespace() || c == '(' || c == ')')
                .unwrap_or(rest.len())
        };
        let (token, tail) = rest.split_at(len);
        rest = tail;
        Some(token)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_nested_lists_with_lines() {
        let tree = parse("; c\n(assert (<= X_0\n 1.5)) ; tail\n(a)").unwrap();
        assert_eq!(tree.len(), 2);
        assert_eq!(tree[0].line, 2);
        let SexprKind::List(items) = &tree[0].kind else {
            panic!("expected a list")
        };
        assert_eq!(items[0].atom(), Some("assert"));
        let SexprKind::List(inner) = &items[1].kind else {
            panic!("expected a list")
        };
        assert_eq!(inner[2].atom(), Some("1.5"));
        assert_eq!(inner[2].line, 3);
    }

    #[test]
    fn reports_unbalanced_and_truncated_input() {
        let err = parse("(a))").unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.message.contains("unbalanced"));
        let err = parse("(a\n(b c)\n").unwrap_err();
        assert!(err.message.contains("truncated") && err.message.contains("line 1"));
        assert_eq!(err.line, 2);
    }
}
