//! `matdiff codegen EXPR --wrt X[,Y] --lang numpy|jax|rust`: the source of a function that
//! returns the value of EXPR and its gradients (matdiff-codegen).

use clap::ValueEnum;
use matdiff_codegen::{Lang, Options, Program};

use crate::common::{Common, Failed, Outcome};

/// Target languages of `matdiff codegen`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Language {
    /// Python with NumPy.
    Numpy,
    /// Python with jax.numpy (usable under jax.jit).
    Jax,
    /// Rust over faer.
    Rust,
}

/// Arguments of `matdiff codegen`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The scalar expression (it may begin with '-').
    #[arg(allow_hyphen_values = true)]
    expr: String,
    /// The variables to differentiate with respect to, comma-separated: the gradients are
    /// returned in this order, after the value.
    #[arg(long, value_name = "X[,Y]", value_delimiter = ',', required = true)]
    wrt: Vec<String>,
    /// The target language.
    #[arg(long, value_enum, default_value_t = Language::Numpy)]
    lang: Language,
    /// The name of the generated function.
    #[arg(long, default_value = "f_and_grad")]
    name: String,
    /// Python targets: also print check_gradient(), a central-difference check of the gradients.
    #[arg(long)]
    check_gradient: bool,
    /// Differentiate the matrix-valued EXPR through tr(G'*EXPR), G the upstream gradient.
    #[arg(long, value_name = "G")]
    upstream: Option<String>,
    #[command(flatten)]
    common: Common,
}

pub(crate) fn run(args: Args) -> Outcome {
    let json = args.common.json();
    let mut pool = crate::common::pool();
    let e = args.common.parse(&mut pool, &args.expr, &[])?;
    let mut derivations = Vec::new();
    for wrt in &args.wrt {
        derivations.push(crate::grad::derive_parsed(
            &mut pool,
            &e,
            &args.common,
            wrt.trim(),
            args.upstream.as_deref(),
            false,
        )?);
    }
    let lang = match args.lang {
        Language::Numpy => Lang::NumPy,
        Language::Jax => Lang::Jax,
        Language::Rust => Lang::Rust,
    };
    let options = Options {
        name: args.name.clone(),
        check_gradient: args.check_gradient,
        ..Options::default()
    };
    let source = Program::new(&pool, &e.bindings, &derivations)
        .and_then(|p| p.print(lang, &options))
        .map_err(|err| Failed::new(format!("error: {err}"), json))?;
    Ok(if json {
        format!("{}\n", serde_json::json!({ "source": source }))
    } else {
        source
    })
}
