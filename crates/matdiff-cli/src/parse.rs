//! `matdiff parse EXPR`: the canonical form, the shapes and the LaTeX.

use matdiff_expr::{ExprId, ExprPool, Node, Style};

use crate::common::{Common, Failed, Format, Outcome};

/// Arguments of `matdiff parse`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The expression (it may begin with '-').
    #[arg(allow_hyphen_values = true)]
    expr: String,
    #[command(flatten)]
    common: Common,
}

pub(crate) fn run(args: Args) -> Outcome {
    let mut pool = ExprPool::new();
    let e = args.common.parse(&mut pool, &args.expr, &[])?;
    let print = |style| pool.printer(style).with_bindings(&e.bindings).print(e.root);
    let vars = variables(&pool, e.root);
    let shape = pool.shape_str(pool.shape(e.root));
    Ok(match args.common.format {
        Format::Json => {
            let vars: serde_json::Map<String, serde_json::Value> = vars
                .iter()
                .map(|(n, s)| (n.clone(), serde_json::Value::String(s.clone())))
                .collect();
            let v = serde_json::json!({
                "canonical": print(Style::Plain),
                "unicode": print(Style::Unicode),
                "latex": print(Style::Latex),
                "shape": shape,
                "variables": vars,
            });
            format!("{v:#}\n")
        }
        format => {
            let main = match format {
                Format::Unicode => print(Style::Unicode),
                Format::Latex | Format::Markdown => print(Style::Latex),
                _ => print(Style::Plain),
            };
            let mut out = format!("{main}\n\nshape: {shape}\n");
            for (name, s) in &vars {
                out.push_str(&format!("  {name}: {s}\n"));
            }
            if format != Format::Latex {
                out.push_str(&format!("\nlatex: {}\n", print(Style::Latex)));
            }
            out
        }
    })
    .map_err(|e: Failed| e)
}

/// The variables that occur under `root`, sorted by name, with their shapes.
fn variables(pool: &ExprPool, root: ExprId) -> Vec<(String, String)> {
    let mut seen = vec![false; root.index() + 1];
    let mut stack = vec![root];
    let mut out = Vec::new();
    while let Some(id) = stack.pop() {
        if std::mem::replace(&mut seen[id.index()], true) {
            continue;
        }
        let node = pool.node(id);
        if let Node::Var(s) = node {
            let info = pool.var_info(*s).expect("parsed variables are declared");
            let mut shape = pool.shape_str(info.shape);
            if info.symmetric {
                shape.push_str(", symmetric");
            }
            out.push((pool.name(*s).to_string(), shape));
        }
        stack.extend_from_slice(node.children());
    }
    out.sort();
    out
}
