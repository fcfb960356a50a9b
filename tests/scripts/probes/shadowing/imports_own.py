"""Probe: the script's own modules win over the standard library's and gradscope's dependencies'."""

import colorsys
import decimal
import fractions
import hmac
import html
import msgspec
import pydantic
import rich
import secrets
import typer
import zoneinfo

import torch

mine = [m.__name__ for m in (colorsys, decimal, fractions, hmac, html, msgspec, pydantic, rich, secrets, typer,
                             zoneinfo) if getattr(m, "OWN", None) == m.__name__]
print("own modules:", mine)
w = torch.ones(3, requires_grad=True)
(w * 2).sum().backward()
print("grad:", w.grad.tolist())
