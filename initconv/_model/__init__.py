"""Model tools: convert/to_torch with its report, module surgery with undo, seeding per layer,
LSUV calibration and residual-branch initialisation.
"""
