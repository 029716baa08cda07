"""Layers: the reset contract every layer keeps, the seven kinds, pairing a scheme with a kind,
the named (scheme, kind) classes, sharded draws, LSUV calibrations and pixel shuffle.
"""
