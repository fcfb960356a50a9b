"""Peer tools on benchmark 1's model, run with the peers' own Python (bench/.peers):
`python bench/peers.py TOOL OUT_DIR`. Prints `BENCH {json}` with the time of the tool's own work.

torchviz draws an already computed graph (forward + backward done before the clock starts);
torchview and torchlens run the model themselves, so their whole run is timed.
"""

from __future__ import annotations

import json
import os
import sys
import time

import torch


def model_and_input():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(d_model=256, nhead=8, dim_feedforward=1024, batch_first=True)
    model = torch.nn.TransformerEncoder(layer, num_layers=6)
    return model, torch.randn(8, 128, 256)


def main(tool: str, out_dir: str) -> None:
    model, x = model_and_input()
    out = os.path.join(out_dir, tool)
    if tool == "torchviz":
        from torchviz import make_dot

        loss = model(x).pow(2).mean()
        loss.backward(retain_graph=True)
        start = time.perf_counter()
        make_dot(loss, params=dict(model.named_parameters())).render(out, format="svg", cleanup=True)
    elif tool == "torchview":
        from torchview import draw_graph

        start = time.perf_counter()
        graph = draw_graph(model, input_data=x, depth=2)
        graph.visual_graph.render(out, format="svg", cleanup=True)
    elif tool == "torchlens":
        import torchlens

        start = time.perf_counter()
        trace = torchlens.trace(model, x)
        trace.draw(vis_outpath=out, vis_fileformat="svg", vis_save_only=True)
    else:
        raise SystemExit(f"unknown tool {tool}")
    print("BENCH " + json.dumps({"tool_s": time.perf_counter() - start}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
