"""K multilayer perceptrons held as one vectorised ensemble (stacked weights, batched matmuls).

Model k of the ensemble is exactly the MLP ``784 -> hidden... -> 10`` whose weights were drawn by
:func:`init_layers` from that model's own ``init`` generator. When every model sees the same
mini-batch, the first layer of all K models is one wide matmul ``(B, 784) @ (784, K * h0)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

N_INPUTS, N_CLASSES = 784, 10
ACTIVATION_FUNCTIONS = {"relu": torch.relu, "tanh": torch.tanh, "gelu": F.gelu}


def init_layers(gen: torch.Generator, widths: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """One model's ``(W (in, out), b (out,))`` per layer, drawn from ``gen``.

    Same distribution as ``torch.nn.Linear``'s default: U(-1/sqrt(in), 1/sqrt(in)) for both.
    """
    layers = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:], strict=True):
        bound = 1.0 / math.sqrt(fan_in)
        weight = (torch.rand(fan_in, fan_out, generator=gen) * 2 - 1) * bound
        bias = (torch.rand(fan_out, generator=gen) * 2 - 1) * bound
        layers.append((weight, bias))
    return layers


class _WideLinear(torch.autograd.Function):
    """``x @ w + b`` for all K models at once, with gradients that do not depend on K.

    ``x``: ``(B, n_in)``, ``w``: ``(n_in, K * h)``, ``b``: ``(K * h,)``. The weight and bias
    gradients are both matmuls over a contiguous gradient (``x.T @ g`` and ``1.T @ g``), whose
    columns BLAS computes identically whatever K is; autograd's own bias sum and the strided
    gradient of the (K, B) transpose round differently for different K.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, w)
        return torch.addmm(b, x, w)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, w = ctx.saved_tensors
        grad = grad.contiguous()
        grad_x = grad @ w.T if ctx.needs_input_grad[0] else None
        ones = torch.ones(1, len(grad), dtype=grad.dtype, device=grad.device)
        return grad_x, x.T @ grad, (ones @ grad).view(-1)


class MlpEnsemble(torch.nn.Module):
    """K MLPs with identical architecture. Forward returns logits ``(K, B, 10)``."""

    def __init__(self, per_model: list[list[tuple[torch.Tensor, torch.Tensor]]], activation: str):
        super().__init__()
        self.n_models = len(per_model)
        self.activation = ACTIVATION_FUNCTIONS[activation]
        first_w = torch.stack([layers[0][0] for layers in per_model], dim=1)  # (784, K, h0)
        first_b = torch.stack([layers[0][1] for layers in per_model])  # (K, h0)
        self.w0 = torch.nn.Parameter(first_w.contiguous())
        self.b0 = torch.nn.Parameter(first_b)
        n_layers = len(per_model[0])
        self.ws = torch.nn.ParameterList(
            torch.stack([layers[i][0] for layers in per_model]) for i in range(1, n_layers)
        )  # each (K, in, out)
        self.bs = torch.nn.ParameterList(
            torch.stack([layers[i][1] for layers in per_model])[:, None, :] for i in range(1, n_layers)
        )  # each (K, 1, out)

    @classmethod
    def from_generators(cls, gens: list[torch.Generator], hidden: tuple[int, ...], activation: str) -> MlpEnsemble:
        widths = [N_INPUTS, *hidden, N_CLASSES]
        return cls([init_layers(gen, widths) for gen in gens], activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(B, 784)`` shared by all models, or ``(K, B, 784)`` one batch per model."""
        n_in, k, h0 = self.w0.shape
        if x.dim() == 2:
            # One wide matmul for all K models.
            wide = _WideLinear.apply(x, self.w0.view(n_in, k * h0), self.b0.view(k * h0))  # (B, K * h0)
            h = self.activation(wide).view(len(x), k, h0).transpose(0, 1)  # (K, B, h0)
        else:
            h = self.activation(torch.baddbmm(self.b0[:, None, :], x, self.w0.transpose(0, 1)))  # (K, B, h0)
        for i, (weight, bias) in enumerate(zip(self.ws, self.bs, strict=True)):
            h = torch.baddbmm(bias, h, weight)  # (K, B, out)
            if i < len(self.ws) - 1:
                h = self.activation(h)
        return h

    @torch.no_grad()
    def reset_model(self, k: int) -> None:
        """Zero every weight of model ``k`` (used to park a model whose training diverged)."""
        for param in self.parameters():
            if param is self.w0:
                param[:, k].zero_()
            else:
                param[k].zero_()

    @torch.no_grad()
    def layers_of(self, k: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Model ``k``'s ``(W (in, out), b (out,))`` per layer, as copies."""
        layers = [(self.w0[:, k].clone(), self.b0[k].clone())]
        layers += [(w[k].clone(), b[k, 0].clone()) for w, b in zip(self.ws, self.bs, strict=True)]
        return layers


@torch.no_grad()
def predict_logits(model: MlpEnsemble, images: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """Logits ``(K, n, 10)`` for images ``(n, 784)`` shared by all models, in chunks."""
    return torch.cat([model(images[i : i + chunk]) for i in range(0, len(images), chunk)], dim=1)
