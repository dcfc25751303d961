//! Real data sets shared by tests and benches (see `data/README.md` for their origin).

/// The breast cancer table: 30 features and `malignant` (1 or 0), one row per image.
pub const BREAST_CANCER_CSV: &str = include_str!("../data/breast_cancer.csv");

/// scikit-learn's logistic regression on [`BREAST_CANCER_CSV`], made by
/// `data/breast_cancer_reference.py`.
pub const BREAST_CANCER_REFERENCE: &str = include_str!("../data/breast_cancer_reference.json");
