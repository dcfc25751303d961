//! What the subcommands share: output formats, declarations, error rendering.

use clap::ValueEnum;
use matdiff_expr::{Decl, Expr, ExprPool, ParseError};

/// What a subcommand prints on success, or why it failed.
pub(crate) type Outcome = Result<String, Failed>;

/// A failure, already worded for the user.
#[derive(Debug)]
pub(crate) struct Failed {
    /// The message, possibly several lines (source and caret).
    pub(crate) message: String,
    /// Whether to also print `{"error": ...}` on stdout.
    pub(crate) json: bool,
    /// The exit code: 2 for bad input, 1 for a check that failed.
    pub(crate) code: u8,
    /// Whether the message is a report for stdout rather than an error for stderr.
    pub(crate) stdout: bool,
}

impl Failed {
    pub(crate) fn new(message: impl Into<String>, json: bool) -> Failed {
        Failed {
            message: message.into(),
            json,
            code: 2,
            stdout: false,
        }
    }

    /// A report printed on stdout with exit code 1: the command ran, and what it checked failed.
    pub(crate) fn report(message: impl Into<String>) -> Failed {
        Failed {
            message: message.into(),
            json: false,
            code: 1,
            stdout: true,
        }
    }
}

/// Output formats of the command line.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Plain text in the input syntax.
    Text,
    /// Text with Unicode symbols (ᵀ, ⊙, σ).
    Unicode,
    /// LaTeX.
    Latex,
    /// Markdown with LaTeX math.
    Markdown,
    /// One JSON object.
    Json,
}

/// The options every subcommand takes.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct Common {
    /// A declaration: 'X: 3x4', 'X: m x n', 'c: scalar', 'M: symmetric' (repeatable).
    #[arg(long = "let", value_name = "DECL")]
    pub(crate) lets: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
}

impl Common {
    pub(crate) fn json(&self) -> bool {
        self.format == Format::Json
    }

    /// The declarations, parsed.
    pub(crate) fn decls(&self) -> Result<Vec<Decl>, Failed> {
        self.lets
            .iter()
            .map(|text| {
                Decl::parse(text).map_err(|e| Failed::new(render_decl(&e, text), self.json()))
            })
            .collect()
    }

    /// Parses EXPR with the declarations (and any extra ones) into `pool`.
    pub(crate) fn parse(
        &self,
        pool: &mut ExprPool,
        src: &str,
        extra: &[Decl],
    ) -> Result<Expr, Failed> {
        let text = read_source(src).map_err(|m| Failed::new(m, self.json()))?;
        let src = text.as_str();
        let mut decls = self.decls()?;
        let given = decls.len();
        decls.extend_from_slice(extra);
        pool.parse_with(src, &decls).map_err(|e| {
            let text = match e.decl {
                Some(k) if k < given => render_decl(&e, &self.lets[k]),
                Some(_) => format!("error: {}", e.message),
                None => e.render(src),
            };
            Failed::new(text, self.json())
        })
    }
}

/// The text of EXPR: `-` is standard input, `@path` the contents of a file, anything else itself.
pub(crate) fn read_source(arg: &str) -> Result<String, String> {
    if arg == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| format!("error: cannot read the expression from standard input: {e}"))?;
        Ok(text)
    } else if let Some(path) = arg.strip_prefix('@') {
        std::fs::read_to_string(path)
            .map_err(|e| format!("error: cannot read the expression from '{path}': {e}"))
    } else {
        Ok(arg.to_string())
    }
}

fn render_decl(e: &ParseError, text: &str) -> String {
    let rendered = e.render(text);
    rendered.replacen("error: ", "error: in --let: ", 1)
}

/// A pool for the CLI's work, which runs on a 512 MiB stack (see `main`): expressions may nest
/// 2,048 levels and grow 8,192 high (a network of about 2,000 layers written with `where`),
/// beyond the library's defaults for ordinary stacks, and be 64 MiB long (from a file or
/// standard input).
pub(crate) fn pool() -> matdiff_expr::ExprPool {
    matdiff_expr::ExprPool::with_limits(matdiff_expr::Limits {
        max_input_bytes: 64 << 20,
        max_nesting: 2048,
        max_height: 8192,
        ..matdiff_expr::Limits::default()
    })
}

/// The expression and the variable of `grad`, `check` and `solve`.
#[derive(clap::Args, Debug)]
pub(crate) struct Target {
    /// The scalar expression (it may begin with '-'); '-' reads it from standard input, '@path'
    /// from a file.
    #[arg(allow_hyphen_values = true)]
    pub(crate) expr: String,
    /// The variable to differentiate with respect to.
    #[arg(long, value_name = "NAME")]
    pub(crate) wrt: String,
}
