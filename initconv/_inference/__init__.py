"""Activation inference: what each step of a graph is, the rule that follows a layer's output
to its activation, and the symbolic (torch.fx) and recorded (one forward) paths it runs on.
"""
