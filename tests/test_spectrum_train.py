"""Training the spectrum nets: the focal loss on hand-computed cases, the real-arithmetic complex net
equal to the native one, a few optimiser steps lowering the loss on a fixed batch, and a tiny
`train()` run end to end (checkpoint and card per epoch, the curve, the TrainingRecord that refuses
evaluation on the training captures, resume)."""

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mobeval.spectrum.benchmarks.generate import (
    CaptureKey,
    generate_capture,
    refuse_training_overlap,
)
from mobeval.core.errors import DataError, MobevalError
from mobeval.spectrum.models.loss import focal_loss, spectrum_focal_loss
from mobeval.spectrum.models.real_arithmetic import (
    RealArithmeticResNet,
    as_complex_logits,
)
from mobeval.spectrum.models.resnet import complex_resnet, real_input, real_resnet
from mobeval.spectrum.models.store import load_net, read_card, save_net
from mobeval.spectrum.models.train import TrainConfig, Trainee, images, train
from mobeval.spectrum.runners.net_model import resolve_net
from mobeval.spectrum.task.features import label_mask, spectrum_image


def _captures(n, split="test", seed=5, level=6):
    return [generate_capture(CaptureKey(seed, split, level, i)) for i in range(n)]


def test_focal_loss_hand_computed():
    # p = 0.5 either way: (1 - 0.5)^2 * log 2
    assert float(focal_loss(torch.zeros(3), torch.tensor([0.0, 1.0, 1.0]))) == pytest.approx(0.25 * math.log(2))
    # logit 2 for a true bin: p = sigmoid(2); logit 2 for an empty bin: p_t = 1 - sigmoid(2)
    p = 1 / (1 + math.exp(-2))
    want = ((1 - p) ** 2 * -math.log(p) + p ** 2 * -math.log(1 - p)) / 2
    got = float(focal_loss(torch.tensor([2.0, 2.0]), torch.tensor([1.0, 0.0])))
    assert got == pytest.approx(want, rel=1e-6)
    # gamma 0 is binary cross-entropy
    x, y = torch.tensor([0.3, -1.2, 4.0]), torch.tensor([1.0, 0.0, 0.0])
    bce = torch.nn.functional.binary_cross_entropy_with_logits(x, y)
    assert float(focal_loss(x, y, gamma=0)) == pytest.approx(float(bce), rel=1e-6)


def test_complex_loss_is_the_sum_over_real_and_imaginary_parts():
    re, im, y = torch.tensor([[0.5, -3.0]]), torch.tensor([[2.0, 1.0]]), torch.tensor([[1.0, 0.0]])
    want = float(focal_loss(re, y) + focal_loss(im, y))
    assert float(spectrum_focal_loss(torch.complex(re, im), y)) == pytest.approx(want)
    assert float(spectrum_focal_loss(torch.stack([re, im], 1), y)) == pytest.approx(want)  # real-arithmetic form
    assert float(spectrum_focal_loss(re, y)) == pytest.approx(float(focal_loss(re, y)))  # the real net


@pytest.mark.parametrize("train_mode", [True, False])
def test_real_arithmetic_net_equals_the_complex_net(train_mode):
    torch.manual_seed(1)
    net = complex_resnet(2)
    twin = RealArithmeticResNet(net)
    with torch.no_grad():  # non-trivial batch-norm statistics and affine maps
        for m in twin.modules():
            if hasattr(m, "running_cov"):
                m.running_mean.normal_(0, 0.1)
                m.running_cov.copy_(torch.tensor([[0.7], [0.1], [0.4]]).expand_as(m.running_cov))
                m.gamma.add_(torch.randn_like(m.gamma) * 0.1)
                m.beta.normal_(0, 0.1)
    twin.write_back(net)
    x = torch.from_numpy(np.stack([spectrum_image(c.iq) for c in _captures(2)]))
    net.train(train_mode), twin.train(train_mode)
    with torch.no_grad():
        a = net(x)
        b = as_complex_logits(twin(real_input(x)))
    assert a.shape == b.shape == (2, 16384)
    assert torch.allclose(a, b, atol=1e-4 * float(a.abs().max())), float((a - b).abs().max())


@pytest.mark.parametrize("kind", ["complex", "real"])
def test_a_few_steps_lower_the_loss_on_a_fixed_batch(kind):
    trainee = Trainee(TrainConfig(net=kind, width=2, seed=3))
    caps = _captures(2, level=4)
    x = trainee.inputs(images(np.stack([c.iq for c in caps])))
    y = torch.from_numpy(np.stack([label_mask(c) for c in caps]).astype(np.float32))
    opt = torch.optim.Adam(trainee.module.parameters(), lr=1e-2)
    losses = []
    for _ in range(3):
        loss = spectrum_focal_loss(trainee.module(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0], losses


def test_tiny_training_run_end_to_end(tmp_path):
    cfg = TrainConfig(net="complex", width=2, seed=21, train_per_level=1, train_empty=1, val_per_level=1, val_empty=1,
                      epochs=2, batch_size=2, levels_db=(10,))
    lines = []
    path = train(cfg, tmp_path, "tiny", log=lines.append, command="test")
    assert path == tmp_path / "tiny.pt" and (tmp_path / "checkpoint.pt").is_file()
    card = read_card(path)
    assert card["epochs"] == 2 and card["complete"] and [p["epoch"] for p in card["curve"]] == [1, 2]
    assert set(card["curve"][0]["val_bin_accuracy_per_snr"]) == {"10", "empty"}
    assert card["validation_bin_accuracy"] == card["curve"][-1]["val_bin_accuracy"]
    assert card["training"] == {"generator_version": 1, "seed": 21, "splits": ["train", "validation"],
                                "capture_ids": []}
    assert card["data"]["train"]["captures"] == 2 and card["machine"]["cpu"]
    assert any("epoch 2/2" in line for line in lines)
    # the saved complex net is the trained one: the net in the file scores what the card's last epoch did
    net = load_net(path)
    assert net.complex_valued and net.widths == (2, 4, 8, 16)
    from mobeval.spectrum.benchmarks.generate import Recipe
    from mobeval.spectrum.models.train import evaluate, make_captures

    val = make_captures(cfg.val_spec(), Recipe(), lambda _m: None)
    again = evaluate(Trainee(TrainConfig(**{**cfg.__dict__, "init_from": str(path)})), val, 2, images(val.iq))
    assert again["val_bin_accuracy"] == pytest.approx(card["validation_bin_accuracy"], abs=1e-9)
    assert again["val_bin_accuracy_per_snr"] == pytest.approx(card["curve"][-1]["val_bin_accuracy_per_snr"])
    # the card makes mobeval refuse the training captures, not the test split
    model = resolve_net(str(path))
    train_capture = generate_capture(CaptureKey(21, "train", 10, 0))
    with pytest.raises(DataError, match="used to train this model"):
        refuse_training_overlap([train_capture], model.training)
    refuse_training_overlap([generate_capture(CaptureKey(21, "test", 10, 0))], model.training)
    # a second run into the same folder is refused; --resume after the last epoch keeps everything
    with pytest.raises(MobevalError, match="--resume"):
        train(cfg, tmp_path, "tiny", log=lines.append)
    before = path.read_bytes()
    train(cfg, tmp_path, "tiny", resume=True, log=lines.append, command="test")
    assert any("all 2 epochs are done" in line for line in lines) and path.read_bytes() == before
    with pytest.raises(MobevalError, match="other settings"):
        train(TrainConfig(**{**cfg.__dict__, "epochs": 3}), tmp_path, "tiny", resume=True, log=lines.append)


def test_resume_continues_an_interrupted_run(tmp_path):
    """A run stopped after epoch 1 of 2, then --resume: it starts at epoch 2 and completes the card."""
    cfg = TrainConfig(net="real", width=2, seed=22, train_per_level=2, train_empty=0, val_per_level=1, val_empty=0,
                      epochs=2, batch_size=2, levels_db=(10,))
    half = tmp_path / "half"
    one = TrainConfig(**{**cfg.__dict__, "epochs": 1})
    train(one, half, "r", log=lambda m: None, command="test")
    ckpt = torch.load(half / "checkpoint.pt", weights_only=True)
    ckpt["config"] = {**ckpt["config"], "epochs": 2}
    torch.save(ckpt, half / "checkpoint.pt")
    # (a 1-epoch run's checkpoint relabelled as epoch 1 of 2 stands for a run killed after epoch 1)
    lines = []
    train(cfg, half, "r", resume=True, log=lines.append, command="test")
    assert any("resuming after epoch 1" in line for line in lines)
    assert any("epoch 2/2" in line for line in lines) and not any("epoch 1/2" in line for line in lines)
    card = read_card(half / "r.pt")
    assert [p["epoch"] for p in card["curve"]] == [1, 2] and card["complete"] and card["epochs"] == 2


def test_training_on_faded_captures_records_the_recipe_and_resume_keeps_it(tmp_path):
    """--fading reaches the training captures (the card's recipe says so) and a resume with another
    recipe is refused, so one run never mixes AWGN and faded captures."""
    from mobeval.spectrum.benchmarks.generate import Recipe

    cfg = TrainConfig(net="real", width=2, seed=23, train_per_level=2, train_empty=0, val_per_level=1, val_empty=0,
                      epochs=1, batch_size=2, levels_db=(10,))
    rayleigh = Recipe(fading="rayleigh")
    path = train(cfg, tmp_path, "f", log=lambda m: None, command="test", recipe=rayleigh)
    assert read_card(path)["data"]["recipe"]["fading"] == "rayleigh"
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["recipe"] == rayleigh.record()
    with pytest.raises(MobevalError, match="another recipe"):
        train(cfg, tmp_path, "f", resume=True, log=lambda m: None, recipe=Recipe())


def test_a_net_without_its_card_or_not_a_net_is_refused(tmp_path):
    p = save_net(real_resnet(2), tmp_path / "x.pt")
    with pytest.raises(DataError, match="x.json: missing"):
        resolve_net(str(p))
    (tmp_path / "bad.pt").write_bytes(b"not a torch file")
    with pytest.raises(DataError, match="bad.pt: not a mobeval spectrum net"):
        load_net(tmp_path / "bad.pt")
    (tmp_path / "y.pt").write_bytes(p.read_bytes())
    (tmp_path / "y.json").write_text(json.dumps({"training": {"seed": 1}}))
    with pytest.raises(DataError, match="generator_version"):
        resolve_net(str(tmp_path / "y.pt"))
    with pytest.raises(MobevalError, match="not a bundled spectrum net"):
        resolve_net(str(tmp_path / "nothing.pt"))


def test_the_train_command_end_to_end_with_fading(tmp_path):
    """`mobeval train spectrum` as a user types it: a tiny real net on Rician-faded captures, the weights
    and card it prints, the card's recipe and command."""
    from typer.testing import CliRunner

    from mobeval.cli import app

    args = ["train", "spectrum", "--out", str(tmp_path), "--net", "real", "--name", "tiny", "--width", "2",
            "--seed", "24", "--train-per-level", "2", "--train-empty", "0", "--val-per-level", "1", "--val-empty", "0",
            "--snr", "10", "--epochs", "1", "--batch-size", "2", "--threads", "1", "--fading", "rician",
            "--rician-k-db", "3"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert f"weights: {tmp_path / 'tiny.pt'}" in r.output.replace("\n", "")
    card = read_card(tmp_path / "tiny.pt")
    assert card["data"]["recipe"]["fading"] == "rician" and card["data"]["recipe"]["rician_k_db"] == 3.0
    assert card["config"]["levels_db"] == [10] and card["complete"]
    bad = CliRunner().invoke(app, args[:-4] + ["--fading", "nakagami"])
    assert bad.exit_code != 0 and "nakagami" in bad.output


def test_init_from_starts_at_the_trained_weights_and_records_them(tmp_path):
    """--init-from (fine-tuning): the net starts at the named net's weights, the card records which (by
    sha256); a net of the other number field, other widths or another seed's captures is refused."""
    from mobeval.core.hashing import file_sha256

    base_cfg = TrainConfig(net="real", width=2, seed=25, train_per_level=2, train_empty=0, val_per_level=1,
                           val_empty=0, epochs=1, batch_size=2, levels_db=(10,))
    base = train(base_cfg, tmp_path / "base", "base", log=lambda m: None, command="test")
    cfg = TrainConfig(**{**base_cfg.__dict__, "init_from": str(base)})
    start = Trainee(cfg).net.state_dict()
    for k, v in load_net(base).state_dict().items():
        assert torch.equal(start[k], v), k
    tuned = train(cfg, tmp_path / "tuned", "tuned", log=lambda m: None, command="test")
    card = read_card(tuned)
    assert card["initialised_from"]["sha256"] == file_sha256(base) and card["initialised_from"]["epochs"] == 1
    assert card["initialised_from"]["curve"] == read_card(base)["curve"]  # the whole history stays readable
    assert read_card(base)["initialised_from"].startswith("random")
    for change, says in (({"seed": 26}, "fine-tune with --seed 25"), ({"net": "complex"}, "a real net"),
                         ({"width": 3}, "widths")):
        with pytest.raises(MobevalError, match=says):
            Trainee(TrainConfig(**{**cfg.__dict__, **change}))


class _TouchOnLoad:
    """A pickle that creates a file when it is unpickled (what a checkpoint from elsewhere could do)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _resume_args(out):
    return ["train", "spectrum", "--out", str(out), "--net", "real", "--name", "r", "--width", "2", "--seed", "25",
            "--train-per-level", "1", "--train-empty", "0", "--val-per-level", "1", "--val-empty", "0", "--snr", "10",
            "--epochs", "1", "--batch-size", "2", "--threads", "1", "--resume"]


@pytest.mark.parametrize("content", ["code", "list", "junk", "no_module"])
def test_resume_from_a_foreign_or_malformed_checkpoint_runs_no_code_and_names_the_file(tmp_path, content):
    """Issue 30 (security): --resume reads checkpoint.pt with weights_only=True, so a crafted pickle runs
    nothing; a file that is not a checkpoint is a clear error naming it, not a traceback."""
    from typer.testing import CliRunner

    from mobeval.cli import app

    marker = tmp_path / "pwned"
    ckpt = tmp_path / "checkpoint.pt"
    if content == "code":
        torch.save({"config": _TouchOnLoad(marker), "epoch": 1}, ckpt)
    elif content == "list":
        torch.save([1, 2, 3], ckpt)
    elif content == "junk":
        ckpt.write_bytes(b"not a torch file at all")
    else:
        torch.save({"config": {}, "epoch": 1, "optimizer": {}, "curve": []}, ckpt)
    res = CliRunner().invoke(app, _resume_args(tmp_path))
    output = res.output.replace("\n", "")
    assert not marker.exists()
    assert res.exit_code != 0, res.output
    assert str(ckpt) in output and "not a mobeval training checkpoint" in output, res.output
    assert "Traceback" not in res.output and (res.exception is None or isinstance(res.exception, SystemExit))
