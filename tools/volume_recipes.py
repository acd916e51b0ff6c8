"""Try other U-Net widths for a volume segmentation task, and score averaged networks.

Usage, from the repository root::

    python tools/volume_recipes.py train --task mri-hippocampus --data DIR --channels 16,32,64,128 \
        --out var/hip-16 [--epochs 60 --batch-size 2 --lr 3e-3 --patience 15 --seed 0]
    python tools/volume_recipes.py average --task mri-hippocampus --data DIR BUNDLE [BUNDLE ...]

``train`` runs the shipped recipe (:func:`medsight.training.segment_volume.
fit_volume_segmenter`, the options of ``make models``) with only the U-Net's channels
changed (``--seed`` for other seeds of the shipped recipe), and writes a bundle whose
metadata holds its val figures. ``average`` scores the task's shipped model, each bundle
given, the average of their calibrated probabilities and the average of their logits (as
a ``--members`` bundle averages) on the val split, case by case (mean Dice over labels,
after the largest region is kept, as ``medsight evaluate`` scores them), with how each
one's expected Dice tracks the real Dice, and how far the networks' labels agree with
each other (mean pairwise Dice) as a per-case quality signal. The results are in
docs/models.md (mri-hippocampus and mri-brain-tumour, "Wider and averaged", "Seed
ensemble").
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import time
from pathlib import Path

import numpy as np

from medsight.calibration import apply_softmax_temperature
from medsight.data.volumes import load_volumes
from medsight.inference.segmentation import expected_dice
from medsight.inference.volume_segmentation import LoadedVolumeSegmenter, predict_volume
from medsight.metrics.segmentation import confidence_tracking, dice
from medsight.models.bundle import load_bundle
from medsight.services.segment_volumes import load_volume_model
from medsight.tasks import get_task
from medsight.tasks.volume import keep_largest_region, unit_volume
from medsight.training import FitProgress, TrainOptions
from medsight.training.export_volume import VolumeSource, write_volume_bundle
from medsight.training.loop import EpochLog
from medsight.training.segment_volume import VolumeOptions, default_volume_network, fit_volume_segmenter


def train(args: argparse.Namespace) -> None:
    task = get_task(args.task)
    assert task.volume is not None, f"{args.task} is not a volume segmentation task"
    channels = tuple(int(c) for c in args.channels.split(","))
    network = dataclasses.replace(default_volume_network(task.volume, len(task.classes) - 1), channels=channels)
    train_options = TrainOptions(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, patience=args.patience, seed=args.seed
    )
    options = VolumeOptions(train=train_options, network=network, threads=args.threads)
    data = load_volumes(args.data)
    started = time.perf_counter()

    def on_epoch(log: EpochLog) -> None:
        print(f"{log}  [{time.perf_counter() - started:.0f} s]", flush=True)

    fit = fit_volume_segmenter(task, data, options, FitProgress(on_epoch=on_epoch))
    command = "python tools/volume_recipes.py " + " ".join(f"{k}={v}" for k, v in vars(args).items() if k != "func")
    write_volume_bundle(args.out, VolumeSource(task, fit, options, data, command))
    val = json.loads((args.out / "configs" / "metadata.json").read_text())["medsight"]["metrics"]["val"]
    print(f"best epoch {fit.best_epoch}, {fit.seconds / 60:.1f} min; val Dice {val['dice_mean']} {val['dice_mean_ci']}")


def average(args: argparse.Namespace) -> None:
    models = [load_volume_model(args.task, None)]
    models += [LoadedVolumeSegmenter.load(load_bundle(path)) for path in args.bundles]
    # "average": the networks' calibrated probabilities averaged; "mean logits": their raw
    # logits averaged, then one temperature (here the networks' mean; a bundle would fit its own).
    names = ["shipped", *(path.name for path in args.bundles), "average", "mean logits"]
    temperature = float(np.mean([model.temperature for model in models]))
    labels = range(1, len(models[0].names) + 1)
    val = load_volumes(args.data).split("val")
    scores: list[list[float]] = [[] for _ in names]
    expected: list[list[float]] = [[] for _ in names]
    agreement: list[float] = []  # mean Dice between the networks' labels, pair by pair
    for case in val:
        image, reference = val.read(case)
        pixels = image.pixels if image.channels == 1 else image.pixels.mean(axis=-1, dtype=np.float32)
        probabilities, raw = [], []
        for model in models:
            logits, _, _ = predict_volume(model.model, unit_volume(pixels, model.recipe), model.recipe)
            raw.append(logits)
            probabilities.append(apply_softmax_temperature(logits, model.temperature, axis=0))
        mean_logits = apply_softmax_temperature(np.mean(raw, axis=0), temperature, axis=0)
        chosen_by_network = []
        for index, probability in enumerate([*probabilities, np.mean(probabilities, axis=0), mean_logits]):
            chosen = np.argmax(probability, axis=0).astype(np.uint8)
            if models[0].recipe.keep_largest:
                chosen = keep_largest_region(chosen)
            chosen_by_network.append(chosen)
            scores[index].append(float(np.mean([dice(chosen == k, reference == k) for k in labels])))
            expected[index].append(float(np.mean([expected_dice(probability[k], chosen == k) for k in labels])))
        pairs = itertools.combinations(chosen_by_network[: len(models)], 2)
        agreement.append(float(np.mean([np.mean([dice(a == k, b == k) for k in labels]) for a, b in pairs])))
    for name, values, guesses in zip(names, scores, expected, strict=True):
        tracking = confidence_tracking(np.asarray(guesses), np.asarray(values))
        print(
            f"{name}: mean Dice {np.mean(values):.4f} over {len(values)} val cases; expected "
            f"{tracking['mean_expected_dice']}, Spearman {tracking['spearman']}"
        )
    gain = np.asarray(scores[-2]) - np.asarray(scores[0])
    print(f"average - shipped: {gain.mean():+.4f}; {int((gain > 0).sum())} cases better, {int((gain < 0).sum())} worse")
    tracking = confidence_tracking(np.asarray(agreement), np.asarray(scores[-2]))
    print(
        f"agreement between networks: mean {tracking['mean_expected_dice']}, "
        f"Spearman with the average's Dice {tracking['spearman']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(required=True)
    one = commands.add_parser("train", help="train the task's recipe with other U-Net channels")
    one.add_argument("--task", required=True)
    one.add_argument("--data", type=Path, required=True)
    one.add_argument("--channels", required=True, help="channels per level, e.g. 16,32,64,128")
    one.add_argument("--out", type=Path, required=True)
    one.add_argument("--epochs", type=int, default=60)
    one.add_argument("--batch-size", type=int, default=2)
    one.add_argument("--lr", type=float, default=3e-3)
    one.add_argument("--patience", type=int, default=15)
    one.add_argument("--seed", type=int, default=0)
    one.add_argument("--threads", type=int, default=2)
    one.set_defaults(func=train)
    many = commands.add_parser("average", help="score the shipped model, the bundles and their average on val")
    many.add_argument("--task", required=True)
    many.add_argument("--data", type=Path, required=True)
    many.add_argument("bundles", type=Path, nargs="+")
    many.set_defaults(func=average)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
