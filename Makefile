# medsight: the two commands a fresh machine needs are `make run` and `make test`.
# Both create .venv when it is missing and install into it once; the stamp file makes
# a second call skip the install until pyproject.toml changes.

PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

SHARED ?= ../shared
SHIPPED := src/medsight/models/shipped
GATES := src/medsight/models/gates

.PHONY: run test lint typecheck contracts unit bench bench-service models reference-model clean help

help:
	@echo "make run     set up, then run medsight on its embedded defaults"
	@echo "make test    set up, then lint, type-check, check layering and run the whole suite"
	@echo "make bench   set up (with the bench extra), then measure and write BENCHMARKS.md"
	@echo "make bench-service  only the service section (medsight against Orthanc, about 25 min; installs Orthanc if missing)"
	@echo "make models  retrain every shipped model from $(SHARED) (seed 0; about 15 min each on 2 cores)"
	@echo "make reference-model  train the MedMNIST reference (ResNet-18, 28 px) that make bench compares with (20+ min)"

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Python >= 3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	@touch $(STAMP)

# The main job: the imaging service on embedded defaults (SQLite and files in ./var, the
# shipped models), loaded with the demo studies; prints the URL and a new admin token.
# `medsight demo` still runs the offline batch demo (analyse, score, refuse) without a server.
run: $(STAMP)
	$(VENV)/bin/medsight serve --demo --shared $(SHARED)

LINTED := $(wildcard src tests benchmarks tools)

lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)

typecheck: $(STAMP)
	$(VENV)/bin/mypy src

contracts: $(STAMP)
	$(VENV)/bin/lint-imports

unit: $(STAMP)
	$(PY) -m pytest

test: lint typecheck contracts unit

bench: $(STAMP)
	$(PY) -m benchmarks.run --out BENCHMARKS.md

# The service section alone (DICOMweb against Orthanc, jobs, 10 min of memory), put into
# the existing BENCHMARKS.md in place of its previous figures.
bench-service: $(STAMP)
	$(PY) -m benchmarks.run --only service --out BENCHMARKS.md

# The shipped models, retrained from the shared data with the commands their model cards
# record. Same seed, same thread count: same weights on the same platform.
models: $(STAMP)
	$(VENV)/bin/medsight models train-gate --data $(SHARED)/datasets --out $(GATES)/image-kind-32 --seed 0 --threads 2
	$(VENV)/bin/medsight train --task cxr-pneumonia --data $(SHARED)/datasets/pneumoniamnist \
		--out $(SHIPPED)/cxr-pneumonia-28 --resolution 28 --epochs 30 --seed 0 --threads 2
	$(VENV)/bin/medsight audit saliency --task cxr-pneumonia --model cxr-pneumonia-28 \
		--data $(SHARED)/datasets/pneumoniamnist --record >/dev/null
	$(VENV)/bin/medsight models attach-gate cxr-pneumonia-28
	$(VENV)/bin/medsight train --task cxr-pneumonia --data $(SHARED)/datasets/chest_xray_pneumonia_224 \
		--out $(SHIPPED)/cxr-pneumonia-224 --resolution 224 --epochs 14 --seed 0 --threads 2 --ood-folds 10 \
		--blur-max 4 --blur-prob 0.3 --version 2.0.0
	$(VENV)/bin/medsight audit saliency --task cxr-pneumonia --model cxr-pneumonia-224 \
		--data $(SHARED)/datasets/chest_xray_pneumonia_224 --record >/dev/null
	$(VENV)/bin/medsight models attach-gate cxr-pneumonia-224
	$(VENV)/bin/medsight train --task us-breast --data $(SHARED)/datasets/breastmnist \
		--out $(SHIPPED)/us-breast-28 --resolution 28 --epochs 60 --patience 15 --members 3 --version 2.0.0 \
		--threshold-rule prevalence --seed 0 --threads 1 --ood-quantile 0.98 --ood-folds 10
	$(VENV)/bin/medsight audit saliency --task us-breast --model us-breast-28 \
		--data $(SHARED)/datasets/breastmnist --record >/dev/null
	$(VENV)/bin/medsight models attach-gate us-breast-28
	$(VENV)/bin/medsight train --task us-fetal-head --data $(SHARED)/datasets/hc18 \
		--out $(SHIPPED)/us-fetal-head-128 --resolution 128 --epochs 60 --patience 15 --batch-size 16 \
		--seed 0 --threads 1
	$(VENV)/bin/medsight models attach-gate us-fetal-head-128
	$(VENV)/bin/medsight train --task cxr-tuberculosis --data $(SHARED)/datasets/tb_cxr \
		--out $(SHIPPED)/cxr-tuberculosis-96 --resolution 96 --epochs 40 --patience 40 --lr 1e-3 --ood-folds 10 \
		--members 3 --version 2.0.0 --seed 0 --threads 2
	# Grad-CAM failed this model's saliency audit and occlusion passed it (docs/models.md).
	$(VENV)/bin/medsight models set-saliency cxr-tuberculosis-96 --method occlusion --patch 16 --stride 12
	$(VENV)/bin/medsight audit saliency --task cxr-tuberculosis --model cxr-tuberculosis-96 \
		--data $(SHARED)/datasets/tb_cxr --record >/dev/null
	$(VENV)/bin/medsight models attach-gate cxr-tuberculosis-96
	# After the gate: the fairness audit names the settings it judged, the input gate among them.
	$(VENV)/bin/medsight audit fairness --task cxr-tuberculosis --data $(SHARED)/datasets/tb_cxr --split val \
		--groups sex,age_band,source --record >/dev/null
	$(VENV)/bin/medsight train --task mri-hippocampus --data $(SHARED)/datasets/msd_task04_hippocampus \
		--out $(SHIPPED)/mri-hippocampus-48 --epochs 60 --batch-size 2 --lr 3e-3 --patience 15 --members 3 \
		--version 2.0.0 --seed 0 --threads 2
	$(VENV)/bin/medsight train --task mri-brain-tumour --data $(SHARED)/datasets/lgg_mri_segmentation_subset \
		--out $(SHIPPED)/mri-brain-tumour-128 --epochs 100 --batch-size 16 --lr 3e-3 --patience 30 --seed 0 --threads 2

# The MedMNIST v2 reference, ResNet-18 at 28 px (widths 64..512, blocks 2,2,2,2, small stem),
# trained the same way as the shipped 28 px model. Not shipped: `make bench` measures it
# when var/reference/resnet18-28 exists.
reference-model: $(STAMP)
	$(VENV)/bin/medsight train --task cxr-pneumonia --data $(SHARED)/datasets/pneumoniamnist \
		--out var/reference/resnet18-28 --resolution 28 --epochs 30 --seed 0 --threads 2 \
		--widths 64,128,256,512 --name medmnist-resnet18-28

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
