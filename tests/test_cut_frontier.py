"""The cut frontier (analyse/findings/frontier.py), the weight checks (weights.py) and the replaced-layer
audit (optimizer.py) on hand-built captures: no torch, each graph the smallest one showing the class of bug.

Vertices are tensors `t<id>`; an edge from a tensor that does not require grad into its consumer does not
carry gradient (`flows_grad=False`), as the recorder writes it.
"""

from __future__ import annotations

from gradscope.analyse.findings import find_all
from gradscope.capture import (ApiResultEvent, Capture, CutEvent, EdgeInfo, ReplacedEvent, RootInfo,
                               TensorInfo)


def _param(tid, name, *, got=True, line=None):
    return TensorInfo(id=tid, param_name=name, is_parameter=True, requires_grad=True, kind="parameter",
                      grads=[got], grad_is_none=not got, line=line or tid + 1, file="s.py")


def _op(tid, name, grad_fn, line, *, rg=True, op=None):
    """A tensor made by an op; one that does not require grad but was made from inputs that do is a cut."""
    return TensorInfo(id=tid, name=name, kind="nonleaf" if rg else "nondiff", requires_grad=rg, is_leaf=not rg,
                      grad_fn=grad_fn if rg else None, line=line, file="s.py", op=op or grad_fn,
                      inputs_required_grad=True)


def _edges(*pairs):
    return [EdgeInfo(f"t{a}", f"t{b}", flows_grad=flows) for a, b, flows in pairs]


def _blaming(capture):
    return [f for f in find_all(capture) if f.severity in ("error", "warning")]


def _vae(twin):
    """loss = recon(dec(z)) + kl(mu), with z = Normal(mu, 1).sample(): the encoder trains only through kl."""
    tensors = [_param(0, "enc.weight"), _param(1, "dec.weight"),
               _op(2, "mu", "MmBackward0", 10),
               _op(3, "z", None, 11, rg=False, op="normal"),
               _op(4, "recon", "MseLossBackward0", 12),
               _op(5, "kl", "MeanBackward0", 13),
               _op(6, "loss", "AddBackward0", 14)]
    edges = _edges((0, 2, True), (2, 3, False), (3, 4, False), (1, 4, True), (2, 5, True), (4, 6, True),
                   (5, 6, True))
    cut = CutEvent(file="s.py", line=11, cut="library", op="normal", tensor=3, reaches=[0], calls=1,
                   api="Normal.sample", twin=twin)
    return Capture(script="s.py", tensors=tensors, edges=edges, events=[cut], backward_calls=1,
                   roots=[RootInfo(tensor=6, line=15, step=1)],
                   optimizers=[{"name": "opt", "type": "Adam", "params": [0, 1]}])


def test_a_loss_term_cut_by_sample_is_a_warning_at_the_sample_line_when_rsample_exists():
    [finding] = _blaming(_vae("rsample"))
    assert finding.code == "GS208" and finding.severity == "warning"
    assert finding.lines[0] == 11 and 15 in finding.lines
    assert finding.tensors == ["enc.weight"]
    assert "rsample" in finding.fix


def test_a_discrete_sample_without_a_differentiable_twin_is_not_blamed():
    assert _blaming(_vae(None)) == []


def _router(gate_got_grad, fed_back=False):
    """idx = gate(x).argmax(); loss = table(idx).sum(): the gate is in the optimizer and never trained.
    `fed_back`: the picked row is also combined with the scores (the term reaches the gate anyway)."""
    tensors = [_param(0, "gate.weight", got=gate_got_grad), _param(1, "table.weight"),
               _op(2, "scores", "MmBackward0", 20),
               _op(3, "idx", None, 21, rg=False, op="argmax"),
               _op(4, "picked", "EmbeddingBackward0", 22),
               _op(5, "loss", "SumBackward0", 23)]
    edges = _edges((0, 2, True), (2, 3, False), (3, 4, False), (1, 4, True), (4, 5, True),
                   *([(2, 4, True)] if fed_back else []))
    cut = CutEvent(file="s.py", line=21, cut="nondiff", op="argmax", tensor=3, reaches=[0], calls=1)
    return Capture(script="s.py", tensors=tensors, edges=edges, events=[cut], backward_calls=1,
                   roots=[RootInfo(tensor=5, line=24, step=1)],
                   optimizers=[{"name": "opt", "type": "SGD", "params": [0, 1]}])


def test_a_parameter_behind_argmax_never_gets_a_gradient_and_the_argmax_line_is_cited():
    [finding] = _blaming(_router(gate_got_grad=False))
    assert finding.code == "GS207" and finding.tensors == ["gate.weight"]
    assert finding.lines[0] == 21
    assert "softmax" in finding.fix or "gumbel" in finding.fix


def test_argmax_fed_back_into_what_the_term_reaches_anyway_is_not_blamed():
    # greedy decoding: the argmax token goes back into the same model, which the term reaches directly
    assert _blaming(_router(gate_got_grad=True, fed_back=True)) == []


def test_a_gate_trained_only_by_another_term_is_blamed_for_the_routed_term():
    # the gate gets gradient from an auxiliary loss (not drawn), but the routed term never reaches it
    [finding] = _blaming(_router(gate_got_grad=True))
    assert finding.code == "GS207" and finding.lines[0] == 21 and finding.tensors == ["gate.weight"]


def test_a_gan_discriminator_step_on_detached_fakes_is_not_a_cut_finding():
    """d_loss = D(G(z).detach()); g_loss = D(G(z)): the generator trains through g_loss."""
    tensors = [_param(0, "G.weight"), _param(1, "D.weight"),
               _op(2, "fake", "MmBackward0", 30),
               _op(3, "fake_d", None, 31, rg=False, op="detach"),
               _op(4, "d_loss", "MeanBackward0", 32),
               _op(5, "g_loss", "MeanBackward0", 34)]
    tensors[0].grads = [False, True]
    tensors[1].grads = [True, True]
    edges = _edges((0, 2, True), (2, 3, False), (3, 4, False), (1, 4, True), (2, 5, True), (1, 5, True))
    cut = CutEvent(file="s.py", line=31, cut="detach", op="detach", tensor=3, reaches=[0], calls=1)
    capture = Capture(script="s.py", tensors=tensors, edges=edges, events=[cut], backward_calls=2,
                      roots=[RootInfo(tensor=4, line=33, step=1), RootInfo(tensor=5, line=35, step=2)],
                      optimizers=[{"name": "opt_g", "type": "Adam", "params": [0]},
                                  {"name": "opt_d", "type": "Adam", "params": [1]}])
    assert _blaming(capture) == []


def _policy_gradient(detached):
    """loss = -(log_prob(a) * advantage).mean(), advantage = ret - critic(s): detached or not."""
    tensors = [_param(0, "policy.weight"), _param(1, "critic.weight"),
               _op(2, "logits", "MmBackward0", 40),
               _op(3, "logp", "SubBackward0", 41),
               _op(4, "value", "MmBackward0", 42),
               _op(5, "advantage", "RsubBackward1", 43, rg=not detached, op="detach" if detached else None),
               _op(6, "weighted", "MulBackward0", 44),
               _op(7, "loss", "NegBackward0", 45)]
    edges = _edges((0, 2, True), (2, 3, True), (1, 4, True), (4, 5, not detached), (3, 6, True),
                   (5, 6, not detached), (6, 7, True))
    events = [ApiResultEvent(file="s.py", line=41, api="Categorical.log_prob", tensor=3)]
    if detached:
        events.append(CutEvent(file="s.py", line=43, cut="detach", op="detach", tensor=5, reaches=[1], calls=1))
    return Capture(script="s.py", tensors=tensors, edges=edges, events=events, backward_calls=1,
                   roots=[RootInfo(tensor=7, line=46, step=1)],
                   optimizers=[{"name": "opt", "type": "Adam", "params": [0, 1]}])


def test_a_log_prob_weighted_by_an_advantage_that_carries_the_critic_graph_is_a_warning():
    found = [f for f in _blaming(_policy_gradient(detached=False)) if f.code == "GS703"]
    [finding] = found
    assert finding.lines == [43, 44] and finding.tensors == ["critic.weight"]
    assert "advantage" in finding.fix and ".detach()" in finding.fix


def test_a_detached_advantage_is_not_a_weight_finding():
    assert not [f for f in find_all(_policy_gradient(detached=True)) if f.code == "GS703"]


def _soft_target(same_pass):
    """loss = -(p * log_q).sum(): p = softmax(model(x2)), log_q = log_softmax(model(x1)), or both from one pass."""
    tensors = [_param(0, "model.weight"),
               _op(1, "logits_q", "MmBackward0", 50),
               _op(2, "log_q", "LogSoftmaxBackward0", 51),
               _op(3, "logits_p", "MmBackward0", 52),
               _op(4, "p", "SoftmaxBackward0", 53),
               _op(5, "prod", "MulBackward0", 54),
               _op(6, "loss", "SumBackward0", 55)]
    p_from = 1 if same_pass else 3
    edges = _edges((0, 1, True), (0, 3, True), (1, 2, True), (p_from, 4, True), (2, 5, True), (4, 5, True),
                   (5, 6, True))
    return Capture(script="s.py", tensors=tensors, edges=edges, backward_calls=1,
                   roots=[RootInfo(tensor=6, line=56, step=1)])


def test_a_soft_target_from_another_pass_of_the_same_model_is_a_warning_at_the_target_line():
    [finding] = [f for f in _blaming(_soft_target(same_pass=False)) if f.code == "GS702"]
    assert finding.lines == [53, 54] and finding.tensors == ["model.weight"]


def test_an_entropy_of_one_pass_is_not_a_soft_target_finding():
    assert not [f for f in find_all(_soft_target(same_pass=True)) if f.code == "GS702"]


def _replaced(before_optimizer):
    """net.fc = nn.Linear(...) at line 21; the optimizer holds the old fc unless it was built after."""
    old = [_param(0, None, got=False), _param(1, None, got=False)]
    for t in old:
        t.grads, t.grad_is_none = [None], True
    new = [_param(2, "net.fc.weight", line=21), _param(3, "net.fc.bias", line=21)]
    held = [2, 3] if before_optimizer else [0, 1]
    loss = _op(4, "loss", "SumBackward0", 25)
    return Capture(script="s.py", tensors=[*old, *new, loss], edges=_edges((2, 4, True), (3, 4, True)),
                   events=[ReplacedEvent(file="s.py", line=21, what="module", module="net.fc", old=[0, 1],
                                         new=[2, 3])],
                   backward_calls=1, roots=[RootInfo(tensor=4, line=26, step=1)],
                   optimizers=[{"name": "optimizer", "type": "SGD", "params": held}])


def test_a_layer_replaced_after_the_optimizer_is_one_warning_at_the_replacing_line():
    [finding] = _blaming(_replaced(before_optimizer=False))
    assert finding.code == "GS804" and finding.lines == [21]
    assert finding.tensors == ["net.fc.weight", "net.fc.bias"]
    assert "add_param_group" in finding.fix


def test_a_layer_replaced_before_the_optimizer_is_nothing_to_report():
    assert _blaming(_replaced(before_optimizer=True)) == []


def _ema(optimizer_holds):
    """loss = mse(model(x)); the optimizer holds either the model's parameters or its EMA copy's."""
    model = [_param(0, "model.weight", line=9), _param(1, "model.bias", line=9)]
    ema = [_param(2, "ema.weight", got=False, line=10), _param(3, "ema.bias", got=False, line=10)]
    loss = _op(4, "loss", "MseLossBackward0", 16)
    held = [0, 1] if optimizer_holds == "model" else [2, 3]
    return Capture(script="s.py", tensors=[*model, *ema, loss], edges=_edges((0, 4, True), (1, 4, True)),
                   backward_calls=1, roots=[RootInfo(tensor=4, line=18, step=1)],
                   optimizers=[{"name": "optimizer", "type": "Adam", "params": held, "line": 11}])


def test_an_optimizer_over_the_ema_copy_is_one_warning_at_the_line_that_built_it():
    [finding] = _blaming(_ema("ema"))
    assert finding.code == "GS805" and finding.lines[0] == 11
    assert finding.tensors == ["model.weight", "model.bias"]


def test_an_ema_copy_outside_the_optimizer_is_nothing_to_report():
    assert _blaming(_ema("model")) == []


def _vq(straight_through):
    """recon = dec(codebook[argmin(dist(enc(x)))]); loss = mse(recon) + mse(z_q, z.detach()) (+ mse(z, z_q.detach()))
    With a straight-through copy the reconstruction term reaches the encoder; without, only the argmin does."""
    tensors = [_param(0, "enc.weight"), _param(1, "codebook.weight"), _param(2, "dec.weight"),
               _op(3, "z", "MmBackward0", 19),
               _op(4, "codes", None, 21, rg=False, op="argmin"),
               _op(5, "z_q", "EmbeddingBackward0", 22),
               _op(6, "z_detached", None, 23, rg=False, op="detach"),
               _op(7, "codebook_loss", "MseLossBackward0", 23),
               _op(8, "commit", "MseLossBackward0", 23),
               _op(9, "recon", "MseLossBackward0", 32),
               _op(10, "loss", "AddBackward0", 32),
               _op(11, "partial", "AddBackward0", 32)]
    pairs = [(0, 3, True), (3, 4, False), (4, 5, False), (1, 5, True), (3, 6, False), (5, 7, True), (6, 7, False),
             (3, 8, True), (2, 9, True), (9, 11, True), (7, 11, True), (11, 10, True), (8, 10, True)]
    if straight_through:
        pairs.append((3, 9, True))  # z + (z_q - z).detach() feeds the decoder
    else:
        pairs.append((5, 9, True))
    events = [CutEvent(file="s.py", line=21, cut="nondiff", op="argmin", tensor=4, reaches=[0], calls=1),
              CutEvent(file="s.py", line=23, cut="detach", op="detach", tensor=6, reaches=[0], calls=1)]
    return Capture(script="s.py", tensors=tensors, edges=_edges(*pairs), events=events, backward_calls=1,
                   roots=[RootInfo(tensor=10, line=34, step=1)],
                   optimizers=[{"name": "opt", "type": "Adam", "params": [0, 1, 2]}])


def test_a_reconstruction_term_cut_from_the_encoder_by_argmin_is_a_warning_at_the_argmin_line():
    [finding] = _blaming(_vq(straight_through=False))
    assert finding.code == "GS207" and finding.lines[0] == 21 and 32 in finding.lines
    assert finding.tensors == ["enc.weight"]


def test_the_codebook_loss_that_detaches_the_encoder_on_purpose_is_not_blamed():
    assert _blaming(_vq(straight_through=True)) == []


def test_returns_computed_from_a_discrete_sample_are_not_blamed():
    """REINFORCE: act = Categorical(logits=actor(obs)).sample() (multinomial); returns = f(act);
    critic_loss = mse(critic(obs), returns): the returns are constants on purpose."""
    tensors = [_param(0, "actor.weight"), _param(1, "critic.weight"),
               _op(2, "logits", "MmBackward0", 14),
               _op(3, "act", None, 15, rg=False, op="multinomial"),
               _op(4, "returns", None, 17, rg=False, op="flip"),
               _op(5, "values", "MmBackward0", 18),
               _op(6, "critic_loss", "MseLossBackward0", 21),
               _op(7, "actor_loss", "MeanBackward0", 20),
               _op(8, "loss", "AddBackward0", 23)]
    edges = _edges((0, 2, True), (2, 3, False), (3, 4, False), (1, 5, True), (5, 6, True), (4, 6, False),
                   (2, 7, True), (6, 8, True), (7, 8, True))
    cut = CutEvent(file="s.py", line=15, cut="nondiff", op="multinomial", tensor=3, reaches=[0], calls=1)
    capture = Capture(script="s.py", tensors=tensors, edges=edges, events=[cut], backward_calls=1,
                      roots=[RootInfo(tensor=8, line=23, step=1)],
                      optimizers=[{"name": "opt", "type": "Adam", "params": [0, 1]}])
    assert _blaming(capture) == []
