#!/usr/bin/env bash
# Retrain every shipped checkpoint with the recipes recorded in their model cards (2-core CPU: about 2.5 hours).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
$PY -m models.train mnist_cnn --ship --epochs 20 --optimizer adam --lr 0.003 --weight-decay 0 --augment rotate --label-smoothing 0 --val-fraction 0.05
$PY -m models.train cifar_cnn --ship --epochs 18 --val-fraction 0.05 --lr 0.05 --batch-size 128 --augment flip,crop
$PY -m models.train resnet18 --ship --epochs 22 --val-fraction 0.05 --lr 0.1 --batch-size 128 --augment flip,crop
$PY -m models.train cifar_cnn_plus --ship --epochs 12 --val-fraction 0.05 --lr 0.2 --batch-size 256 --augment flip,crop
$PY -m models.train mnist_fast --ship
$PY -m models.train cifar_fast --ship
