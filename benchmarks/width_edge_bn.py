"""The divergence edge of ``benchmarks.width_edge`` on a CNN whose channels are recentred before
each ReLU (``benchmarks.width.cnn_bn``: a BatchNorm after each conv).

A BatchNorm makes each channel's pre-activation zero-mean over the batch before its affine map, so
a channel dies only when its learned shift outweighs its learned scale, not because the weights
before it drifted. If layers dying whole set the plain CNN's edge, this network trains to larger
rates at every width; whether its edge still moves with the width is what this measures. Its
edge lies far above the plain CNN's (a probe at seed 0 trained at 2^1 at width 16), so the rates
are 2^1..2^5.
"""

from __future__ import annotations

from typing import Any

from benchmarks import width, width_edge

QUICK: dict[str, Any] = {**width_edge.QUICK, "network": "cnn_bn", "rates": (2.0, 2.0**5)}
FULL: dict[str, Any] = {
    **width_edge.FULL,
    "network": "cnn_bn",
    "rates": tuple(2.0**k for k in range(1, 6)),
    "seeds": width.SEEDS,
}


def run(quick: bool, config: dict[str, Any] | None = None) -> tuple[dict[str, Any], str]:
    chosen = config if config is not None else (QUICK if quick else FULL)
    return width_edge.run(quick, chosen, name="width_edge_bn")
