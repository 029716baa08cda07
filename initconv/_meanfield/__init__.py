"""Mean-field maths: Gaussian moments of an activation, the variance and correlation maps,
and the critical line on which deep plain networks keep their signal.
"""
