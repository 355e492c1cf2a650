"""Train a vectorised ensemble of MLPs; each model's trajectory depends only on its own streams.

All K models take their own cross-entropy loss; the losses are summed so that one backward pass
gives every model exactly the gradient it would get alone (the terms share no parameters). Adam
and SGD are elementwise, so a stacked optimiser equals K separate ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from bench.config import TrainConfig
from bench.model import MlpEnsemble, predict_logits


@dataclass(frozen=True)
class Dataset:
    """Float tensors on the training device."""

    train_x: torch.Tensor  # (n_train, 784) uint8 pixels, scaled per mini-batch (a quarter of the memory)
    train_y: torch.Tensor  # (n_train,) int64
    val_x: torch.Tensor  # (n_val, 784)
    val_y: torch.Tensor  # (n_val,)


@dataclass(frozen=True)
class TrainOutcome:
    """Per-epoch curves and the models that diverged.

    ``loss`` and ``accuracy`` are ``(epochs, 2, K)`` arrays; axis 1 is (train, val). A model
    that failed has NaN from its failing epoch on. ``failures`` maps model index to
    ``(epoch, reason)``.
    """

    loss: np.ndarray
    accuracy: np.ndarray
    failures: dict[int, tuple[int, str]]


def to_unit_range(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 pixels to float32 in [0, 1] (elementwise, so per batch equals all at once)."""
    return pixels.to(torch.float32).div_(255.0)


def make_optimizer(model: MlpEnsemble, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.lr, fused=True)  # one elementwise kernel
    return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9, fused=True)


def _batches(
    order: np.random.Generator | list[np.random.Generator], n: int, batch_size: int
) -> tuple[np.ndarray, list[slice]]:
    """One epoch's permutation: ``(n,)`` when shared, ``(K, n)`` per model; and batch slices."""
    if isinstance(order, np.random.Generator):
        perm = order.permutation(n)
    else:
        perm = np.stack([rng.permutation(n) for rng in order])
    return perm, [slice(i, i + batch_size) for i in range(0, n, batch_size)]


def _per_model_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy per model: logits ``(K, B, 10)``, targets ``(B,)`` or ``(K, B)`` -> ``(K,)``.

    Computed model by model: vectorised kernels round their tail elements differently, so a
    ``(K * B, 10)`` call would make a model's loss depend (in the last bit) on K.
    """
    per_model = targets.expand(logits.shape[:2])
    return torch.stack([F.cross_entropy(logits[k], per_model[k]) for k in range(len(logits))])


def _park(model: MlpEnsemble, optimizer: torch.optim.Optimizer, k: int) -> None:
    """Zero model ``k`` and its optimiser state so it stays inert for the rest of training."""
    model.reset_model(k)
    for param in model.parameters():
        for value in optimizer.state.get(param, {}).values():
            if torch.is_tensor(value) and value.shape == param.shape:
                with torch.no_grad():
                    (value[:, k] if param is model.w0 else value[k]).zero_()


@torch.no_grad()
def _evaluate_split(model: MlpEnsemble, x: torch.Tensor, y: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    logits = predict_logits(model, x)  # (K, n, 10)
    loss = _per_model_loss(logits, y)
    acc = (logits.argmax(-1) == y).float().mean(1)
    return loss.cpu().numpy(), acc.cpu().numpy()


def train_models(
    model: MlpEnsemble,
    data: Dataset,
    config: TrainConfig,
    order: np.random.Generator | list[np.random.Generator],
    on_epoch: Callable[[int], None] | None = None,
) -> TrainOutcome:
    """Train every model of ``model`` in place for ``config.epochs`` epochs.

    ``order`` is one Generator when all models share the data order (then the first layer is
    one wide matmul), else one Generator per model. The training-split figures of an epoch are
    the running means over its mini-batches; the validation figures are computed after it.
    """
    n_models, n_train = model.n_models, len(data.train_x)
    device = data.train_x.device
    optimizer = make_optimizer(model, config)
    alive = torch.ones(n_models, dtype=torch.bool, device=device)
    loss_hist = np.full((config.epochs, 2, n_models), np.nan)
    acc_hist = np.full((config.epochs, 2, n_models), np.nan)
    failures: dict[int, tuple[int, str]] = {}
    for epoch in range(config.epochs):
        perm, slices = _batches(order, n_train, config.batch_size)
        perm = torch.from_numpy(perm).to(device)
        loss_sum = torch.zeros(n_models, dtype=torch.float64, device=device)
        correct = torch.zeros(n_models, dtype=torch.float64, device=device)
        for batch in slices:
            index = perm[..., batch]  # (B,) or (K, B)
            x, y = to_unit_range(data.train_x[index]), data.train_y[index]  # (B, 784) or (K, B, 784)
            logits = model(x)  # (K, B, 10)
            losses = _per_model_loss(logits, y)  # (K,)
            optimizer.zero_grad(set_to_none=True)
            torch.where(alive, losses, 0.0).sum().backward()
            optimizer.step()
            with torch.no_grad():
                loss_sum += losses.double() * index.shape[-1]
                correct += (logits.argmax(-1) == y).sum(-1).double()
        was_alive = alive.cpu().numpy()
        train_loss = np.where(was_alive, (loss_sum / n_train).cpu().numpy(), np.nan)
        train_acc = np.where(was_alive, (correct / n_train).cpu().numpy(), np.nan)
        for k in np.flatnonzero(was_alive & ~np.isfinite(train_loss)):
            failures[int(k)] = (epoch + 1, f"training loss became {train_loss[k]} in epoch {epoch + 1}")
            alive[k] = False
            _park(model, optimizer, int(k))
        val_loss, val_acc = _evaluate_split(model, data.val_x, data.val_y)
        now_alive = alive.cpu().numpy()
        loss_hist[epoch] = [train_loss, np.where(now_alive, val_loss, np.nan)]
        acc_hist[epoch] = [train_acc, np.where(now_alive, val_acc, np.nan)]
        if on_epoch is not None:
            on_epoch(epoch + 1)
    return TrainOutcome(loss=loss_hist, accuracy=acc_hist, failures=failures)
