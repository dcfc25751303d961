//! Trains a 64-128-10 network (tanh hidden layer, softmax cross-entropy) on the digits data set,
//! with a fixed seeded 80/20 split, and prints the test accuracy.
//!
//! `cargo run --release -p matdiff-nn --example digits -- [--plot FILE.svg] [--save FILE.safetensors]
//! [--epochs N] [--f64]`

use std::time::Instant;

use anyhow::{bail, Context, Result};
use matdiff_nn::{digits, Activation, Loss, Network, Optimizer, Real, TrainConfig};

struct Args {
    plot: Option<String>,
    save: Option<String>,
    epochs: usize,
    batch: usize,
    adam: Option<f64>,
    f64: bool,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        plot: None,
        save: None,
        epochs: 50,
        batch: 32,
        adam: None,
        f64: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--plot" => args.plot = Some(value("--plot")?),
            "--save" => args.save = Some(value("--save")?),
            "--epochs" => {
                let v = value("--epochs")?;
                args.epochs = v
                    .parse()
                    .with_context(|| format!("--epochs: `{v}` is not a count"))?;
            }
            "--batch" => {
                let v = value("--batch")?;
                args.batch = v
                    .parse()
                    .with_context(|| format!("--batch: `{v}` is not a count"))?;
            }
            "--adam" => {
                let v = value("--adam")?;
                args.adam = Some(
                    v.parse()
                        .with_context(|| format!("--adam: `{v}` is not a rate"))?,
                );
            }
            "--f64" => args.f64 = true,
            "-h" | "--help" => {
                println!("usage: digits [--plot FILE.svg] [--save FILE.safetensors] [--epochs N] [--f64]");
                std::process::exit(0);
            }
            other => bail!("unknown argument `{other}` (try --help)"),
        }
    }
    Ok(args)
}

fn run<T: Real>(args: &Args) -> Result<()> {
    let started = Instant::now();
    let (train, test) = digits::<T>().split(0.8, 42)?;
    let mut net = Network::<T>::builder(64)
        .dense(128, Activation::Tanh)
        .output(10, Loss::SoftmaxCrossEntropy)
        .seed(0)
        .build()?;
    let config = TrainConfig {
        epochs: args.epochs,
        batch_size: args.batch,
        optimizer: match args.adam {
            Some(rate) => Optimizer::adam(rate),
            None => Optimizer::momentum(0.05, 0.9),
        },
        weight_decay: 1e-4,
        seed: 7,
        progress: true,
    };
    let history = net.fit(&train, Some(&test), &config)?;
    let seconds = started.elapsed().as_secs_f64();
    let test_metrics = net.evaluate(&test)?;
    let last = history.epochs.last().context("no epoch was run")?;
    println!(
        "digits 64-128-10 ({}), {} train / {} test examples, {} epochs",
        T::DTYPE_NAME,
        train.len(),
        test.len(),
        args.epochs
    );
    println!(
        "train loss {:.4}, accuracy {:.4}",
        last.train.loss,
        last.train.accuracy.unwrap_or(f64::NAN)
    );
    println!(
        "test loss {:.4}, test accuracy {:.2}%",
        test_metrics.loss,
        100.0 * test_metrics.accuracy.unwrap_or(f64::NAN)
    );
    println!("time: {seconds:.2} s (loading, training and evaluation)");
    if let Some(path) = &args.plot {
        std::fs::write(path, history.to_svg()?).with_context(|| format!("writing {path}"))?;
        println!("curves written to {path}");
    }
    if let Some(path) = &args.save {
        std::fs::write(path, net.to_safetensors()?).with_context(|| format!("writing {path}"))?;
        println!("weights written to {path}");
    }
    Ok(())
}

fn main() -> Result<()> {
    let args = parse_args()?;
    if args.f64 {
        run::<f64>(&args)
    } else {
        run::<f32>(&args)
    }
}
