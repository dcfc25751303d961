//! The loss and accuracy history of a training run, drawn to an SVG chart with plotters.

use plotters::prelude::*;

use crate::error::NnError;
use crate::train::{History, Metrics};

impl History {
    /// An SVG chart of the history: loss per epoch on the left, accuracy on the right (when the
    /// loss classifies), training and validation curves.
    ///
    /// ```
    /// use matdiff_nn::{EpochMetrics, History, Metrics};
    /// let m = |loss, acc| Metrics { loss, accuracy: Some(acc) };
    /// let history = History {
    ///     epochs: vec![
    ///         EpochMetrics { epoch: 1, train: m(1.0, 0.6), valid: Some(m(1.1, 0.5)), seconds: 0.1 },
    ///         EpochMetrics { epoch: 2, train: m(0.5, 0.9), valid: Some(m(0.6, 0.8)), seconds: 0.2 },
    ///     ],
    /// };
    /// let svg = history.to_svg().unwrap();
    /// assert!(svg.starts_with("<svg") && svg.contains("accuracy"));
    /// ```
    pub fn to_svg(&self) -> Result<String, NnError> {
        let mut svg = String::new();
        draw(self, &mut svg).map_err(|e| NnError::Plot(e.to_string()))?;
        Ok(svg)
    }
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn draw(history: &History, out: &mut String) -> DrawResult {
    let classifies = history.epochs.iter().any(|e| e.train.accuracy.is_some());
    let width = if classifies { 1000 } else { 520 };
    let root = SVGBackend::with_string(out, (width, 400)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = if classifies {
        root.split_evenly((1, 2))
    } else {
        vec![root.clone()]
    };
    let curve = |pick: fn(&Metrics) -> Option<f64>, valid: bool| -> Vec<(f64, f64)> {
        history
            .epochs
            .iter()
            .filter_map(|e| {
                let m = if valid { e.valid.as_ref()? } else { &e.train };
                Some((e.epoch as f64, pick(m)?))
            })
            .collect()
    };
    panel(
        &panels[0],
        "loss",
        curve(|m| Some(m.loss), false),
        curve(|m| Some(m.loss), true),
    )?;
    if classifies {
        panel(
            &panels[1],
            "accuracy",
            curve(|m| m.accuracy, false),
            curve(|m| m.accuracy, true),
        )?;
    }
    root.present()?;
    Ok(())
}

fn panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    name: &str,
    train: Vec<(f64, f64)>,
    valid: Vec<(f64, f64)>,
) -> DrawResult {
    let points = train.iter().chain(&valid);
    let x_max = points.clone().map(|p| p.0).fold(1.0, f64::max);
    let (lo, hi) = points.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
        (lo.min(p.1), hi.max(p.1))
    });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let pad = ((hi - lo) * 0.05).max(1e-9);
    let mut chart = ChartBuilder::on(area)
        .caption(name, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(1.0..x_max.max(2.0), (lo - pad)..(hi + pad))?;
    chart.configure_mesh().x_desc("epoch").y_desc(name).draw()?;
    chart
        .draw_series(LineSeries::new(train, BLUE.stroke_width(2)))?
        .label(format!("train {name}"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLUE.stroke_width(2)));
    if !valid.is_empty() {
        chart
            .draw_series(LineSeries::new(valid, RED.stroke_width(2)))?
            .label(format!("validation {name}"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], RED.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}
