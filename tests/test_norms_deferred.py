"""On a GPU gradscope reads the gradient norms a call or more after they were taken (their copy to the
host does not wait, record/norms.py). Simulated here on the CPU with copies that are never done before
they must be read: the norms, the module and model aggregates and the optimizer audit must be exactly
those of the call each belongs to, as torch reports them right after that call."""

import math

import torch

from gradscope.api import TraceSession
from gradscope.record import norms


def test_norms_read_late_belong_to_their_own_call(monkeypatch):
    monkeypatch.setattr(norms.HostValues, "done", lambda self: False)
    deepest = []
    flush = norms.NormTracker.flush
    monkeypatch.setattr(norms.NormTracker, "flush",
                        lambda self, wait_for=None: (deepest.append(len(self.pending)), flush(self, wait_for))[1])
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    frozen = torch.nn.Parameter(torch.ones(2))  # in the optimizer, never gets a gradient
    opt = torch.optim.SGD([*model.parameters(), frozen], lr=0.1)
    expected = []
    with TraceSession() as session:
        for step in range(20):
            opt.zero_grad()
            loss = model(torch.randn(8, 3)).pow(2).mean()
            loss.backward()
            expected.append({n: torch.linalg.vector_norm(p.grad).item() for n, p in model.named_parameters()})
            opt.step()
    assert max(deepest) > norms.PENDING_MAX  # values really waited, several calls deep

    health = session.capture.grad_health
    (site,) = health.sites
    params = {s.name: s for s in site.series if s.of == "parameter"}
    assert set(params) == {f"model.{n}" for n in expected[0]}
    for name in expected[0]:
        got = params[f"model.{name}"]
        want = [e[name] for e in expected]
        assert got.calls == 20 and got.series_calls == list(range(1, 21))
        assert all(math.isclose(g, w, rel_tol=1e-6) for g, w in zip(got.series, want)), name
    model_series = next(s for s in site.series if s.of == "model")
    want_total = [math.sqrt(sum(v * v for v in e.values())) for e in expected]
    assert all(math.isclose(g, w, rel_tol=1e-6) for g, w in zip(model_series.series, want_total))
    layer = next(s for s in site.series if s.of == "module" and s.name == "model.0")
    want_layer = [math.hypot(e["0.weight"], e["0.bias"]) for e in expected]
    assert all(math.isclose(g, w, rel_tol=1e-6) for g, w in zip(layer.series, want_layer))
    assert health.optimizer_steps == 20
    updates = {session.capture.tensor(u.tensor).param_name: u for u in health.updates}
    assert {n: (u.steps_with_grad, u.steps_changed) for n, u in updates.items()} == {
        f"model.{n}": (20, 20) for n in expected[0]}
