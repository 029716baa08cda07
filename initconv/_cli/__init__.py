"""``python -m initconv``: the demo and the convert, gains and schemes commands."""
