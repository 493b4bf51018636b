//! The library's layering (see `src/lib.rs`): each top-level module may import only the
//! modules listed before it, so data flows one way and no import cycle can form between
//! layers. Checked on every `crate::` path outside `#[cfg(test)]` modules (tests may build
//! fixtures from any layer).

use std::path::{Path, PathBuf};

/// The layers in order; `atomic` is a leaf utility every layer may use.
const LAYERS: [&str; 11] = [
    "atomic", "spec", "nn", "data", "verify", "rl", "repair", "config", "session", "jobs", "cli",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The layer a file under `src/` belongs to (`None`: `lib.rs`, `main.rs`).
fn layer_of(src: &Path, file: &Path) -> Option<usize> {
    let first = file.strip_prefix(src).unwrap().components().next()?;
    let name = first.as_os_str().to_str()?.trim_end_matches(".rs");
    LAYERS.iter().position(|&l| l == name)
}

/// Every `crate::<layer>` named in the non-test part of `text`.
fn imported_layers(text: &str) -> Vec<(usize, usize)> {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    let mut found = Vec::new();
    for (number, line) in code.lines().enumerate() {
        let line = line.split("//").next().unwrap_or("");
        for (at, _) in line.match_indices("crate::") {
            let rest = &line[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if let Some(layer) = LAYERS.iter().position(|&l| l == name) {
                found.push((number + 1, layer));
            }
        }
    }
    found
}

#[test]
fn no_module_imports_a_layer_listed_after_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut upward = Vec::new();
    for file in &files {
        let Some(own) = layer_of(&src, file) else {
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (line, imported) in imported_layers(&text) {
            if imported > own {
                upward.push(format!(
                    "{}:{line}: `{}` imports `{}`",
                    file.strip_prefix(&src).unwrap().display(),
                    LAYERS[own],
                    LAYERS[imported]
                ));
            }
        }
    }
    assert!(files.len() > 50, "read the sources: {} files", files.len());
    assert!(
        upward.is_empty(),
        "imports against the layering:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_check_sees_an_upward_import() {
    let text = "use crate::spec::Property;\nuse crate::jobs::train;\n#[cfg(test)]\nuse crate::cli;";
    let layers: Vec<usize> = imported_layers(text).into_iter().map(|(_, l)| l).collect();
    assert_eq!(layers, vec![1, 9]);
}
