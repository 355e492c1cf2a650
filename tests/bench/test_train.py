"""The vectorised ensemble trains each model exactly as it would be trained alone."""

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from bench import seeding
from bench.config import load_config
from bench.data import load_mnist, make_splits
from bench.model import MlpEnsemble, init_layers
from bench.train import to_unit_range, train_models
from bench.unit import make_dataset, run_unit
from tests.conftest import TINY


@pytest.fixture(scope="module")
def tiny_data():
    from tests.conftest import MNIST_DIR

    if not MNIST_DIR.is_dir():
        pytest.skip("real MNIST not available")
    config = load_config(None, TINY)
    mnist = load_mnist(config.data.dir)
    splits = make_splits(
        60000,
        config.data.val_size,
        10000,
        config.data.train_limit,
        config.data.test_limit,
        seeding.stream(config.run.root_seed, seeding.SPLIT),
    )
    return config, mnist, splits


def _dataset(mnist, splits):
    return make_dataset(mnist, splits, torch.device("cpu"))


@pytest.mark.parametrize(
    "extra",
    [
        ['run.seed_mode="init"'],
        ['run.seed_mode="order"'],
        # smooth activations are exact too when hidden widths are multiples of the SIMD length
        ['model.activation="tanh"', "model.hidden=[64, 32]"],
        ['model.activation="gelu"', "model.hidden=[64, 32]", 'run.seed_mode="both"'],
    ],
)
def test_seed_alone_equals_seed_in_a_batch_of_16(tiny_data, extra):
    _, mnist, splits = tiny_data
    config = load_config(None, TINY + extra)
    alone = run_unit(config, [7], mnist, splits)
    batch = run_unit(config, list(range(16)), mnist, splits)
    tables = {"alone": alone, "batch": batch}
    frames = {
        name: {"history": t.history, "metrics": t.metrics, "predictions": t.predictions.rows()}
        for name, t in tables.items()
    }
    for table, mine in frames["batch"].items():
        mine = mine[mine["seed"] == 7].reset_index(drop=True)
        pd.testing.assert_frame_equal(frames["alone"][table], mine, check_exact=True, obj=table)


def _reference_training(config, dataset, streams, epochs):
    """A plain one-model nn.Module loop with the same seed streams."""
    widths = [784, *config.model.hidden, 10]
    layers = init_layers(seeding.torch_generator(streams["init"]), widths)
    linears = []
    for weight, bias in layers:
        linear = torch.nn.Linear(weight.shape[0], weight.shape[1])
        with torch.no_grad():
            linear.weight.copy_(weight.T)
            linear.bias.copy_(bias)
        linears.append(linear)
    net = torch.nn.Sequential(*sum(([lin, torch.nn.ReLU()] for lin in linears[:-1]), []), linears[-1])
    optimizer = torch.optim.Adam(net.parameters(), lr=config.train.lr)
    rng = seeding.numpy_rng(streams["order"])
    for _ in range(epochs):
        perm = torch.from_numpy(rng.permutation(len(dataset.train_x)))
        for start in range(0, len(perm), config.train.batch_size):
            index = perm[start : start + config.train.batch_size]
            loss = F.cross_entropy(net(to_unit_range(dataset.train_x[index])), dataset.train_y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return net, linears


def test_matches_a_plain_nn_module_loop(tiny_data):
    config, mnist, splits = tiny_data
    dataset = _dataset(mnist, splits)
    seeds = [3, 11]
    streams = [seeding.model_streams(config.run.root_seed, s, "init") for s in seeds]
    model = MlpEnsemble.from_generators(
        [seeding.torch_generator(s["init"]) for s in streams], config.model.hidden, "relu"
    )
    train_models(model, dataset, config.train, seeding.numpy_rng(streams[0]["order"]))
    for k, st in enumerate(streams):
        net, linears = _reference_training(config, dataset, st, config.train.epochs)
        for (weight, bias), linear in zip(model.layers_of(k), linears, strict=True):
            # addmm (nn.Linear) and matmul + add round differently in the last bit; after
            # 2 epochs the weights still agree to 1e-4.
            torch.testing.assert_close(weight, linear.weight.detach().T, atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(bias, linear.bias.detach(), atol=1e-4, rtol=1e-4)
        with torch.no_grad():
            ref_pred = net(dataset.val_x).argmax(1)
            ens_pred = model(dataset.val_x)[k].argmax(1)
        assert (ref_pred == ens_pred).float().mean() >= 0.995


def test_a_diverging_seed_fails_alone(tiny_data):
    config, mnist, splits = tiny_data
    dataset = _dataset(mnist, splits)
    gens = [seeding.torch_generator(seeding.model_streams(1, s, "init")["init"]) for s in range(3)]
    model = MlpEnsemble.from_generators(gens, (16,), "relu")
    healthy = MlpEnsemble.from_generators(
        [seeding.torch_generator(seeding.model_streams(1, s, "init")["init"]) for s in (0, 2)], (16,), "relu"
    )
    with torch.no_grad():
        model.w0[:, 1] *= 1e38  # model 1 overflows to inf at once
    train_cfg = config.train
    outcome = train_models(model, dataset, train_cfg, np.random.default_rng(0))
    reference = train_models(healthy, dataset, train_cfg, np.random.default_rng(0))
    assert set(outcome.failures) == {1}
    assert outcome.failures[1][0] == 1 and "loss became" in outcome.failures[1][1]
    assert np.isnan(outcome.loss[-1, :, 1]).all()
    np.testing.assert_array_equal(outcome.loss[:, :, [0, 2]], reference.loss)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu_closely(tiny_data):
    config, mnist, splits = tiny_data
    cpu = run_unit(config, [0, 1], mnist, splits)
    gpu = run_unit(load_config(None, TINY + ['run.device="cuda"']), [0, 1], mnist, splits)
    # different kernels round differently: the same tables up to float tolerance, the same
    # predicted class on nearly every image
    np.testing.assert_allclose(cpu.history["loss"], gpu.history["loss"], rtol=1e-3)
    agree = (cpu.predictions.outcomes["pred"] == gpu.predictions.outcomes["pred"]).mean()
    assert agree >= 0.99
