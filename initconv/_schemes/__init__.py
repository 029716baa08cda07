"""Schemes: the layer-independent :class:`Scheme` and its registry, the iid, structured and
critical schemes, bias initialisation and the public in-place initialisers.
"""
