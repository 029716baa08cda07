"""Maths leaves: Gaussian quadrature, zero-mean samplers, generators from seeds,
orthogonality, fans of a layer and the derived gain of any callable.
"""
