//! Reading and writing the `.nnet` format (Kyle Julian's plain-text format of the ACAS Xu
//! networks).
//!
//! The verification community's benchmark networks (ACAS Xu, the rocket-lander actors) ship as
//! `.nnet`, and exporting a repaired network as `.nnet` lets other verifiers (Marabou, nnenum,
//! NNV, …) check it independently. The layout, after optional leading `//` comment lines:
//!
//! 1. `numLayers,inputSize,outputSize,maxLayerSize` (`numLayers` counts weight layers);
//! 2. the `numLayers + 1` layer sizes, input first;
//! 3. a legacy flag (one integer; ignored, written as `0`);
//! 4. input minimums, input maximums (`inputSize` values each), means and ranges
//!    (`inputSize + 1` values each: the last one applies to every output);
//! 5. for each layer, `outputs` rows of `inputs` weights (row *i* holds neuron *i*'s incoming
//!    weights), then `outputs` rows holding one bias each.
//!
//! Every row may end with a comma (the real files all do), values may be padded with spaces,
//! lines may end in CRLF and blank lines are skipped. Everything else is checked, and every
//! error names the file and the 1-based line. Writing uses Rust's shortest round-trip float
//! formatting, so write → read gives bit-identical weights.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use nalgebra::{DMatrix, DVector};

use super::relu_net::{Layer, ReluNet};

/// The normalization block of a `.nnet` file.
///
/// Tools that feed raw inputs clamp them to `[input_min, input_max]`, normalize them as
/// `(x − mean) / range` and map outputs back as `y · range + mean`. saferl analyses the raw
/// weights (properties are stated in normalized units, as in VNNLIB), so this block is kept
/// only so that import → export loses nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalization {
    /// Lower clamp of each raw input (`inputs` values).
    pub input_min: Vec<f64>,
    /// Upper clamp of each raw input (`inputs` values).
    pub input_max: Vec<f64>,
    /// Mean of each input, then one mean shared by all outputs (`inputs + 1` values).
    pub means: Vec<f64>,
    /// Range of each input, then one range shared by all outputs (`inputs + 1` values).
    pub ranges: Vec<f64>,
}

impl Normalization {
    /// The block for a network that needs no normalization: bounds `±f32::MAX`, means 0,
    /// ranges 1.
    ///
    /// `±f32::MAX` is what the format's own converters (`onnx2nnet`, `pb2nnet` in sisl/NNet)
    /// write when no bounds are given: finite, so every reader accepts it (including float32
    /// readers and those that reject `inf`), yet far too large to ever clamp.
    pub fn identity(inputs: usize) -> Self {
        let bound = f64::from(f32::MAX);
        Self {
            input_min: vec![-bound; inputs],
            input_max: vec![bound; inputs],
            means: vec![0.0; inputs + 1],
            ranges: vec![1.0; inputs + 1],
        }
    }
}

/// A network as stored in a `.nnet` file, with what the file carries besides the weights.
#[derive(Debug, Clone, PartialEq)]
pub struct NnetFile {
    pub net: ReluNet,
    pub normalization: Normalization,
    /// The leading comment lines without their `//` (and the one space after it, if any):
    /// provenance and licence notices, kept so that they survive a round trip. When writing,
    /// a comment containing newlines becomes several comment lines.
    pub comments: Vec<String>,
}

/// Why a `.nnet` file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum NnetError {
    /// The file system refused (missing file, permissions, invalid UTF-8, full disk, …).
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    /// The text is not a valid `.nnet` file; `line` is 1-based and `message` says what was
    /// expected and what was found.
    #[error("{path} line {line}: {message}")]
    Parse {
        path: String,
        line: usize,
        message: String,
    },
    /// The network and its normalization block do not fit together, or hold values the format
    /// cannot store (non-finite numbers).
    #[error("{path}: {message}")]
    Shape { path: String, message: String },
}

/// Reads a `.nnet` file; errors name `path`.
pub fn read_nnet(path: &Path) -> Result<NnetFile, NnetError> {
    let text = fs::read_to_string(path).map_err(|source| NnetError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_nnet(&text, &path.display().to_string())
}

/// Parses the text of a `.nnet` file; `origin` names the file in errors.
pub fn parse_nnet(text: &str, origin: &str) -> Result<NnetFile, NnetError> {
    let mut rows = Rows::new(text, origin);
    let comments = rows.comments();
    let sizes = read_sizes(&mut rows)?;
    let inputs = sizes.first().copied().unwrap_or(0);
    let normalization = read_normalization(&mut rows, inputs)?;
    let mut layers = Vec::new();
    for (index, pair) in sizes.windows(2).enumerate() {
        if let [inputs, outputs] = *pair {
            layers.push(read_layer(&mut rows, index + 1, inputs, outputs)?);
        }
    }
    rows.expect_end()?;
    let net = ReluNet::new(layers).map_err(|e| NnetError::Shape {
        path: origin.to_string(),
        message: e.to_string(),
    })?;
    Ok(NnetFile {
        net,
        normalization,
        comments,
    })
}

/// Writes a `.nnet` file atomically: a temporary file in the same directory is written,
/// flushed to disk and renamed over `path`, so readers never see half a network and a crash
/// leaves the old file intact.
///
/// Refuses (with [`NnetError::Shape`], before touching the disk) a file that would not read
/// back: a normalization block of the wrong length or a non-finite value anywhere.
pub fn write_nnet(path: &Path, file: &NnetFile) -> Result<(), NnetError> {
    check_writable(file, &path.display().to_string())?;
    crate::atomic::write(path, to_nnet_string(file).as_bytes()).map_err(|source| NnetError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The `.nnet` text of `file`, with the same layout as the ACAS Xu files (trailing commas,
/// one row per line) and shortest round-trip number formatting.
///
/// The fields are written as they are: use [`write_nnet`] to have them checked first.
pub fn to_nnet_string(file: &NnetFile) -> String {
    let mut out = String::new();
    for comment in &file.comments {
        push_comment(&mut out, comment);
    }
    let layers = file.net.layers();
    let mut sizes = vec![file.net.input_dim()];
    sizes.extend(layers.iter().map(Layer::outputs));
    let max_size = sizes.iter().copied().max().unwrap_or(0);
    push_ints(
        &mut out,
        [
            layers.len(),
            file.net.input_dim(),
            file.net.output_dim(),
            max_size,
        ],
    );
    push_ints(&mut out, sizes);
    push_ints(&mut out, [0]);
    let norm = &file.normalization;
    for values in [&norm.input_min, &norm.input_max, &norm.means, &norm.ranges] {
        push_floats(&mut out, values.iter().copied());
    }
    for layer in layers {
        for row in layer.weights.row_iter() {
            push_floats(&mut out, row.iter().copied());
        }
        for &bias in layer.bias.iter() {
            push_floats(&mut out, [bias]);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Reading

/// Content lines of the text with their 1-based numbers; blank lines are skipped.
struct Rows<'a> {
    origin: &'a str,
    lines: std::iter::Peekable<std::iter::Enumerate<std::str::Lines<'a>>>,
    /// Number of the last line of the text (0 if the text has none), for end-of-file errors.
    last_line: usize,
}

/// One content line.
#[derive(Clone, Copy)]
struct Row<'a> {
    line: usize,
    text: &'a str,
}

impl<'a> Rows<'a> {
    fn new(text: &'a str, origin: &'a str) -> Self {
        Self {
            origin,
            lines: text.lines().enumerate().peekable(),
            last_line: text.lines().count(),
        }
    }

    fn skip_blank(&mut self) {
        while self.lines.next_if(|(_, l)| l.trim().is_empty()).is_some() {}
    }

    /// Takes the leading `//` comment lines.
    fn comments(&mut self) -> Vec<String> {
        let mut comments = Vec::new();
        loop {
            self.skip_blank();
            let Some((_, line)) = self
                .lines
                .next_if(|(_, l)| l.trim_start().starts_with("//"))
            else {
                return comments;
            };
            let body = line.trim_start().trim_start_matches("//");
            comments.push(body.strip_prefix(' ').unwrap_or(body).to_string());
        }
    }

    /// The next content line; at the end of the text, an error saying what was still `expected`.
    fn next(&mut self, expected: impl FnOnce() -> String) -> Result<Row<'a>, NnetError> {
        self.skip_blank();
        match self.lines.next() {
            Some((index, text)) => Ok(Row {
                line: index + 1,
                text,
            }),
            None if self.last_line == 0 => {
                Err(self.error(1, format!("empty file; expected {}", expected())))
            }
            None => Err(self.error(
                self.last_line,
                format!("file ends here; expected {}", expected()),
            )),
        }
    }

    /// Fails unless only blank lines remain.
    fn expect_end(&mut self) -> Result<(), NnetError> {
        self.skip_blank();
        match self.lines.next() {
            None => Ok(()),
            Some((index, text)) => Err(self.error(
                index + 1,
                format!(
                    "expected the end of the file after the last layer, found '{}'",
                    excerpt(text)
                ),
            )),
        }
    }

    fn error(&self, line: usize, message: String) -> NnetError {
        NnetError::Parse {
            path: self.origin.to_string(),
            line,
            message,
        }
    }

    /// The next row as exactly `count` integers; `what` names them in errors.
    fn ints(&mut self, count: usize, what: &str) -> Result<(Row<'a>, Vec<usize>), NnetError> {
        let row = self.next(|| format!("the line of {count} {what}"))?;
        let fields = self.fields(row, count, what)?;
        let values = fields
            .into_iter()
            .map(|field| {
                field.parse::<usize>().map_err(|_| {
                    self.error(
                        row.line,
                        format!("bad integer '{}' in the {what}", excerpt(field)),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        Ok((row, values))
    }

    /// The next row as exactly `count` finite numbers; `what` names them in errors, and
    /// `expected` describes everything still missing if the text ends here.
    fn floats(
        &mut self,
        count: usize,
        what: &str,
        expected: impl FnOnce() -> String,
    ) -> Result<Vec<f64>, NnetError> {
        let row = self.next(expected)?;
        let fields = self.fields(row, count, what)?;
        fields
            .into_iter()
            .map(|field| self.float(row, field, what))
            .collect()
    }

    fn float(&self, row: Row<'a>, field: &str, what: &str) -> Result<f64, NnetError> {
        let value = field.parse::<f64>().map_err(|_| {
            self.error(
                row.line,
                format!("bad number '{}' in the {what}", excerpt(field)),
            )
        })?;
        if value.is_finite() {
            Ok(value)
        } else {
            Err(self.error(
                row.line,
                format!("'{}' in the {what} is not a finite number", excerpt(field)),
            ))
        }
    }

    /// Splits a row at commas (one trailing comma allowed) and checks it has `count` values.
    fn fields(&self, row: Row<'a>, count: usize, what: &str) -> Result<Vec<&'a str>, NnetError> {
        let text = row.text.trim();
        let text = text.strip_suffix(',').unwrap_or(text);
        let fields: Vec<&str> = if text.is_empty() {
            Vec::new()
        } else {
            text.split(',').map(str::trim).collect()
        };
        if fields.len() != count {
            return Err(self.error(
                row.line,
                format!("expected {count} {what}, found {}", fields.len()),
            ));
        }
        if let Some(position) = fields.iter().position(|f| f.is_empty()) {
            return Err(self.error(
                row.line,
                format!("value {} of the {what} is empty", position + 1),
            ));
        }
        Ok(fields)
    }
}

/// At most 40 characters of `text`, so that an error never quotes a whole megabyte line.
fn excerpt(text: &str) -> String {
    let mut chars = text.trim().chars();
    let short: String = chars.by_ref().take(40).collect();
    if chars.next().is_some() {
        format!("{short}…")
    } else {
        short
    }
}

/// The first content line: `numLayers,inputSize,outputSize,maxLayerSize`.
struct Header {
    line: usize,
    num_layers: usize,
    inputs: usize,
    outputs: usize,
    max_size: usize,
}

const HEADER_VALUES: &str = "header values (numLayers, inputSize, outputSize, maxLayerSize)";

fn read_header(rows: &mut Rows) -> Result<Header, NnetError> {
    let (row, values) = rows.ints(4, HEADER_VALUES)?;
    // `ints` has checked the count; the `else` only keeps this free of indexing.
    let [num_layers, inputs, outputs, max_size] = values[..] else {
        return Err(rows.error(row.line, format!("expected 4 {HEADER_VALUES}")));
    };
    if num_layers == 0 || inputs == 0 || outputs == 0 {
        return Err(rows.error(
            row.line,
            format!(
                "numLayers, inputSize and outputSize must be positive, found {num_layers}, {inputs}, {outputs}"
            ),
        ));
    }
    Ok(Header {
        line: row.line,
        num_layers,
        inputs,
        outputs,
        max_size,
    })
}

/// Reads the header, the layer sizes and the flag line, checking that they agree; returns the
/// layer sizes, input first.
fn read_sizes(rows: &mut Rows) -> Result<Vec<usize>, NnetError> {
    let header = read_header(rows)?;
    let (row, sizes) = rows.ints(header.num_layers.saturating_add(1), "layer sizes")?;
    if let Some(position) = sizes.iter().position(|&size| size == 0) {
        return Err(rows.error(
            row.line,
            format!("layer size {} is 0; sizes must be positive", position + 1),
        ));
    }
    let found = [
        (
            "the input size (first layer size)",
            header.inputs,
            sizes.first(),
        ),
        (
            "the output size (last layer size)",
            header.outputs,
            sizes.last(),
        ),
        (
            "the largest layer size",
            header.max_size,
            sizes.iter().max(),
        ),
    ];
    for (what, in_header, found) in found {
        let found = found.copied().unwrap_or(0);
        if found != in_header {
            return Err(rows.error(
                row.line,
                format!(
                    "{what} is {found} here but {in_header} in the header (line {})",
                    header.line
                ),
            ));
        }
    }
    rows.ints(1, "legacy flag (the line '0,')")?;
    Ok(sizes)
}

/// Reads the four normalization rows.
fn read_normalization(rows: &mut Rows, inputs: usize) -> Result<Normalization, NnetError> {
    let with_output = inputs.saturating_add(1);
    let mut row = |count: usize, what: &str| {
        rows.floats(count, what, || format!("the line of {count} {what}"))
    };
    Ok(Normalization {
        input_min: row(inputs, "input minimums")?,
        input_max: row(inputs, "input maximums")?,
        means: row(with_output, "means (inputs, then outputs)")?,
        ranges: row(with_output, "ranges (inputs, then outputs)")?,
    })
}

/// Reads layer `number` (1-based): `outputs` weight rows of `inputs` values, then `outputs`
/// bias rows.
fn read_layer(
    rows: &mut Rows,
    number: usize,
    inputs: usize,
    outputs: usize,
) -> Result<Layer, NnetError> {
    let missing = |rows_left: usize| {
        move || {
            format!(
                "{rows_left} more rows for layer {number} ({outputs} weight rows of {inputs} values, then {outputs} bias rows)"
            )
        }
    };
    let mut weights = Vec::new();
    for neuron in 1..=outputs {
        let rows_left = (outputs - neuron + 1).saturating_add(outputs);
        let what = format!("weights (layer {number}, neuron {neuron})");
        weights.extend(rows.floats(inputs, &what, missing(rows_left))?);
    }
    let mut bias = Vec::new();
    for neuron in 1..=outputs {
        let what = format!("bias (layer {number}, neuron {neuron})");
        bias.extend(rows.floats(1, &what, missing(outputs - neuron + 1))?);
    }
    Ok(Layer {
        weights: DMatrix::from_row_slice(outputs, inputs, &weights),
        bias: DVector::from_vec(bias),
    })
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Checks that `file` would read back: normalization lengths match the network and every
/// value is finite (the format, and most readers, have no spelling for NaN or infinity).
fn check_writable(file: &NnetFile, origin: &str) -> Result<(), NnetError> {
    let shape_error = |message: String| NnetError::Shape {
        path: origin.to_string(),
        message,
    };
    let inputs = file.net.input_dim();
    let norm = &file.normalization;
    for (values, what, expected) in [
        (&norm.input_min, "input minimums", inputs),
        (&norm.input_max, "input maximums", inputs),
        (&norm.means, "means", inputs + 1),
        (&norm.ranges, "ranges", inputs + 1),
    ] {
        if values.len() != expected {
            return Err(shape_error(format!(
                "the normalization has {} {what} but a network with {inputs} inputs needs {expected}",
                values.len()
            )));
        }
        if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
            return Err(shape_error(format!(
                "the normalization {what} contain {bad}; .nnet stores finite numbers only"
            )));
        }
    }
    for (index, layer) in file.net.layers().iter().enumerate() {
        let mut values = layer.weights.iter().chain(layer.bias.iter());
        if let Some(bad) = values.find(|v| !v.is_finite()) {
            return Err(shape_error(format!(
                "layer {} contains {bad}; .nnet stores finite numbers only",
                index + 1
            )));
        }
    }
    Ok(())
}

fn push_comment(out: &mut String, comment: &str) {
    if comment.is_empty() {
        out.push_str("//\n");
    }
    for line in comment.lines() {
        out.push_str("// ");
        out.push_str(line);
        out.push('\n');
    }
}

fn push_ints(out: &mut String, values: impl IntoIterator<Item = usize>) {
    for value in values {
        out.push_str(&value.to_string());
        out.push(',');
    }
    out.push('\n');
}

fn push_floats(out: &mut String, values: impl IntoIterator<Item = f64>) {
    for value in values {
        out.push_str(&format_float(value));
        out.push(',');
    }
    out.push('\n');
}

/// The shortest text that parses back to exactly `value`: plain notation for ordinary
/// magnitudes (readable, like the rocket files), scientific otherwise (so `1e-300` does not
/// become 300 zeros). Both `{}` and `{:e}` are shortest round-trip in Rust.
fn format_float(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude == 0.0 || (1e-4..1e16).contains(&magnitude) {
        format!("{value}")
    } else {
        format!("{value:e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of the repository's data directory (`data/` in the crate root).
    fn repo_data(rel: &str) -> PathBuf {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/data")).join(rel)
    }

    fn acas(a: usize, b: usize) -> NnetFile {
        let name = format!("acasxu/nnet/ACASXU_run2a_{a}_{b}_batch_2000.nnet");
        read_nnet(&repo_data(&name)).unwrap()
    }

    fn sizes(net: &ReluNet) -> Vec<usize> {
        let mut sizes = vec![net.input_dim()];
        sizes.extend(net.layers().iter().map(Layer::outputs));
        sizes
    }

    fn nnet_files(dir: &str) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = fs::read_dir(repo_data(dir))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "nnet"))
            .collect();
        files.sort();
        files
    }

    /// Bit patterns of everything a file stores, so that -0.0 ≠ 0.0 and NaN = NaN.
    fn bits(file: &NnetFile) -> Vec<u64> {
        let norm = &file.normalization;
        let mut all: Vec<f64> = [&norm.input_min, &norm.input_max, &norm.means, &norm.ranges]
            .into_iter()
            .flatten()
            .copied()
            .collect();
        for layer in file.net.layers() {
            all.extend(layer.weights.iter().chain(layer.bias.iter()));
        }
        all.into_iter().map(f64::to_bits).collect()
    }

    fn assert_identical(a: &NnetFile, b: &NnetFile) {
        assert_eq!(sizes(&a.net), sizes(&b.net));
        assert_eq!(bits(a), bits(b));
        assert_eq!(a.comments, b.comments);
    }

    #[test]
    fn reads_all_45_acas_xu_networks() {
        let files = nnet_files("acasxu/nnet");
        assert_eq!(files.len(), 45);
        let expected_sizes = [5, 50, 50, 50, 50, 50, 50, 5];
        // The files bound the angles by π rounded to six decimals, not by π itself.
        #[allow(clippy::approx_constant)]
        let pi = 3.141593;
        for path in &files {
            let file = read_nnet(path).unwrap();
            assert_eq!(sizes(&file.net), expected_sizes, "{}", path.display());
            assert_eq!(file.comments.len(), 3);
            assert_eq!(
                file.comments[2],
                "Neural Network File Format by Kyle Julian, Stanford 2016"
            );
            let norm = &file.normalization;
            assert_eq!(norm.input_min, [0.0, -pi, -pi, 100.0, 0.0]);
            assert_eq!(norm.input_max, [60760.0, pi, pi, 1200.0, 1200.0]);
            assert_eq!(norm.means[5], 7.5188840201005975);
            assert_eq!(norm.ranges[5], 373.94992);
        }
    }

    #[test]
    fn reads_the_three_rocket_agents() {
        let files = nnet_files("rocket-agents");
        assert_eq!(files.len(), 3);
        for path in &files {
            let file = read_nnet(path).unwrap();
            assert_eq!(sizes(&file.net), [11, 20, 20, 20, 20, 20, 3]);
            assert_eq!(file.comments.len(), 1);
            let norm = &file.normalization;
            assert_eq!(norm.input_min, vec![-1000.0; 11]);
            assert_eq!(norm.input_max, vec![1000.0; 11]);
            assert_eq!(norm.means, vec![0.0; 12]);
            assert_eq!(norm.ranges, vec![1.0; 12]);
        }
    }

    #[test]
    fn weight_rows_are_neurons_in_file_order() {
        // Values copied from ACASXU_run2a_1_1: its first weight row and its last bias.
        let net = acas(1, 1).net;
        let first = &net.layers()[0];
        let row: Vec<f64> = first.weights.row(0).iter().copied().collect();
        assert_eq!(
            row,
            [
                5.40062e-02,
                -2.61092e+00,
                -1.80027e-01,
                2.42194e-01,
                1.41407e-01
            ]
        );
        assert_eq!(first.weights[(1, 0)], -1.12374e+00);
        let last = &net.layers()[6];
        assert_eq!(last.bias.len(), 5);
        let rocket = read_nnet(&repo_data("rocket-agents/unsafe_agent0.nnet")).unwrap();
        let rocket_bias = &rocket.net.layers()[5].bias;
        assert_eq!(
            rocket_bias.as_slice(),
            [0.49898701906204224, 0.8610647320747375, 0.18123789131641388]
        );
    }

    /// Inputs in the (normalized) box of ACAS Xu property 2 where the network makes "clear of
    /// conflict" the maximal score: counterexamples to property 2, which expected.csv lists
    /// as `unsafe` for these three networks. Found by sampling; anyone can re-check them.
    const PROP2_COUNTEREXAMPLES: [((usize, usize), [f64; 5]); 3] = [
        (
            (2, 1),
            [
                0.6420306035553186,
                -0.007212408936563719,
                -0.4142203318422055,
                0.47470312837784706,
                -0.4690135133286688,
            ],
        ),
        (
            (3, 1),
            [
                0.6184230874640091,
                0.006730387755032874,
                0.059132760471233836,
                0.4529869227054881,
                -0.46406660257651744,
            ],
        ),
        (
            (3, 9),
            [
                0.6317848770526673,
                -7.985881724870136e-5,
                0.30268333318272533,
                0.48579844461523736,
                -0.4976065933403653,
            ],
        ),
    ];
    const PROP2_LOW: [f64; 5] = [0.6, -0.5, -0.5, 0.45, -0.5];
    const PROP2_HIGH: [f64; 5] = [0.679857769, 0.5, 0.5, 0.5, -0.45];

    fn coc_is_maximal(y: &[f64]) -> bool {
        y.iter().skip(1).all(|&other| other <= y[0])
    }

    #[test]
    fn acas_xu_outputs_agree_with_the_published_verdicts() {
        let verdicts = fs::read_to_string(repo_data("acasxu/expected.csv")).unwrap();
        for ((a, b), x) in PROP2_COUNTEREXAMPLES {
            let name = format!("ACASXU_run2a_{a}_{b}_batch_2000.nnet,prop_2.vnnlib,unsafe");
            assert!(verdicts.contains(&name), "{name}");
            assert!((0..5).all(|i| PROP2_LOW[i] <= x[i] && x[i] <= PROP2_HIGH[i]));
            let y = acas(a, b).net.forward(&x);
            // Clear margins (≥ 0.02), so this does not hinge on rounding.
            assert!(
                y.iter().skip(1).all(|&other| other + 0.02 <= y[0]),
                "{a}_{b}: {y:?}"
            );
        }
        // Network 1_1 satisfies property 2 (and, like all 45, property 1: COC < 3.991125…).
        let net = acas(1, 1).net;
        let mut lcg = Lcg(7);
        for _ in 0..300 {
            let x: Vec<f64> = (0..5)
                .map(|i| PROP2_LOW[i] + (PROP2_HIGH[i] - PROP2_LOW[i]) * lcg.unit())
                .collect();
            let y = net.forward(&x);
            assert!(y.iter().all(|v| v.is_finite()));
            assert!(
                !coc_is_maximal(&y) && y[0] < 3.991125645861615,
                "{x:?} → {y:?}"
            );
        }
    }

    #[test]
    fn real_files_round_trip_exactly() {
        let mut paths = nnet_files("rocket-agents");
        paths.push(repo_data("acasxu/nnet/ACASXU_run2a_1_1_batch_2000.nnet"));
        let dir = tempfile::tempdir().unwrap();
        for path in paths {
            let original = read_nnet(&path).unwrap();
            let copy_path = dir.path().join("copy.nnet");
            write_nnet(&copy_path, &original).unwrap();
            let copy = read_nnet(&copy_path).unwrap();
            assert_identical(&original, &copy);
            let x = vec![0.1; original.net.input_dim()];
            let (y0, y1) = (original.net.forward(&x), copy.net.forward(&x));
            assert_eq!(
                y0.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                y1.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            );
        }
        // Only the target is left: no temporary files.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["copy.nnet"]);
    }

    /// A tiny deterministic generator (PCG-style LCG), so the test needs no `rand`.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 11
        }

        fn below(&mut self, n: u64) -> usize {
            (self.next() % n) as usize
        }

        fn unit(&mut self) -> f64 {
            self.next() as f64 / (1u64 << 53) as f64
        }

        /// Mostly ordinary weights, sometimes awkward ones: any finite bit pattern (subnormals,
        /// huge exponents), ±0, values needing all 17 digits.
        fn weight(&mut self) -> f64 {
            match self.below(4) {
                0 => loop {
                    let v = f64::from_bits(self.next() << 11 | self.next() >> 42);
                    if v.is_finite() {
                        return v;
                    }
                },
                1 => [0.0, -0.0, f64::MIN_POSITIVE, -f64::MAX, 5e-324, 0.1 + 0.2][self.below(6)],
                _ => (self.unit() - 0.5) * 4.0,
            }
        }
    }

    fn random_file(lcg: &mut Lcg) -> NnetFile {
        let depth = 1 + lcg.below(4);
        let sizes: Vec<usize> = (0..=depth).map(|_| 1 + lcg.below(6)).collect();
        let layers = sizes
            .windows(2)
            .map(|pair| Layer {
                weights: DMatrix::from_fn(pair[1], pair[0], |_, _| lcg.weight()),
                bias: DVector::from_fn(pair[1], |_, _| lcg.weight()),
            })
            .collect();
        let inputs = sizes[0];
        let mut values = |n: usize| (0..n).map(|_| lcg.weight()).collect::<Vec<_>>();
        let normalization = Normalization {
            input_min: values(inputs),
            input_max: values(inputs),
            means: values(inputs + 1),
            ranges: values(inputs + 1),
        };
        NnetFile {
            net: ReluNet::new(layers).unwrap(),
            normalization,
            comments: vec![
                "random network".into(),
                String::new(),
                "  indented, with // inside".into(),
            ],
        }
    }

    #[test]
    fn random_networks_round_trip_bit_for_bit() {
        let mut lcg = Lcg(42);
        for _ in 0..300 {
            let file = random_file(&mut lcg);
            let text = to_nnet_string(&file);
            let back = parse_nnet(&text, "random.nnet").unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_identical(&file, &back);
        }
    }

    #[test]
    fn identity_normalization_round_trips() {
        let mut file = random_file(&mut Lcg(1));
        file.normalization = Normalization::identity(file.net.input_dim());
        let text = to_nnet_string(&file);
        assert!(text.contains("-3.4028234663852886e38,"), "{text}");
        assert_identical(&file, &parse_nnet(&text, "identity.nnet").unwrap());
    }

    #[test]
    fn writing_refuses_files_that_would_not_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.nnet");
        let mut file = random_file(&mut Lcg(3));
        file.normalization.means.pop();
        let err = write_nnet(&path, &file).unwrap_err();
        assert!(matches!(err, NnetError::Shape { .. }), "{err}");
        assert!(
            err.to_string().contains("bad.nnet") && err.to_string().contains("means"),
            "{err}"
        );

        let mut file = random_file(&mut Lcg(3));
        let mut layers = file.net.into_layers();
        layers[0].weights[(0, 0)] = f64::NAN;
        file.net = ReluNet::new(layers).unwrap();
        let err = write_nnet(&path, &file).unwrap_err();
        assert!(err.to_string().contains("NaN"), "{err}");
        assert!(
            fs::read_dir(dir.path()).unwrap().next().is_none(),
            "nothing written"
        );
    }

    #[test]
    fn io_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing.nnet");
        let err = read_nnet(&path).unwrap_err();
        assert!(matches!(err, NnetError::Io { .. }));
        assert!(err.to_string().contains("missing.nnet"), "{err}");
        let file = random_file(&mut Lcg(5));
        let err = write_nnet(&dir.path().join("no/such/dir/x.nnet"), &file).unwrap_err();
        assert!(err.to_string().contains("x.nnet"), "{err}");
    }

    /// 2 → 3 → 1 with W1 = [[1,2],[3,4],[5,6]], b1 = [0.5,-0.5,0], W2 = [1,1,1], b2 = 2.
    /// Line numbers are those of the file (the comment is line 1).
    const TINY: &str = "\
// tiny
2,2,1,3,
2,3,1,
0,
-1,-1,
1,1,
0,0,0,
1,1,1,
1,2,
3,4,
5,6,
0.5,
-0.5,
0,
1,1,1,
2,
";

    /// TINY with line `line` (1-based) replaced by `text` (or removed if `None`).
    fn tiny_with(line: usize, text: Option<&str>) -> String {
        let mut lines: Vec<&str> = TINY.lines().collect();
        match text {
            Some(text) => lines[line - 1] = text,
            None => {
                lines.remove(line - 1);
            }
        }
        lines.join("\n")
    }

    /// Parses `text` expecting a parse error at `line` whose message contains `needle`.
    fn assert_parse_error(text: &str, line: usize, needle: &str) {
        let err = parse_nnet(text, "tiny.nnet").unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(err, NnetError::Parse { line: l, .. } if l == line),
            "wanted line {line}: {message}"
        );
        assert!(
            message.starts_with(&format!("tiny.nnet line {line}: ")),
            "{message}"
        );
        assert!(message.contains(needle), "wanted '{needle}' in: {message}");
    }

    #[test]
    fn parses_the_tiny_network() {
        let file = parse_nnet(TINY, "tiny.nnet").unwrap();
        assert_eq!(file.comments, ["tiny"]);
        // hidden = relu([1+2+0.5, 3+4-0.5, 5+6]) = [3.5, 6.5, 11]; out = 21 + 2
        assert_eq!(file.net.forward(&[1.0, 1.0]), [23.0]);
        // Tolerated: CRLF, spaces, missing trailing commas, blank lines, trailing whitespace.
        let loose = TINY.replace(",\n", " \r\n").replace("1,2", " 1 , 2 ") + "\n  \n\t\n";
        let loose = loose.replacen("0 \r\n", "\r\n0 \r\n\r\n", 1);
        assert_eq!(parse_nnet(&loose, "loose.nnet").unwrap(), file);
    }

    #[test]
    fn truncated_file() {
        let text = TINY.lines().take(14).collect::<Vec<_>>().join("\n");
        assert_parse_error(&text, 14, "expected 2 more rows for layer 2");
        let text = TINY.lines().take(10).collect::<Vec<_>>().join("\n");
        assert_parse_error(&text, 10, "expected 4 more rows for layer 1");
        assert_parse_error("// only a comment\n", 1, "header");
        assert_parse_error("// only a comment\n2,2,1,3,\n2,3,1,\n", 3, "flag");
    }

    #[test]
    fn empty_file() {
        assert_parse_error("", 1, "empty file");
        assert_parse_error("\n  \n", 2, "header");
    }

    #[test]
    fn wrong_row_length() {
        assert_parse_error(
            &tiny_with(10, Some("3,")),
            10,
            "expected 2 weights (layer 1, neuron 2), found 1",
        );
        assert_parse_error(&tiny_with(10, Some("3,4,5,")), 10, "found 3");
        assert_parse_error(
            &tiny_with(16, Some("2,3,")),
            16,
            "expected 1 bias (layer 2, neuron 1), found 2",
        );
        assert_parse_error(&tiny_with(7, Some("0,0,")), 7, "expected 3 means");
        assert_parse_error(
            &tiny_with(5, Some("-1,")),
            5,
            "expected 2 input minimums, found 1",
        );
        assert_parse_error(&tiny_with(10, Some("3,,")), 10, "value 2 of the weights");
    }

    #[test]
    fn bad_number() {
        assert_parse_error(&tiny_with(10, Some("3,abc,")), 10, "bad number 'abc'");
        assert_parse_error(&tiny_with(2, Some("2,2,1,x,")), 2, "bad integer 'x'");
        assert_parse_error(&tiny_with(2, Some("2,2,1.0,3,")), 2, "bad integer '1.0'");
        assert_parse_error(&tiny_with(3, Some("2,3,-1,")), 3, "bad integer '-1'");
        assert_parse_error(&tiny_with(4, Some("zero,")), 4, "bad integer 'zero'");
    }

    #[test]
    fn non_finite_values() {
        assert_parse_error(
            &tiny_with(10, Some("NaN,4,")),
            10,
            "'NaN' in the weights (layer 1, neuron 2) is not a finite number",
        );
        assert_parse_error(&tiny_with(12, Some("inf,")), 12, "not a finite number");
        assert_parse_error(&tiny_with(12, Some("1e999,")), 12, "not a finite number");
        assert_parse_error(&tiny_with(8, Some("1,-infinity,1,")), 8, "ranges");
    }

    #[test]
    fn header_disagreeing_with_layer_sizes() {
        assert_parse_error(
            &tiny_with(2, Some("2,3,1,3,")),
            3,
            "input size (first layer size) is 2 here but 3 in the header (line 2)",
        );
        assert_parse_error(&tiny_with(2, Some("2,2,2,3,")), 3, "output size");
        assert_parse_error(
            &tiny_with(2, Some("2,2,1,4,")),
            3,
            "largest layer size is 3 here but 4",
        );
        assert_parse_error(
            &tiny_with(2, Some("3,2,1,3,")),
            3,
            "expected 4 layer sizes, found 3",
        );
        assert_parse_error(&tiny_with(2, Some("0,2,1,3,")), 2, "must be positive");
        assert_parse_error(&tiny_with(2, Some("2,2,1,")), 2, "expected 4 header values");
        assert_parse_error(&tiny_with(3, Some("2,0,1,")), 3, "layer size 2 is 0");
        // A missing flag line is caught at once rather than shifting every later row.
        assert_parse_error(&tiny_with(4, None), 4, "expected 1 legacy flag");
    }

    #[test]
    fn trailing_garbage() {
        assert_parse_error(
            &format!("{TINY}\n\n7,\n"),
            19,
            "expected the end of the file after the last layer, found '7,'",
        );
        assert_parse_error(
            &format!("{TINY}// a late comment"),
            17,
            "found '// a late comment'",
        );
    }

    #[test]
    fn never_panics_on_mangled_input() {
        let replacements = [
            "",
            ",",
            "-",
            "9",
            "e",
            "\n",
            "18446744073709551615",
            "99999999999999999999",
            "é",
        ];
        for (position, _) in TINY.char_indices() {
            for replacement in replacements {
                let mut text = TINY.to_string();
                text.replace_range(position..position + 1, replacement);
                let _ = parse_nnet(&text, "mangled.nnet");
                let _ = parse_nnet(&text[..position], "cut.nnet");
            }
        }
    }
}
