//! The `matdiff` command: parse, differentiate, evaluate, check, solve and minimize matrix expressions,
//! and generate code from them.
//!
//! A thin layer over the library crates: argument parsing (clap), JSON in and out, error
//! rendering. Errors go to stderr (and as `{"error": ...}` to stdout with `--format json`) with
//! exit code 2.

mod check;
mod codegen;
mod common;
mod eval;
mod fit;
mod grad;
mod hessian;
mod kronecker;
mod minimize;
mod parse;
mod solve;
mod values;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Matrix calculus by the differential method.
#[derive(Parser)]
#[command(name = "matdiff", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the canonical form, the shapes and the LaTeX of an expression.
    Parse(parse::Args),
    /// Evaluate an expression at the values of its variables (VALUES.json).
    Eval(eval::Args),
    /// Derive the gradient of a scalar expression (with --steps: the derivation).
    Grad(grad::Args),
    /// Check the derived gradient against the complex step and central differences.
    Check(check::Args),
    /// Derive the Hessian of a scalar expression (vec layout), or with --hvp V its
    /// Hessian-vector product.
    Hessian(hessian::HessianArgs),
    /// Derive the Jacobian d vec(F)/d x' of a vector-valued expression.
    Jacobian(hessian::JacobianArgs),
    /// Solve for the stationary point where the gradient is affine in the variable.
    Solve(solve::Args),
    /// Print NumPy, JAX or Rust source of a function returning the value and its gradients.
    Codegen(codegen::Args),
    /// Fit a linear model to a CSV table by least squares (normal equation, QR or SVD).
    Fit(fit::Args),
    /// Minimise a scalar expression by Newton's method on its derived gradient and Hessian.
    Minimize(minimize::Args),
}

fn run(cli: Cli) -> common::Outcome {
    match cli.command {
        Command::Parse(args) => parse::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Grad(args) => grad::run(args),
        Command::Check(args) => check::run(args),
        Command::Hessian(args) => hessian::run_hessian(args),
        Command::Jacobian(args) => hessian::run_jacobian(args),
        Command::Solve(args) => solve::run(args),
        Command::Codegen(args) => codegen::run(args),
        Command::Fit(args) => fit::run(args),
        Command::Minimize(args) => minimize::run(args),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Deep expressions recurse: give the work a large stack.
    let worker = std::thread::Builder::new()
        .stack_size(512 << 20)
        .spawn(move || run(cli));
    let outcome = match worker.map(|w| w.join()) {
        Ok(Ok(outcome)) => outcome,
        _ => Err(common::Failed::new(
            "internal error: the worker thread failed",
            false,
        )),
    };
    match outcome {
        Ok(text) => {
            write_stdout(&text);
            ExitCode::SUCCESS
        }
        Err(failed) if failed.stdout => {
            write_stdout(&failed.message);
            ExitCode::from(failed.code)
        }
        Err(failed) => {
            if failed.json {
                println!("{}", serde_json::json!({ "error": failed.message }));
            }
            eprintln!("{}", failed.message);
            ExitCode::from(failed.code)
        }
    }
}

/// Writes to standard output; a reader that closed the pipe early (`| head`) is not an error.
fn write_stdout(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}
