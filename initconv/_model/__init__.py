"""Model tools: convert/to_torch with its report, module surgery with undo, seeding per layer,
LSUV calibration, residual-branch initialisation, and µP (mup_ and its report, the records it keeps,
param_groups and its learning-rate tables).
"""
