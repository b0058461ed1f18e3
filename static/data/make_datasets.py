"""Write the built-in training datasets that ship with the site, from scikit-learn's copies.

    python static/data/make_datasets.py      # (re)writes static/data/*.npz and SHA256SUMS

scikit-learn is a build-time tool here (requirements/reference.in); the site and Hearth's Python read
only the .npz files. Each holds `data`, `target` (class index), `feature_names`, `target_names`,
stored without pickles so numpy can read them in Pyodide. See README.md for sources and licences.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from sklearn import datasets

HERE = Path(__file__).resolve().parent
LOADERS = {
    "digits": datasets.load_digits,
    "iris": datasets.load_iris,
    "wine": datasets.load_wine,
    "breast_cancer": datasets.load_breast_cancer,
}


def main() -> None:
    sums = []
    for name, load in LOADERS.items():
        bunch = load()
        data = bunch.data.astype(np.uint8) if name == "digits" else bunch.data.astype(np.float64)
        if name == "digits":
            assert np.array_equal(data, bunch.data), "digits pixels are whole numbers 0..16"
        path = HERE / f"{name}.npz"
        np.savez_compressed(
            path,
            data=data,
            target=bunch.target.astype(np.int64),
            feature_names=np.asarray([str(f) for f in bunch.feature_names]),
            target_names=np.asarray([str(t) for t in bunch.target_names]),
        )
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        sums.append(f"{digest}  {path.name}")
        print(f"{path.name}: {data.shape[0]} samples, {data.shape[1]} features, {len(bunch.target_names)} classes")
    (HERE / "SHA256SUMS").write_text("\n".join(sums) + "\n")


if __name__ == "__main__":
    main()
