"""Does a blurred image change a classifier's call? The share of a split called positive, per class, per blur.

Usage, from the repository root::

    python tools/blur_stress.py --task cxr-pneumonia --model cxr-pneumonia-224 \
        --data ../shared/datasets/chest_xray_pneumonia_224 [--split val] [--sigmas 0,2,4,8] [--json]

Each image of the split is prepared as ``medsight evaluate`` prepares it, blurred by a
Gaussian of each sigma (px at the model input; scipy's ``gaussian_filter``), and scored at
the model's stored threshold. A model that reads blur as its finding calls more and more
negatives positive as sigma grows: the saliency audit found that both shipped pneumonia
models do (docs/models.md, "Saliency audit"). The figures there come from this script.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from medsight.data import load_dataset
from medsight.services.models import load_model
from medsight.tasks import get_task
from medsight.training.prepare_data import prepare_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", required=True)
    parser.add_argument("--model", required=True, help="shipped name or bundle folder")
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--split", default="val")
    parser.add_argument("--sigmas", default="0,2,4,8", help="blur sigmas, px at the model input")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    task = get_task(args.task)
    model = load_model(task, args.model, resolution=None, backend="auto")
    data = load_dataset(args.data, task.label_of, None, relabel=task.class_of_stored).split(args.split)
    inputs, labels = prepare_split(data, model.preprocessing)
    rows = []
    for sigma in (float(s) for s in args.sigmas.split(",")):
        blurred = np.stack([gaussian_filter(x[0], sigma)[None] for x in inputs]).astype(np.float32) if sigma else inputs
        called = model.score(blurred).probabilities >= model.threshold
        rows.append(
            {
                "sigma_px": sigma,
                **{
                    f"{name}_called_{task.classes[1]}": round(float(called[labels == label].mean()), 4)
                    for label, name in enumerate(task.classes)
                },
            }
        )
    document = {
        "model": model.bundle.identity(),
        "split": args.split,
        "n": {name: int(np.sum(labels == label)) for label, name in enumerate(task.classes)},
        "rows": rows,
    }
    if args.json:
        print(json.dumps(document, indent=2))
        return
    print(f"{document['model']['name']} {document['model']['version']} [{args.split}] n={document['n']}")
    for row in rows:
        print("  " + ", ".join(f"{k} {v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
