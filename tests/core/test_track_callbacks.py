"""The tracker inside other trainers: transformers' callback machinery with the
`TrainerCallback`, and a PyTorch Lightning `Trainer` with the Lightning callback. Each run's last λmax is
checked against an eigen-solve independent of LossViz's products (scipy's `eigsh` on
`torch.autograd.functional.hvp`, or `eigh` of the dense autograd Hessian)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from lossviz_core.track import read_track

pytestmark = pytest.mark.usefixtures("one_thread")


def independent_lambda_max(model: nn.Module, x, y, output=None) -> float:
    """λmax of the mean cross-entropy's Hessian over every trainable parameter, by scipy's
    ARPACK on plain autograd Hessian-vector products (eval mode)."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    model.eval().double()
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    state = {k: v.detach() for k, v in model.state_dict().items()}
    params = tuple(state[n] for n in names)
    sizes = [p.numel() for p in params]
    x = x.double() if x.is_floating_point() else x

    def loss(*ps):
        out = functional_call(model, {**state, **dict(zip(names, ps, strict=True))}, (x,))
        out = out[output] if output else out
        return F.cross_entropy(out, y)

    def mv(v):
        parts = torch.split(torch.from_numpy(np.asarray(v, np.float64).ravel()), sizes)
        tangent = tuple(t.view(p.shape) for t, p in zip(parts, params, strict=True))
        _, hv = torch.autograd.functional.hvp(loss, params, tangent)
        return torch.cat([h.reshape(-1) for h in hv]).numpy()

    n = sum(sizes)
    value = eigsh(LinearOperator((n, n), matvec=mv, dtype=np.float64), k=1, which="LA",
                  tol=1e-8, v0=np.ones(n))[0][0]
    model.float()
    return float(value)


def test_transformers_trainer_callback(tmp_path):
    transformers = pytest.importorskip("transformers")
    from lossviz_core.track.hf import LossVizCallback

    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=32,
                                     max_position_embeddings=16, num_labels=3)
    config._attn_implementation = "eager"  # twice differentiable
    model = transformers.BertForSequenceClassification(config)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, 40, (32, 8), generator=g)
    labels = torch.randint(0, 3, (32,), generator=g)
    callback = LossVizCallback(tmp_path / "run", probe=(ids[:16], labels[:16]), every=2,
                               measures="lambda_max,sharpness,grad_norm")
    # transformers' own callback machinery, driven as `Trainer.train` drives it (the
    # Trainer itself needs `accelerate`, which LossViz does not install)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3)
    handler = transformers.trainer_callback.CallbackHandler([callback], model, None, optimizer,
                                                            None)
    handler.train_dataloader = None
    args = None  # TrainingArguments sets up accelerate too; the callback reads none of it
    state = transformers.TrainerState(max_steps=6)
    control = transformers.TrainerControl()
    handler.on_train_begin(args, state, control)
    model.train()
    for step in range(6):
        rows = slice(8 * (step % 4), 8 * (step % 4) + 8)
        handler.on_step_begin(args, state, control)
        loss = model(input_ids=ids[rows], labels=labels[rows]).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        state.global_step, state.epoch = step + 1, (step + 1) / 4
        handler.on_step_end(args, state, control)
    handler.on_train_end(args, state, control)
    records = read_track(tmp_path / "run")
    assert [r["step"] for r in records] == [2, 4, 6]
    assert [r["epoch"] for r in records] == [0.5, 1.0, 1.5]  # 4 steps an epoch
    assert all(r["lr"] > 0 and "lambda_max_error" not in r for r in records)
    want = independent_lambda_max(model, ids[:16], labels[:16], output="logits")
    assert records[-1]["lambda_max"] == pytest.approx(want, rel=1e-3)


def test_lightning_callback(tmp_path):
    lightning = pytest.importorskip("lightning")
    from lossviz_core.track.lightning import LossVizCallback

    class Tiny(lightning.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(10, 8), nn.Tanh(), nn.Linear(8, 3))

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, batch_idx):
            x, y = batch
            return F.cross_entropy(self(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.3)

    torch.manual_seed(0)
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(64, 10, generator=g), torch.randint(0, 3, (64,), generator=g)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)
    model = Tiny()
    callback = LossVizCallback(tmp_path / "run", probe=(x, y), every=3,
                               measures="lambda_max,sharpness,slice")
    lightning.Trainer(max_steps=7, accelerator="cpu", logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False,
                      callbacks=[callback]).fit(model, loader)
    records = read_track(tmp_path / "run")
    assert [r["step"] for r in records] == [3, 6, 7]  # every 3 and the last step
    assert all(r["lr"] == pytest.approx(0.3) and r["loss"] > 0 for r in records)
    assert records[-1]["lambda_max"] == pytest.approx(independent_lambda_max(model.net, x, y),
                                                      rel=1e-3)
