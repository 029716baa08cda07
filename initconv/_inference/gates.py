"""Branches that modulate a tensor instead of consuming it: squeeze-excite gates and the
statistics of a norm written out.

The rule: a branch that starts at a tensor ``x`` (a use of ``x`` that is not a pass-through onto
the main path), takes only weight layers, activations, pass-throughs and statistics (reductions,
pooling, ``pow``, ``sqrt``, ...), contains at least one weight layer or statistic or combines with
another value computed from ``x``, and whose every path ends as the gate ``g`` of ``x' * g``,
the divisor of ``x' / g`` or the subtrahend of ``x' - g``, where ``x'`` is ``x`` or computed
from ``x`` by pass-throughs other than reductions, and ``g`` is not, is not a consumer of ``x``:
the main path's activation is the answer. Squeeze-excite (Hu et al. 2018), its
variants (ECA, CBAM, gather-excite) and a LayerNorm written as ``(x - mean) / sqrt(var + eps)``
are such branches; ``x * sigmoid(x)`` is not (no weight layer, no statistic): it is an
elementwise region, swish (:mod:`initconv._inference.elementwise`).
"""

from __future__ import annotations

import collections

from torch import fx, nn

from initconv._inference.roles import (
    is_arithmetic,
    is_reduction,
    is_statistic,
    is_template_use,
    role,
)

__all__: list[str] = []

# How far a gate branch and the main path around it are followed: a squeeze-excite branch is a
# dozen nodes, a norm's statistics half that.
_BRANCH_BUDGET = 64
_ANCHOR_BUDGET = 64


def anchors(source: fx.Node, root: nn.Module) -> set[fx.Node]:
    """``source`` and the values computed from it by pass-throughs only (the main path); a
    reduction or pooling is a statistic of it here, not the same tensor."""
    found = {source}
    frontier = [source]
    while frontier and len(found) < _ANCHOR_BUDGET:
        node = frontier.pop()
        for user in node.users:
            if user in found or is_template_use(user, node) or is_statistic(user, root):
                continue
            if role(user, root) == "pass":
                found.add(user)
                frontier.append(user)
    return found


def _ends_gate(step: fx.Node, came_from: fx.Node, main: set[fx.Node]) -> bool:
    """Whether ``step`` applies the branch value ``came_from`` to a main-path value."""
    args = step.args[:2]
    if len(args) < 2 or came_from not in args or came_from in main:
        return False
    first, second = args
    if is_arithmetic(step, "mul"):
        other = second if first is came_from else first
        return other is not came_from and other in main
    if is_arithmetic(step, "div") or is_arithmetic(step, "sub"):
        return second is came_from and first in main
    return False


def derived(node: fx.Node, source: fx.Node) -> bool:
    """Whether ``node`` is computed from ``source`` (within a few steps back).

    Breadth first: the nearest inputs are looked at before the far history of any one of them,
    so that a GRU's reset gate ``sigmoid(conv(cat(h, x)))`` is found to come from ``h`` however
    long the computation of ``x`` is."""
    frontier, seen = collections.deque([node]), set[fx.Node]()
    while frontier and len(seen) < _ANCHOR_BUDGET:
        step = frontier.popleft()
        if step is source:
            return True
        if step not in seen:
            seen.add(step)
            frontier.extend(step.all_input_nodes)
    return False


def is_gate(source: fx.Node, start: fx.Node, root: nn.Module, strict: bool = False) -> bool:
    """Whether the use ``start`` of ``source`` begins a branch that only modulates it.

    ``strict``: the branch must contain a weight layer or a reduction (a mean, a pooling): the
    statistics of a norm, a squeeze-excite gate. Elementwise maths alone (``x ** 3`` inside a
    tanh-GELU written out) is then no gate: it is part of an activation written out."""
    main: set[fx.Node] | None = None
    seen: set[fx.Node] = set()
    frontier: list[tuple[fx.Node, fx.Node]] = [(start, source)]
    ended = substantial = False
    while frontier:
        step, came_from = frontier.pop()
        if step is not start:
            if main is None:
                main = anchors(source, root)
            if _ends_gate(step, came_from, main):
                ended = True
                continue
        if step in seen:
            continue
        seen.add(step)
        if len(seen) > _BRANCH_BUDGET:
            return False
        step_role = role(step, root)
        statistic = is_statistic(step, root)
        if not (statistic or step_role in ("weight", "activation", "pass")) or not step.users:
            return False
        strong = step_role == "weight" or is_reduction(step, root)
        substantial = (
            substantial
            or strong
            or (not strict and statistic)
            or (
                not strict
                and any(
                    derived(value, source)
                    for value in step.all_input_nodes
                    if value is not came_from and value not in seen
                )
            )
        )
        frontier.extend((user, step) for user in step.users)
    return ended and substantial
