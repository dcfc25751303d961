#!/usr/bin/env python3
"""Reference for the diabetes test: scikit-learn's LinearRegression on diabetes.csv (this folder).

Fits LinearRegression() (fit_intercept=True) on the committed CSV, exactly the numbers the Rust test
reads, and writes diabetes_reference.json with every float at full precision (repr, 17 digits).
Also checks that the CSV equals scikit-learn's bundled copy (load_diabetes()) bit for bit.
Run from this folder: python3 diabetes_reference.py  (numpy and scikit-learn 1.9.1).
"""
import json

import numpy as np
import sklearn
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression

data = np.loadtxt("diabetes.csv", delimiter=",", skiprows=1)
names = open("diabetes.csv").readline().strip().split(",")
X, y = data[:, :-1], data[:, -1]
bundled = load_diabetes()
same = bool(np.array_equal(X, bundled.data) and np.array_equal(y, bundled.target))
lr = LinearRegression().fit(X, y)
resid = y - lr.predict(X)
ref = {
    "source": "diabetes.csv in this folder (sklearn.datasets.load_diabetes(), exported unchanged)",
    "csv_equals_sklearn_bundled_data": same,
    "scikit_learn_version": sklearn.__version__,
    "numpy_version": np.__version__,
    "model": "sklearn.linear_model.LinearRegression() (fit_intercept=True)",
    "feature_names": names[:-1],
    "target": names[-1],
    "coef": [float(v) for v in lr.coef_],
    "intercept": float(lr.intercept_),
    "r2": float(lr.score(X, y)),
    "residual_sum_of_squares": float(resid @ resid),
}
with open("diabetes_reference.json", "w") as f:
    json.dump(ref, f, indent=2)
    f.write("\n")
print(json.dumps(ref, indent=2))
