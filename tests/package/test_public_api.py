"""The public face: every name of ``initconv.__all__`` imports, is documented in docs/api.md (the
(scheme, kind) pairs by their scheme and kind), and carries a docstring of its own where it is a
class or function."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import initconv
from initconv._layers import pairs

API = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text(encoding="utf-8")
KIND_NAMES = (
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
    "Linear",
)


def test_the_face_has_at_most_175_names_each_importable_once() -> None:
    assert len(initconv.__all__) <= 175
    assert len(set(initconv.__all__)) == len(initconv.__all__)
    for name in initconv.__all__:
        assert hasattr(initconv, name), name


def test_every_name_but_the_pairs_is_listed_in_the_api_page() -> None:
    listed = set(re.findall(r"^- `([A-Za-z_][A-Za-z0-9_]*)`:", API, flags=re.M))
    names = set(initconv.__all__) - set(pairs.__all__)
    assert names - listed == set(), "add these to docs/api.md"
    assert listed - names == set(), "docs/api.md lists names initconv does not export"


def test_every_pair_is_a_listed_scheme_on_a_listed_kind() -> None:
    schemes = [name for name in initconv.__all__ if isinstance(getattr(initconv, name), type)]
    for name in pairs.__all__:
        scheme = next((s for s in schemes if name in (f"{s}{k}" for k in KIND_NAMES)), None)
        assert scheme is not None, name
        assert f"`{scheme}`" in API, name
        assert issubclass(getattr(initconv, name), getattr(initconv, scheme)), name


def test_every_public_class_and_function_has_its_own_docstring() -> None:
    for name in initconv.__all__:
        value = getattr(initconv, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert (value.__doc__ or "").strip(), name
