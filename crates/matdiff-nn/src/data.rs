//! Data sets: inputs and targets with one example per column, splits, and the digits set.

use faer::{Mat, MatRef};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::error::NnError;
use crate::kernels::{col, col_mut};
use crate::loss::argmax;
use crate::real::Real;

/// Examples for a network: `inputs` (features x examples) and `targets` (outputs x examples).
///
/// ```
/// use faer::mat;
/// use matdiff_nn::Dataset;
/// let data = Dataset::from_labels(mat![[0.0_f64, 1.0, 2.0]], &[0, 1, 1], 2).unwrap();
/// assert_eq!(data.targets()[(1, 2)], 1.0);
/// assert_eq!(data.labels(), vec![0, 1, 1]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset<T: Real> {
    inputs: Mat<T>,
    targets: Mat<T>,
}

impl<T: Real> Dataset<T> {
    /// A data set; both matrices have one column per example.
    pub fn new(inputs: Mat<T>, targets: Mat<T>) -> Result<Self, NnError> {
        if inputs.ncols() != targets.ncols() {
            return Err(NnError::InputShape {
                what: "target columns (examples)",
                expected: inputs.ncols(),
                found: targets.ncols(),
            });
        }
        Ok(Dataset { inputs, targets })
    }

    /// A classification data set: `labels[j]` (below `classes`) becomes a one-hot column.
    pub fn from_labels(inputs: Mat<T>, labels: &[usize], classes: usize) -> Result<Self, NnError> {
        if let Some((j, &l)) = labels.iter().enumerate().find(|(_, &l)| l >= classes) {
            return Err(NnError::Data {
                line: j + 1,
                reason: format!("label {l} is not below the number of classes {classes}"),
            });
        }
        let targets = Mat::from_fn(classes, labels.len(), |i, j| {
            if labels[j] == i {
                T::ONE
            } else {
                T::ZERO
            }
        });
        Dataset::new(inputs, targets)
    }

    /// The inputs, features x examples.
    pub fn inputs(&self) -> MatRef<'_, T> {
        self.inputs.as_ref()
    }

    /// The targets, outputs x examples.
    pub fn targets(&self) -> MatRef<'_, T> {
        self.targets.as_ref()
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.inputs.ncols()
    }

    /// Whether there is no example.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The class of every example: the index of its largest target.
    pub fn labels(&self) -> Vec<usize> {
        (0..self.len())
            .map(|j| argmax(col(self.targets(), j)))
            .collect()
    }

    /// The examples at `columns`, in that order.
    pub fn select(&self, columns: &[usize]) -> Self {
        let pick = |m: MatRef<'_, T>| {
            let mut out = Mat::zeros(m.nrows(), columns.len());
            for (k, &j) in columns.iter().enumerate() {
                col_mut(out.as_mut(), k).copy_from_slice(col(m, j));
            }
            out
        };
        Dataset {
            inputs: pick(self.inputs()),
            targets: pick(self.targets()),
        }
    }

    /// A seeded random split: `fraction` of the examples (rounded) for the first part, the rest
    /// for the second.
    pub fn split(&self, fraction: f64, seed: u64) -> Result<(Self, Self), NnError> {
        if !(0.0..=1.0).contains(&fraction) {
            return Err(NnError::InvalidSetting {
                setting: "fraction",
                reason: format!("{fraction} is not in [0, 1]"),
            });
        }
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(&mut StdRng::seed_from_u64(seed));
        let cut = (fraction * self.len() as f64).round() as usize;
        Ok((self.select(&order[..cut]), self.select(&order[cut..])))
    }

    /// Parses CSV text with a header line: numeric feature columns, then an integer class label
    /// (below `classes`) in the last column. Every feature is multiplied by `scale`.
    pub fn from_labelled_csv(text: &str, classes: usize, scale: f64) -> Result<Self, NnError> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let (_, header) = lines.next().ok_or(NnError::Data {
            line: 1,
            reason: "empty file: expected a header line".into(),
        })?;
        let features = header.split(',').count().saturating_sub(1);
        if features == 0 {
            return Err(NnError::Data {
                line: 1,
                reason: "the header names no feature column before the label".into(),
            });
        }
        let mut values = Vec::new();
        let mut labels = Vec::new();
        for (i, line) in lines {
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            if fields.len() != features + 1 {
                return Err(NnError::Data {
                    line: i + 1,
                    reason: format!("{} fields, the header has {}", fields.len(), features + 1),
                });
            }
            for f in &fields[..features] {
                let v: f64 = f.parse().map_err(|_| NnError::Data {
                    line: i + 1,
                    reason: format!("`{f}` is not a number"),
                })?;
                values.push(T::from_f64(v * scale));
            }
            let label = fields[features];
            labels.push(label.parse::<usize>().map_err(|_| NnError::Data {
                line: i + 1,
                reason: format!("label `{label}` is not a class index"),
            })?);
        }
        let inputs = Mat::from_fn(features, labels.len(), |i, j| values[j * features + i]);
        Dataset::from_labels(inputs, &labels, classes)
    }
}

/// The digits data set shipped with this crate: 1797 images of 8x8 pixels (64 inputs scaled to
/// `[0, 1]`), 10 classes one-hot (UCI "Optical Recognition of Handwritten Digits", see `data/README.md`).
///
/// ```
/// let digits = matdiff_nn::digits::<f32>();
/// assert_eq!((digits.inputs().nrows(), digits.len()), (64, 1797));
/// assert_eq!(digits.targets().nrows(), 10);
/// ```
pub fn digits<T: Real>() -> Dataset<T> {
    const CSV: &str = include_str!("../data/digits.csv");
    Dataset::from_labelled_csv(CSV, 10, 1.0 / 16.0).expect("the shipped digits.csv is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_errors_name_the_line() {
        let err =
            Dataset::<f64>::from_labelled_csv("a,b,label\n1,2,0\n1,x,1\n", 2, 1.0).unwrap_err();
        assert_eq!(err.to_string(), "data line 3: `x` is not a number");
        let err = Dataset::<f64>::from_labelled_csv("a,label\n1,5\n", 2, 1.0).unwrap_err();
        assert!(err.to_string().contains("label 5 is not below"), "{err}");
        let err = Dataset::<f64>::from_labelled_csv("a,label\n1,2,0\n", 2, 1.0).unwrap_err();
        assert_eq!(err.to_string(), "data line 2: 3 fields, the header has 2");
    }

    #[test]
    fn split_is_a_seeded_partition() {
        let data = Dataset::from_labels(
            Mat::from_fn(1, 10, |_, j| j as f64),
            &[0, 1, 0, 1, 0, 1, 0, 1, 0, 1],
            2,
        )
        .unwrap();
        let (a, b) = data.split(0.8, 3).unwrap();
        assert_eq!((a.len(), b.len()), (8, 2));
        let mut seen: Vec<usize> = a
            .inputs()
            .row(0)
            .iter()
            .chain(b.inputs().row(0).iter())
            .map(|&v| v as usize)
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        assert_eq!(data.split(0.8, 3).unwrap(), (a, b));
    }
}
