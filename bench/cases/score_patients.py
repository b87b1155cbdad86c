"""Benchmark case: score 10,000 patients (risk, interval, percentile, TreeSHAP drivers).

prepare() trains a model (not timed) on a simulated 3,000-person cohort with
the demo's width (PGS, age, sex, 4 PCs, 2,993 dosages; non-additive
architecture, linear offset on) and simulates 10,000 new patients with the
same features.

genorisk: ``genorisk score`` - loads the artifact (pickle
scan, SHA-256 checks), checks the schema, computes margins and TreeSHAP in
batched DMatrix calls, checks that contributions sum to the margins,
calibrates, groups drivers and writes JSON.

Reference: the bare minimum with XGBoost alone (this file run as a script):
load ``model.ubj``, one ``predict(pred_contribs=True)`` over all patients.
The ratio is the price of everything genorisk adds around TreeSHAP.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
BENCH = HERE.parents[1]
PYTHON = sys.executable

DESCRIPTION = "score 10,000 patients: calibrated risk + interval + percentile + TreeSHAP drivers"
N_PATIENTS = 10_000
UNITS = {"patients": N_PATIENTS}
THREADS = 2


def prepare(workdir: Path) -> None:
    sys.path.insert(0, str(BENCH))
    from learning_curve import simulate_cohort

    from genorisk.model import ModelConfig, save_model, train_model

    X, y, schema, truth = simulate_cohort(3000, n_variants=2993, architecture="non-additive", seed=3000)
    config = ModelConfig(n_trials=4, n_bootstrap=100, threads=THREADS, max_bin=32)
    save_model(train_model(X, y, schema, config, truth=truth), workdir / "model")
    patients, _, _, _ = simulate_cohort(N_PATIENTS, n_variants=2993, architecture="non-additive", seed=777)
    patients.index = [f"PAT{i:06d}" for i in range(N_PATIENTS)]
    patients.index.name = "sample_id"
    patients.to_parquet(workdir / "patients.parquet")
    (workdir / "patients.schema.json").write_text(json.dumps(schema))


def commands(workdir: Path) -> dict[str, list[str]]:
    return {
        "genorisk": [
            PYTHON,
            "-m",
            "genorisk",
            "score",
            "--model",
            str(workdir / "model"),
            "--features",
            str(workdir / "patients.parquet"),
            "--schema",
            str(workdir / "patients.schema.json"),
            "--out",
            str(workdir / "scores.json"),
        ],
        "xgboost_contribs": [PYTHON, str(HERE), str(workdir)],
    }


def reference(workdir: Path) -> None:
    import numpy as np
    import pandas as pd
    import xgboost as xgb

    t0 = time.perf_counter()
    booster = xgb.Booster()
    booster.load_model(str(workdir / "model" / "model.ubj"))
    booster.set_param({"nthread": THREADS})
    X = pd.read_parquet(workdir / "patients.parquet")
    data = X[booster.feature_names].to_numpy(dtype=np.float32)
    contribs = booster.predict(xgb.DMatrix(data, feature_names=booster.feature_names), pred_contribs=True)
    print(f"xgboost pred_contribs: {contribs.shape} in {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    reference(Path(sys.argv[1]))
