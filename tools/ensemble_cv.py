"""Would a deep ensemble help a classification task? Score k-seed ensembles on folds of train.

Usage, from the repository root::

    python tools/ensemble_cv.py run --task us-breast --data ../shared/datasets/breastmnist \
        --resolution 28 --epochs 60 --patience 15 --seeds 0,1,2 --folds 0,1,2,3,4 \
        [--lr 3e-3 --batch-size 64 --workers 2] [--out var/breast-ens]
    python tools/ensemble_cv.py summary var/breast-ens/results.jsonl
    python tools/ensemble_cv.py thresholds var/breast-ens/results.jsonl [--members 3]

Each job trains the task's shipped recipe (:func:`medsight.training.loop.train_classifier`,
the network :func:`medsight.training.fit.default_network` picks, the options ``make
models`` gives) with one seed on four fifths of the train split, choosing its epoch on
the val split exactly as ``medsight train`` does, and scores the held fifth of train,
which neither training nor the epoch choice saw. Folds are stratified by label and fixed.
``summary`` averages the logits of the first k seeds (what ``medsight train --members k``
ships: seeds ``seed``..``seed+k-1``) on each held fold, and reports the AUC per fold, the
AUC of all held folds pooled with a bootstrap CI, and the gain over the first seed, fold
by fold. ``thresholds`` replays the calibration step of ``medsight train`` for each fold's
k-member ensemble (prior correction, temperature fitted on val, the operating threshold
chosen on val by each rule) and scores the held fold at that threshold: each fold is one
val -> unseen-data trial of a threshold rule. The results are in docs/models.md.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from pathlib import Path

import numpy as np
import torch
from monai.utils.misc import set_determinism

from medsight.calibration import apply_temperature, choose_threshold, fit_temperature
from medsight.data import load_dataset
from medsight.metrics import binary_metrics, roc_auc
from medsight.models.networks import NetworkConfig, build_classifier
from medsight.tasks import get_task
from medsight.training.fit import default_network
from medsight.training.loop import TrainOptions, train_classifier
from medsight.training.prepare_data import prepare_split

FOLDS = 5


def _auc(y: np.ndarray, logits: np.ndarray) -> float:
    return float(roc_auc(y, 1 / (1 + np.exp(-logits.astype(np.float64)))))


def _arrays(args: argparse.Namespace) -> dict[str, np.ndarray]:
    """The task's train and val inputs at the resolution (cached in ``--out``)."""
    cache = args.out / f"{args.task}-{args.resolution}.npz"
    if not cache.exists():
        task = get_task(args.task)
        data = load_dataset(args.data, task.label_of, relabel=task.class_of_stored)
        arrays = {}
        for split in ("train", "val"):
            arrays[f"x_{split}"], arrays[f"y_{split}"] = prepare_split(
                data.split(split), task.preprocessing_for(args.resolution)
            )
        np.savez_compressed(cache, **arrays)  # type: ignore[arg-type]
    return dict(np.load(cache))


def _folds(labels: np.ndarray) -> np.ndarray:
    """Fold of each train case, stratified by label; the same in every process."""
    rng = np.random.default_rng(1234)
    folds = np.zeros(len(labels), dtype=int)
    for label in sorted(set(labels.tolist())):
        idx = np.flatnonzero(labels == label)
        rng.shuffle(idx)
        folds[idx] = np.arange(len(idx)) % FOLDS
    return folds


def _job(job: tuple[int, int, argparse.Namespace]) -> None:
    seed, fold, args = job
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)  # as medsight.training.fit does
    d = _arrays(args)
    held = _folds(d["y_train"]) == fold
    x_tr, y_tr, x_ev, y_ev = d["x_train"][~held], d["y_train"][~held], d["x_train"][held], d["y_train"][held]
    started = time.perf_counter()
    set_determinism(seed=seed)
    base = default_network(args.resolution)
    config = NetworkConfig.from_dict({**base.to_dict(), "mean": float(x_tr.mean()), "std": float(x_tr.std())})
    options = TrainOptions(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        patience=args.patience,
        seed=seed,
        mirror=args.mirror,
    )
    run = train_classifier(build_classifier(config), (x_tr, y_tr), (d["x_val"], d["y_val"]), options)
    model = run.model.eval()
    with torch.inference_mode():
        logits = model(torch.from_numpy(x_ev))[:, 0].numpy().astype(np.float64)
        val_logits = model(torch.from_numpy(d["x_val"]))[:, 0].numpy().astype(np.float64)
    record = {
        "task": args.task, "seed": seed, "fold": fold, "seconds": round(time.perf_counter() - started, 1),
        "best_epoch": run.best_epoch, "auc": _auc(y_ev, logits), "y": y_ev.tolist(), "logits": logits.tolist(),
        "logit_offset": run.logit_offset, "val_y": d["y_val"].tolist(), "val_logits": val_logits.tolist(),
    }  # fmt: skip
    with (args.out / "results.jsonl").open("a") as out:
        out.write(json.dumps(record) + "\n")
    print(f"seed {seed} fold {fold}: held-fold AUC {record['auc']:.4f} (best epoch {run.best_epoch})", flush=True)


def _pooled_ci(y: np.ndarray, logits: np.ndarray, n_boot: int = 2000) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    stats = []
    for _ in range(n_boot):
        pick = rng.integers(0, len(y), len(y))
        if 0 < y[pick].sum() < len(pick):
            stats.append(_auc(y[pick], logits[pick]))
    low, high = np.percentile(stats, [2.5, 97.5])
    return float(low), float(high)


def _results(path: Path) -> tuple[str, dict[int, dict[int, dict]], list[int]]:
    """The task, the records by fold then seed, and the seeds every fold has (in order)."""
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    by_fold: dict[int, dict[int, dict]] = {}
    for row in rows:
        by_fold.setdefault(row["fold"], {})[row["seed"]] = row
    return rows[0]["task"], by_fold, sorted(set.intersection(*(set(runs) for runs in by_fold.values())))


def _summary(path: Path) -> None:
    task, by_fold, seeds = _results(path)
    folds = sorted(by_fold)
    held = sum(len(by_fold[f][seeds[0]]["y"]) for f in folds)
    print(f"{task}: folds {folds}; seeds {seeds}; {held} held cases")
    print(
        "| members | AUC per held fold | mean over folds | pooled AUC [95% CI] | gain over 1 member: mean (min, max) |"
    )
    print("|---|---|---|---|---|")
    for k in range(1, len(seeds) + 1):
        aucs, gains, ys, pooled = [], [], [], []
        for fold in folds:
            runs = by_fold[fold]
            y = np.asarray(runs[seeds[0]]["y"])
            logits = np.mean([np.asarray(runs[s]["logits"]) for s in seeds[:k]], axis=0)
            aucs.append(_auc(y, logits))
            gains.append(aucs[-1] - _auc(y, np.asarray(runs[seeds[0]]["logits"])))
            ys.append(y)
            pooled.append(logits)  # pooled over folds, as CV summaries do (each fold's networks differ)
        y_all, l_all = np.concatenate(ys), np.concatenate(pooled)
        low, high = _pooled_ci(y_all, l_all)
        each = ", ".join(f"{a:.3f}" for a in aucs)
        gain = f"{np.mean(gains):+.3f} ({min(gains):+.3f}, {max(gains):+.3f})" if k > 1 else "-"
        print(f"| {k} | {each} | {np.mean(aucs):.3f} | {_auc(y_all, l_all):.3f} [{low:.3f}, {high:.3f}] | {gain} |")
    singles = [[by_fold[f][s]["auc"] for f in folds] for s in seeds]
    print(
        "single seeds, mean over folds: "
        + ", ".join(f"{s}: {np.mean(a):.3f}" for s, a in zip(seeds, singles, strict=True))
    )


def _thresholds(path: Path, members: int) -> None:
    """Each threshold rule chosen on val for each fold's ensemble, scored on the held fold."""
    task, by_fold, seeds = _results(path)
    seeds = seeds[:members]
    print(f"{task}: {len(seeds)}-member ensembles (seeds {seeds}); threshold chosen on val, held fold scored")
    print("| rule | fold | threshold | val sens / spec | held accuracy | held sensitivity | held specificity |")
    print("|---|---|---|---|---|---|---|")
    totals: dict[str, list[dict[str, float]]] = {}
    for fold in sorted(by_fold):
        runs = [by_fold[fold][s] for s in seeds]
        offset = runs[0]["logit_offset"]
        val_y = np.asarray(runs[0]["val_y"])
        val_logits = np.mean([r["val_logits"] for r in runs], axis=0) + offset
        held_y = np.asarray(runs[0]["y"])
        held_logits = np.mean([r["logits"] for r in runs], axis=0) + offset
        temperature = fit_temperature(val_logits, val_y)
        p_val, p_held = apply_temperature(val_logits, temperature), apply_temperature(held_logits, temperature)
        for rule in THRESHOLD_RULES_COMPARED:
            threshold = choose_threshold(val_y, p_val, rule).threshold
            val = binary_metrics(val_y, p_val, threshold)
            held = binary_metrics(held_y, p_held, threshold)
            totals.setdefault(rule, []).append(held)
            print(
                f"| {rule} | {fold} | {threshold:.3f} | {val['sensitivity']:.3f} / {val['specificity']:.3f} | "
                f"{held['accuracy']:.3f} | {held['sensitivity']:.3f} | {held['specificity']:.3f} |"
            )
    for rule, held in totals.items():
        means = {key: np.mean([h[key] for h in held]) for key in ("accuracy", "sensitivity", "specificity")}
        print(
            f"| {rule} | mean | | | {means['accuracy']:.3f} | {means['sensitivity']:.3f} | {means['specificity']:.3f} |"
        )


#: ``youden`` is ``medsight train``'s default; ``prevalence`` puts the threshold at val's
#: share of positives (medsight.calibration.threshold).
THRESHOLD_RULES_COMPARED = ("youden", "prevalence")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--task", required=True)
    run.add_argument("--data", type=Path, required=True)
    run.add_argument("--resolution", type=int, required=True)
    run.add_argument("--epochs", type=int, default=30)
    run.add_argument("--patience", type=int, default=8)
    run.add_argument("--lr", type=float, default=3e-3)
    run.add_argument("--batch-size", type=int, default=64)
    run.add_argument("--mirror", action="store_true", help="mirror training images left-right too")
    run.add_argument("--seeds", default="0,1,2")
    run.add_argument("--folds", default=",".join(str(f) for f in range(FOLDS)))
    run.add_argument("--workers", type=int, default=1)
    run.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    run.add_argument("--out", type=Path, default=Path("var/ensemble-cv"))
    summary = sub.add_parser("summary")
    summary.add_argument("results", type=Path)
    thresholds = sub.add_parser("thresholds")
    thresholds.add_argument("results", type=Path)
    thresholds.add_argument("--members", type=int, default=3)
    args = parser.parse_args()
    if args.command == "summary":
        _summary(args.results)
        return
    if args.command == "thresholds":
        _thresholds(args.results, args.members)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    _arrays(args)  # preprocess once, before the workers start
    jobs = [(int(s), int(f), args) for s in args.seeds.split(",") for f in args.folds.split(",")]
    if args.workers == 1:
        for job in jobs:
            _job(job)
        return
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        list(pool.imap_unordered(_job, jobs))


if __name__ == "__main__":
    main()
