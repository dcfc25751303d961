//! `gradient!`: a scalar function of matrices and its gradients, derived by matdiff at compile
//! time and emitted as a faer function (the Rust target of `matdiff-codegen`).
//!
//! ```
//! matdiff_macros::gradient!(fn loss_grad = "tr(Y'*M*Y) where Y = sigmoid(W*X)", wrt X, let "M: symmetric");
//!
//! let (w, x) = (faer::Mat::<f64>::identity(2, 3), faer::Mat::<f64>::zeros(3, 4));
//! let m = faer::Mat::<f64>::identity(2, 2);
//! let (loss, grad_x) = loss_grad(m.as_ref(), w.as_ref(), x.as_ref());
//! assert_eq!(loss, 2.0); // Y = sigmoid(0) = 1/2 in all 8 entries: tr(Y'Y) = 8 * 1/4
//! assert_eq!((grad_x.nrows(), grad_x.ncols()), (3, 4));
//! ```
//!
//! The generated function takes the variables sorted by name (`MatRef<'_, f64>` for matrices
//! and vectors, `f64` for scalars), then each abstract element-wise function and its
//! derivatives (`impl Fn(f64) -> f64`), and returns the value followed by the gradients in the
//! order of `wrt`. It uses faer (the calling crate depends on it) and nothing of matdiff. A bad
//! expression is a compile error with the caret message of the command line.

#![warn(missing_docs)]

use proc_macro::TokenStream;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, LitStr, Token};

use matdiff_codegen::{codegen, CodegenError, Lang, Options};

/// `gradient!(fn NAME = "EXPR", wrt X[, Y ...][, let "DECL" ...])`: the function `NAME`
/// returning the value of EXPR and its gradients with respect to `X`, `Y`, ... in that order.
#[proc_macro]
pub fn gradient(input: TokenStream) -> TokenStream {
    let spec = syn::parse_macro_input!(input as Spec);
    match expand(&spec) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

struct Spec {
    name: Ident,
    expr: LitStr,
    wrt: Vec<Ident>,
    decls: Vec<LitStr>,
}

impl Parse for Spec {
    fn parse(input: ParseStream<'_>) -> syn::Result<Spec> {
        input.parse::<Token![fn]>()?;
        let name: Ident = input.parse()?;
        input.parse::<Token![=]>()?;
        let expr: LitStr = input.parse()?;
        input.parse::<Token![,]>()?;
        let wrt_kw: Ident = input.parse()?;
        if wrt_kw != "wrt" {
            return Err(syn::Error::new(wrt_kw.span(), "expected `wrt`"));
        }
        let mut wrt = vec![input.parse::<Ident>()?];
        let mut decls = Vec::new();
        while input.parse::<Option<Token![,]>>()?.is_some() {
            if input.is_empty() {
                break;
            }
            if input.parse::<Option<Token![let]>>()?.is_some() {
                decls.push(input.parse::<LitStr>()?);
            } else if decls.is_empty() {
                wrt.push(input.parse()?);
            } else {
                return Err(input.error("expected `let \"DECL\"`"));
            }
        }
        if !input.is_empty() {
            return Err(input.error("expected `,` or the end"));
        }
        Ok(Spec {
            name,
            expr,
            wrt,
            decls,
        })
    }
}

fn expand(spec: &Spec) -> syn::Result<proc_macro2::TokenStream> {
    let src = spec.expr.value();
    let wrt: Vec<String> = spec.wrt.iter().map(Ident::to_string).collect();
    let wrt: Vec<&str> = wrt.iter().map(String::as_str).collect();
    let decl_texts: Vec<String> = spec.decls.iter().map(LitStr::value).collect();
    let decls: Vec<&str> = decl_texts.iter().map(String::as_str).collect();
    let options = Options {
        name: spec.name.to_string(),
        ..Options::default()
    };
    let code = codegen(&src, &wrt, &decls, Lang::Rust, &options).map_err(|e| {
        let (span, message) = match &e {
            CodegenError::Parse(p) => (spec.expr.span(), p.render(&src)),
            CodegenError::Decl { decl, error } => {
                let k = decl_texts.iter().position(|d| d == decl).unwrap_or(0);
                (spec.decls[k].span(), error.render(decl))
            }
            other => (spec.expr.span(), format!("error: {other}")),
        };
        // The compiler adds its own `error: `.
        let message = message.strip_prefix("error: ").unwrap_or(&message);
        syn::Error::new(span, message)
    })?;
    code.parse::<proc_macro2::TokenStream>()
        .map_err(|e| syn::Error::new(spec.expr.span(), format!("generated code: {e}")))
}
