"""Compare training recipes for cxr-tuberculosis by 5-fold CV on train and by train -> val.

Usage, from the repository root::

    python tools/tb_recipes.py run [--recipes A,B] [--seeds 0,1] [--folds val,0,1,2,3,4]
                                   [--device cuda] [--workers 15] [--out var/tb-recipes]
    python tools/tb_recipes.py summary var/tb-recipes/results.jsonl
    python tools/tb_recipes.py ensembles var/tb-recipes/results.jsonl [--recipe A]

Each job trains one recipe with one seed on one split: a CV fold (train on four fifths of
the train split, evaluate on the fifth; folds stratified by label and site, fixed) or
``val`` (train on train, evaluate on val). The loop is :func:`medsight.training.loop.
train_classifier`'s (AdamW, one-cycle with 15% warm-up, positive-class weight, the
shipped augmentation, best epoch by (AUC, -loss) on the evaluated part) with the model on
``--device``, so that a GPU machine can run the grid; figures from a GPU differ from a
CPU run's about as much as one seed's from another. Each job records the AUC at the
best epoch (what ``medsight train`` ships, optimistic: the epoch is chosen on the part it
is scored on), at the last epoch (not chosen), and with horizontal-flip test-time
augmentation, plus the scores, so that ensembles can be scored afterwards on the same
cases. The ``pneu224`` recipes start from the shipped ``cxr-pneumonia-224`` weights (same
architecture; only the input normalisation is the TB data's); ``kermany96`` pretrains on
the Kermany train split at 96 px for two epochs first. The results are in
docs/models.md (cxr-tuberculosis, "Recipes compared by cross-validation").
"""

from __future__ import annotations

import argparse
import copy
import json
import multiprocessing
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.utils.misc import set_determinism
from torch import nn

from medsight.data import load_dataset
from medsight.metrics import roc_auc
from medsight.models.bundle import SHIPPED_DIR
from medsight.models.networks import Classifier, NetworkConfig, build_classifier
from medsight.tasks import get_task
from medsight.training.augment import Augmenter
from medsight.training.prepare_data import prepare_split

NARROW, WIDE = (16, 32, 64, 128), (32, 64, 128, 256)
#: name -> (initialisation, peak lr, epochs, widths, loop options)
RECIPES: dict[str, tuple[str, float, int, tuple[int, int, int, int], dict[str, float]]] = {
    "A": ("none", 1e-3, 40, NARROW, {}),  # the shipped recipe
    "B": ("pneu224", 1e-3, 40, NARROW, {}),
    "C": ("pneu224", 3e-4, 40, NARROW, {}),
    "D": ("kermany96", 1e-3, 40, NARROW, {}),
    "E": ("none", 1e-3, 40, WIDE, {}),
    "F": ("pneu224", 1e-3, 60, NARROW, {}),
    "G": ("none", 1e-3, 60, NARROW, {}),
    "H": ("none", 1e-3, 16, NARROW, {}),
    "I": ("none", 1e-3, 20, NARROW, {}),
    "J": ("none", 1e-3, 25, NARROW, {}),
    "K": ("none", 1e-3, 40, NARROW, {"batch": 32}),
    "L": ("none", 1e-3, 40, NARROW, {"weight_decay": 5e-2}),
    "M": ("none", 1e-3, 40, NARROW, {"mixup": 0.2}),  # session 19
    "N": ("none", 1e-3, 40, NARROW, {"swa_from": 0.75}),
    "O": ("none", 1e-3, 40, NARROW, {"mixup": 0.2, "swa_from": 0.75}),
}
FOLDS = 5


def _auc(y: np.ndarray, logits: np.ndarray) -> float:
    return float(roc_auc(y, 1 / (1 + np.exp(-logits.astype(np.float64)))))


def _arrays(args: argparse.Namespace) -> dict[str, np.ndarray]:
    """The TB data at 96 px with labels, sites and sexes (cached in ``--out``)."""
    cache = args.out / "tb96.npz"
    if not cache.exists():
        task = get_task("cxr-tuberculosis")
        data = load_dataset(args.data, task.label_of, relabel=task.class_of_stored)
        arrays = {}
        for split in ("train", "val"):
            part = data.split(split)
            arrays[f"x_{split}"], arrays[f"y_{split}"] = prepare_split(part, task.preprocessing_for(96))
            for group in ("sex", "source"):
                arrays[f"{group}_{split}"] = np.asarray([str(c.groups.get(group, "")) for c in part.cases])
        np.savez_compressed(cache, **arrays)  # type: ignore[arg-type]
    return dict(np.load(cache))


def _folds(labels: np.ndarray, sites: np.ndarray) -> np.ndarray:
    """Fold of each train case, stratified by (label, site); the same in every process."""
    rng = np.random.default_rng(1234)
    folds = np.zeros(len(labels), dtype=int)
    for label, site in sorted(set(zip(labels.tolist(), sites.tolist(), strict=True))):
        idx = np.flatnonzero((labels == label) & (sites == site))
        rng.shuffle(idx)
        folds[idx] = np.arange(len(idx)) % FOLDS
    return folds


def _fit(model: Classifier, train: tuple[np.ndarray, np.ndarray], options: dict[str, Any]) -> list[float]:
    """Train in place; keep the best state on ``options['eval']`` (if given). Returns the AUC history."""
    (x, y), device, seed = train, options["device"], options["seed"]
    batch = int(options.get("batch", 64))
    positives = max(1, int(y.sum()))
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([(len(y) - positives) / positives], device=device))
    optimiser = torch.optim.AdamW(model.parameters(), lr=options["lr"], weight_decay=options.get("weight_decay", 1e-4))
    steps = max(1, len(x) // batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=options["lr"], total_steps=options["epochs"] * steps, pct_start=0.15
    )
    generator, augment = torch.Generator().manual_seed(seed), Augmenter(x.shape[-1], seed)
    targets = torch.from_numpy(y.astype(np.float32)).to(device)
    best, history, best_state = (-1.0, 0.0), [], None
    # Mixup (Zhang et al. 2018): each batch blended with a shuffled copy of itself, targets alike.
    mixup, mixing = float(options.get("mixup", 0.0)), np.random.default_rng(seed)
    # Stochastic weight averaging (Izmailov et al. 2018) over the last epochs of the schedule.
    swa_from = int(options["epochs"] * float(options.get("swa_from", 1.0)))
    averaged = torch.optim.swa_utils.AveragedModel(model) if swa_from < options["epochs"] else None
    for epoch in range(options["epochs"]):
        model.train()
        order = torch.randperm(len(x), generator=generator).numpy()
        for b in range(steps):
            idx = order[b * batch : (b + 1) * batch]
            optimiser.zero_grad(set_to_none=True)
            inputs, wanted = augment(x[idx]).to(device), targets[idx]
            if mixup > 0:
                share, partner = float(mixing.beta(mixup, mixup)), torch.from_numpy(mixing.permutation(len(idx)))
                inputs = share * inputs + (1 - share) * inputs[partner]
                wanted = share * wanted + (1 - share) * wanted[partner]
            loss_fn(model(inputs)[:, 0], wanted).backward()
            optimiser.step()
            schedule.step()
        if averaged is not None and epoch >= swa_from:
            averaged.update_parameters(model)
        if "eval" in options:
            x_eval, y_eval = options["eval"]
            logits = _logits(model, x_eval, device)
            loss = float(
                loss_fn(torch.from_numpy(logits).float().to(device), torch.from_numpy(y_eval).float().to(device))
            )
            history.append(_auc(y_eval, logits))
            if (history[-1], -loss) > best:
                best, best_state = (history[-1], -loss), copy.deepcopy(model.state_dict())
                options["best_epoch"] = len(history)
    options["best_state"] = best_state
    if averaged is not None:  # "last" is the averaged network, its batch norm statistics recomputed
        batches = [torch.from_numpy(x[s : s + batch]).to(device) for s in range(0, len(x), batch)]
        torch.optim.swa_utils.update_bn(batches, averaged)
        model.load_state_dict(averaged.module.state_dict())
    return history


def _logits(model: Classifier, x: np.ndarray, device: str, flip: bool = False) -> np.ndarray:
    model.eval()
    with torch.inference_mode():
        inputs = torch.from_numpy(np.ascontiguousarray(x[..., ::-1] if flip else x)).to(device)
        return model(inputs)[:, 0].float().cpu().numpy().astype(np.float64)


def _network(widths: tuple[int, int, int, int], x: np.ndarray, seed: int) -> Classifier:
    set_determinism(seed=seed)
    config = NetworkConfig(widths=widths, stem="large", mean=float(x.mean()), std=float(x.std()))
    network = build_classifier(config)
    assert isinstance(network, Classifier)  # one member
    return network


def _initial_state(init: str, seed: int, args: argparse.Namespace) -> dict[str, torch.Tensor] | None:
    """Weights to start from (all but the input normalisation), or None for a fresh network."""
    if init == "pneu224":
        path = SHIPPED_DIR / "cxr-pneumonia-224" / "models" / "model.pt"
        state: dict[str, torch.Tensor] = torch.load(path, map_location="cpu", weights_only=True)
    elif init == "kermany96":
        cache = args.out / f"kermany96_seed{seed}.pt"
        if not cache.exists():
            task = get_task("cxr-pneumonia")
            data = load_dataset(args.pneumonia_data, task.label_of, relabel=task.class_of_stored).split("train")
            x, y = prepare_split(data, task.preprocessing_for(96))
            model = _network(NARROW, x, seed).to(args.device)
            _fit(model, (x, y), {"device": args.device, "seed": seed, "lr": 3e-3, "epochs": 2})
            torch.save({k: v.cpu() for k, v in model.state_dict().items()}, cache)
        state = torch.load(cache, map_location="cpu", weights_only=True)
    else:
        return None
    return {k: v for k, v in state.items() if k not in ("mean", "std")}


def _job(job: tuple[str, int, str, argparse.Namespace]) -> None:
    recipe, seed, fold, args = job
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)  # as medsight.training.fit does
    init, lr, epochs, widths, extra = RECIPES[recipe]
    epochs = args.epochs or epochs
    d = _arrays(args)
    if fold == "val":
        x_tr, y_tr, x_ev, y_ev, sex = d["x_train"], d["y_train"], d["x_val"], d["y_val"], d["sex_val"]
    else:
        held = _folds(d["y_train"], d["source_train"]) == int(fold)
        x_tr, y_tr, x_ev, y_ev = d["x_train"][~held], d["y_train"][~held], d["x_train"][held], d["y_train"][held]
        sex = d["sex_train"][held]
    started = time.perf_counter()
    initial = _initial_state(init, seed, args)
    model = _network(widths, x_tr, seed)
    if initial is not None:
        model.load_state_dict(initial, strict=False)
    model = model.to(args.device)
    options: dict[str, Any] = {"device": args.device, "seed": seed, "lr": lr, "epochs": epochs, "eval": (x_ev, y_ev)}
    options.update(extra)
    history = [round(a, 4) for a in _fit(model, (x_tr, y_tr), options)]
    last, last_flip = _logits(model, x_ev, args.device), _logits(model, x_ev, args.device, flip=True)
    model.load_state_dict(options.get("best_state") or model.state_dict())
    best, best_flip = _logits(model, x_ev, args.device), _logits(model, x_ev, args.device, flip=True)
    record = {
        "recipe": recipe, "seed": seed, "fold": fold, "seconds": round(time.perf_counter() - started, 1),
        "best_epoch": options["best_epoch"], "auc_best": _auc(y_ev, best), "auc_last": _auc(y_ev, last),
        "auc_best_flip": _auc(y_ev, best + best_flip), "auc_last_flip": _auc(y_ev, last + last_flip),
        "history": history, "y": y_ev.tolist(), "sex": sex.tolist(), "best": best.tolist(), "last": last.tolist(),
    }  # fmt: skip
    with (args.out / "results.jsonl").open("a") as out:
        out.write(json.dumps(record) + "\n")
    print(f"{recipe} seed {seed} fold {fold}: AUC best {record['auc_best']:.4f} last {record['auc_last']:.4f}")


def _summary(path: Path) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for recipe in sorted({r["recipe"] for r in rows}):
        cv = [r for r in rows if r["recipe"] == recipe and r["fold"] != "val"]
        val = sorted((r for r in rows if r["recipe"] == recipe and r["fold"] == "val"), key=lambda r: r["seed"])
        cells = []
        for key in ("auc_best", "auc_last"):
            v = np.array([r[key] for r in cv])
            cells.append(f"{v.mean():.3f} +- {v.std(ddof=1) / np.sqrt(len(v)):.3f}" if len(v) > 1 else "-")
        vals = ", ".join(f"{r['auc_best']:.3f}" for r in val)
        flips = ", ".join(f"{r['auc_best_flip']:.3f}" for r in val)
        print(f"| {recipe} | {len(cv)} | {cells[0]} | {cells[1]} | {vals} | {flips} |")


def _ensembles(path: Path, recipe: str) -> None:
    """AUC of ensembles of the first k seeds (logits averaged) on each CV fold, k = 1, 2...

    Seeds are taken in order, as ``medsight train --members k`` does (seed, seed + 1...),
    so the row for k is what a k-member bundle of this recipe would score; "gain" is
    against the first seed alone, fold by fold.
    """
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows = [r for r in rows if r["recipe"] == recipe and r["fold"] != "val"]
    by_fold: dict[str, dict[int, dict[str, Any]]] = {}
    for row in rows:
        by_fold.setdefault(row["fold"], {})[row["seed"]] = row
    seeds = sorted(set.intersection(*(set(runs) for runs in by_fold.values())))
    folds = sorted(by_fold)
    print(f"recipe {recipe}: folds {', '.join(folds)}; seeds {seeds}")
    print("| members | scored at | CV AUC, mean over folds | per fold | gain over 1 member: mean (min, max) |")
    print("|---|---|---|---|---|")
    for key in ("best", "last"):
        for k in range(1, len(seeds) + 1):
            aucs, gains = [], []
            for fold in folds:
                runs = by_fold[fold]
                y = np.asarray(runs[seeds[0]]["y"])
                logits = np.mean([np.asarray(runs[s][key]) for s in seeds[:k]], axis=0)
                aucs.append(_auc(y, logits))
                gains.append(aucs[-1] - _auc(y, np.asarray(runs[seeds[0]][key])))
            each = ", ".join(f"{a:.3f}" for a in aucs)
            gain = f"{np.mean(gains):+.3f} ({min(gains):+.3f}, {max(gains):+.3f})" if k > 1 else "-"
            print(f"| {k} | {key} epoch | {np.mean(aucs):.3f} | {each} | {gain} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--recipes", default=",".join(RECIPES))
    run.add_argument("--seeds", default="0,1")
    run.add_argument("--folds", default="val," + ",".join(str(f) for f in range(FOLDS)))
    run.add_argument("--data", type=Path, default=Path("../shared/datasets/tb_cxr"))
    run.add_argument("--pneumonia-data", type=Path, default=Path("../shared/datasets/chest_xray_pneumonia_224"))
    run.add_argument("--device", default="cpu")
    run.add_argument("--workers", type=int, default=1)
    run.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    run.add_argument("--out", type=Path, default=Path("var/tb-recipes"))
    run.add_argument("--epochs", type=int, default=0, help="override every recipe's epochs (smoke tests)")
    summary = sub.add_parser("summary")
    summary.add_argument("results", type=Path)
    ensembles = sub.add_parser("ensembles")
    ensembles.add_argument("results", type=Path)
    ensembles.add_argument("--recipe", default="A")
    args = parser.parse_args()
    if args.command == "summary":
        _summary(args.results)
        return
    if args.command == "ensembles":
        _ensembles(args.results, args.recipe)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    _arrays(args)  # preprocess once, before the workers start
    for seed in sorted({int(s) for s in args.seeds.split(",")}):
        if any(RECIPES[r][0] == "kermany96" for r in args.recipes.split(",")):
            _initial_state("kermany96", seed, args)
    jobs = [
        (r, int(s), f, args)
        for s in args.seeds.split(",")
        for f in args.folds.split(",")
        for r in args.recipes.split(",")
    ]
    if args.workers == 1:
        for job in jobs:
            _job(job)
        return
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        list(pool.imap_unordered(_job, jobs))


if __name__ == "__main__":
    main()
