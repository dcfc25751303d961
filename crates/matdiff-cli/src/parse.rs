//! `matdiff parse EXPR`: the canonical form, the shapes and the LaTeX.

use matdiff_expr::{Expr, ExprId, ExprPool, Node, Style};
use serde_json::{json, Map, Value};

use crate::common::{Common, Format, Outcome};

/// Arguments of `matdiff parse`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The expression (it may begin with '-', as in "-2*X"); '-' reads it from standard input, '@path'
    /// from a file.
    #[arg(allow_hyphen_values = true)]
    expr: String,
    #[command(flatten)]
    common: Common,
}

/// A variable of the expression with its shape as text.
struct Variable {
    name: String,
    shape: String,
    symmetric: bool,
    structure: matdiff_expr::Structure,
}

impl Variable {
    fn describe(&self) -> String {
        match (self.structure, self.symmetric) {
            (matdiff_expr::Structure::General, true) => format!("{}, symmetric", self.shape),
            (matdiff_expr::Structure::General, false) => self.shape.clone(),
            (s, _) => format!("{}, {}", self.shape, s.name()),
        }
    }
}

pub(crate) fn run(args: Args) -> Outcome {
    let mut pool = crate::common::pool();
    let e = args.common.parse(&mut pool, &args.expr, &[])?;
    let print = |style| pool.printer(style).with_bindings(&e.bindings).print(e.root);
    let vars = variables(&pool, &e);
    let shape = pool.shape_str(pool.shape(e.root));
    let listing = || {
        let mut out = format!("shape: {shape}\n");
        if vars.is_empty() {
            out.push_str("variables: none\n");
        } else {
            out.push_str("variables:\n");
            for v in &vars {
                out.push_str(&format!("  {}: {}\n", v.name, v.describe()));
            }
        }
        out
    };
    Ok(match args.common.format {
        Format::Json => {
            let vars: Map<String, Value> = vars
                .iter()
                .map(|v| {
                    let mut value = json!({ "shape": v.shape, "symmetric": v.symmetric });
                    if v.structure != matdiff_expr::Structure::General {
                        value["structure"] = json!(v.structure.name());
                    }
                    (v.name.clone(), value)
                })
                .collect();
            let v = json!({
                "canonical": print(Style::Plain),
                "unicode": print(Style::Unicode),
                "latex": print(Style::Latex),
                "shape": shape,
                "variables": vars,
            });
            format!("{v:#}\n")
        }
        Format::Latex => format!("{}\n\n{}", print(Style::Latex), listing()),
        Format::Markdown => {
            let mut out = format!("$$\n{}\n$$\n\n- shape: {shape}\n", print(Style::Latex));
            for v in &vars {
                out.push_str(&format!("- `{}`: {}\n", v.name, v.describe()));
            }
            out
        }
        format => {
            let main = if format == Format::Unicode {
                print(Style::Unicode)
            } else {
                print(Style::Plain)
            };
            format!("{main}\n\n{}\nlatex: {}\n", listing(), print(Style::Latex))
        }
    })
}

/// The variables that occur in the expression or its bindings, sorted by name, with their shapes.
fn variables(pool: &ExprPool, e: &Expr) -> Vec<Variable> {
    let mut seen = vec![false; pool.len()];
    let mut stack: Vec<ExprId> = e.bindings.iter().map(|b| b.1).collect();
    stack.push(e.root);
    let mut out = Vec::new();
    while let Some(id) = stack.pop() {
        if std::mem::replace(&mut seen[id.index()], true) {
            continue;
        }
        let node = pool.node(id);
        if let Node::Var(s) = node {
            let info = pool.var_info(*s).expect("parsed variables are declared");
            out.push(Variable {
                name: pool.name(*s).to_string(),
                shape: pool.shape_str(info.shape),
                symmetric: info.symmetric,
                structure: info.structure,
            });
        }
        stack.extend_from_slice(node.children());
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}
