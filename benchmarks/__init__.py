"""initconv's benchmarks: run ``python -m benchmarks [NAME ...]`` from the repository root.

Not collected by pytest (``testpaths = ["tests"]``); see benchmarks/README.md.
"""
