#!/usr/bin/env python3
"""Reference for the logistic-regression test: scikit-learn on breast_cancer.csv (this folder).

Standardises the 30 features with the population standard deviation (ddof=0), takes the labels
s = 2*malignant - 1, and fits LogisticRegression(C=1, solver='newton-cg', tol=1e-12), whose
objective is sum(log(1 + exp(-s .* (Z*w + b)))) + 0.5*norm2(w)^2 with b unpenalised (scikit-learn
divides it by the number of samples, which does not move the minimiser). Writes
breast_cancer_reference.json with every float at full precision (repr, 17 digits), and checks
that the CSV equals scikit-learn's bundled copy (load_breast_cancer(), which codes 0 = malignant).
Run from this folder: python3 breast_cancer_reference.py  (numpy and scikit-learn 1.9.1).
"""
import json

import numpy as np
import sklearn
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

data = np.loadtxt("breast_cancer.csv", delimiter=",", skiprows=1)
names = open("breast_cancer.csv").readline().strip().split(",")
X, malignant = data[:, :-1], data[:, -1]
bundled = load_breast_cancer()
same = bool(np.array_equal(X, bundled.data) and np.array_equal(malignant, 1 - bundled.target))
mean, std = X.mean(axis=0), X.std(axis=0)  # population standard deviation
Z = (X - mean) / std
s = 2 * malignant - 1
model = LogisticRegression(C=1.0, solver="newton-cg", tol=1e-12, max_iter=1000).fit(Z, s)
w, b = model.coef_[0], model.intercept_[0]
margin = s * (Z @ w + b)
objective = float(np.sum(np.logaddexp(0.0, -margin)) + 0.5 * w @ w)
sigma = 1.0 / (1.0 + np.exp(margin))  # sigmoid(-s .* (Z*w + b))
gradient = np.concatenate([w - Z.T @ (s * sigma), [-np.sum(s * sigma)]])
ref = {
    "source": "breast_cancer.csv in this folder (sklearn.datasets.load_breast_cancer(), 1 = malignant)",
    "csv_equals_sklearn_bundled_data": same,
    "scikit_learn_version": sklearn.__version__,
    "numpy_version": np.__version__,
    "model": "LogisticRegression(C=1, solver='newton-cg', tol=1e-12) on Z, s = 2*malignant - 1",
    "standardisation": "Z = (X - mean) / std with the population standard deviation (ddof=0)",
    "feature_names": names[:-1],
    "classes": [int(c) for c in model.classes_],
    "n_iter": int(model.n_iter_[0]),
    "w": [float(v) for v in w],
    "b": float(b),
    "objective": objective,
    "gradient_norm": float(np.linalg.norm(gradient)),
}
with open("breast_cancer_reference.json", "w") as f:
    json.dump(ref, f, indent=2)
    f.write("\n")
print(json.dumps(ref, indent=2))
