"""Mechanical mutants: one per numeric constant, comparison and arithmetic operator of the maths,
rule and kit modules, found with ``ast`` and replaced at its exact source span.

``python -m benchmarks mutation --mechanical [--modules PATH ...] [--limit N | --sample N
[--seed S]] [--workers K]`` plants each mutant in a scratch copy of the repository (as
``benchmarks/mutation.py`` does), runs the few fast test files aimed at its module (``MODULES``)
and writes the kill ratio by module to ``benchmarks/results/mutation_mechanical.md``. Constants c
become c + 1 (0 -> 1, 1 -> 2, 2.0 -> 3.0); comparisons swap to their neighbour (< <=, > >=, ==
!=); arithmetic operators swap within their family (+ -, * /, // %, ** *). Docstrings and type
annotations are left alone.

With no option every site of the chosen modules runs; ``--limit N`` runs the first N of each
module; ``--sample N --seed S`` runs a uniform random sample without replacement of N sites across
all the chosen modules, and the report gives the kill ratio k / n of the non-equivalent sampled
mutants with its one-sided 95% Clopper-Pearson lower bound (``clopper_pearson_lower``). ``--workers
K`` (default 2) runs K mutants at a time, each in its own scratch copy; the report is the same as
a serial run's, in module then source order. Mutants argued equivalent in ``EQUIVALENT`` are
listed with their argument and left out of the ratio.

``--rerun-survivors`` runs the survivors of the last run again on the code as it stands (after
new tests), each found by its line's unchanged text, and reports the same sample's ratio to
``benchmarks/results/mutation_mechanical_rerun.md``."""

from __future__ import annotations

import ast
import concurrent.futures
import dataclasses
import json
import math
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks import mutation
from benchmarks._common import RESULTS

# module -> the few fast default-run test files (or test ids) that reach its sites, chosen by
# tracing which of each module's site lines every file of tests/maths, meanfield, inference,
# testing, schemes and activations executes, and what each file costs; a file that reaches the
# same lines at twice the cost is left out (test_scheme_properties.py reaches the kit's lines
# too, at about twice test_testing_kit.py's time).
_CONTRACT = "tests/layers/test_layer_contract.py::"
MODULES: dict[str, tuple[str, ...]] = {
    "initconv/_maths/fans.py": ("tests/maths/test_fans.py", "tests/maths/test_fans_dilation.py"),
    "initconv/_maths/sampling.py": (
        "tests/maths/test_sampling.py", "tests/maths/test_sampling_reach.py",
        "tests/maths/test_truncated_normal_reaches_its_cut.py", "tests/maths/test_zero_mean_draws.py",
        "tests/maths/test_truncated_normal_rounds.py",
        # the cache-sized pieces of draw_normal_ and the fan_avg branch of std_for
        f"{_CONTRACT}test_normal_drawn_in_pieces_equals_one_normal_call_bit_for_bit",
        f"{_CONTRACT}test_expected_variance_follows_the_scheme_formulas",
        "tests/maths/test_normal_draw_off_the_cpu_is_torchs_own_call.py",
    ),
    "initconv/_maths/derived_gain.py": (
        "tests/maths/test_derived_gain.py", "tests/activations/test_activation_gains.py",
        "tests/maths/test_probe_evaluations.py", "tests/maths/test_elementwise_check_is_scale_free.py",
        "tests/maths/test_critical_follows_a_negative_slope.py",
        "tests/maths/test_saturating_narrow_dtype_gain.py", "tests/maths/test_huge_activation_gain.py",
        "tests/maths/test_probe_values.py",
        "tests/maths/test_staircase_values_say_nothing_of_precision.py",
        "tests/maths/test_gain_refusal_at_one_non_finite_node.py",
        "tests/maths/test_elementwise_check_in_a_narrow_dtype.py",
        "tests/maths/test_distinct_share_edge_of_the_precision_rule.py",
        "tests/maths/test_gain_of_an_activation_zero_on_the_whole_probe.py",
        "tests/maths/test_gain_of_activations_computed_in_float32.py",
        "tests/maths/test_gain_refusal_states_the_tolerance_of_the_activations_precision.py",
    ),
    "initconv/_maths/quadrature.py": (
        "tests/maths/test_derived_gain.py", "tests/activations/test_activation_gains.py",
        "tests/meanfield/test_line_end_zero_bias.py", "tests/maths/test_quadrature_rules.py",
        "tests/maths/test_gaussian_expectation_promises.py",
        "tests/maths/test_quadrature_exact_budget.py", "tests/maths/test_piece_between_first_nodes.py",
        "tests/maths/test_quadrature_refusals_hold_on_each_side.py",
        "tests/maths/test_quadrature_budget_refusal_states_the_tolerances_asked.py",
        "tests/maths/test_quadrature_breakpoints.py",
        "tests/maths/test_breakpoints_kept_up_to_the_outermost_panels.py",
        "tests/maths/test_tail_refusal_states_the_outermost_panels_share.py",
        "tests/maths/test_breakpoints_cannot_hide_a_tail.py",
    ),
    "initconv/_maths/generators.py": (
        "tests/maths/test_generators.py", "tests/maths/test_sampling.py",
        "tests/maths/test_seeded_generator_construction.py",
    ),
    "initconv/_maths/orthogonality.py": (
        "tests/maths/test_orthogonality.py", "tests/schemes/test_structured_schemes.py",
        "tests/maths/test_exact_split_products.py",
        "tests/maths/test_orthogonality_tolerance_small_gains.py",
        "tests/maths/test_orthogonality_tolerance_derivation.py",
        "tests/maths/test_orthogonality_message_names_its_product.py",
        "tests/maths/test_orthogonal_working_memory.py",
        "tests/maths/test_reproducible_matmul_scales_exactly.py",
        "tests/maths/test_public_orthogonality_atol_is_the_checkers_tolerance.py",
        "tests/maths/test_reproducible_matmul_of_one_row_or_one_column.py",
        "tests/maths/test_haar_orthogonal_column_without_reflection.py",
    ),
    "initconv/_meanfield/gaussian.py": (
        "tests/meanfield/test_correlation_map.py", "tests/schemes/test_critical_scheme.py",
        "tests/meanfield/test_jumps.py", "tests/meanfield/test_log_grid_roots.py",
        "tests/meanfield/test_line_deficit.py", "tests/meanfield/test_one_sided_slopes.py",
        "tests/meanfield/test_moments_of_a_dead_zone.py",
        "tests/meanfield/test_fixed_points_up_to_q_top.py",
        "tests/meanfield/test_jump_check_is_scale_free.py",
        "tests/meanfield/test_rounding_hint_only_for_rounded_activations.py",
        "tests/meanfield/test_jump_where_the_slope_bends.py",
        "tests/meanfield/test_unstable_fixed_point_at_the_grids_top.py",
        "tests/meanfield/test_variance_slope_above_unit_q.py",
        "tests/meanfield/test_variance_map_far_fixed_points.py",
        "tests/meanfield/test_cross_slope_moment_beside_a_jump.py",
        "tests/meanfield/test_jump_cancelled_by_a_kink.py",
        "tests/meanfield/test_jump_floor_on_a_flat_stretch.py",
        "tests/meanfield/test_moments_with_a_kink_on_a_rounding_probe_point.py",
        "tests/meanfield/test_moments_see_narrow_features.py",
        "tests/meanfield/test_slope_moment_past_many_one_sided_kinks.py",
        "tests/meanfield/test_maps_of_a_user_activation_two_to_four_in_size.py",
        "tests/meanfield/test_slope_mean_of_erf.py",
        "tests/meanfield/test_slope_moment_of_erf_where_its_spike_underflows.py",
        "tests/meanfield/test_slope_moment_past_inner_sided_and_two_sided_kinks.py",
        "tests/meanfield/test_slope_moment_counts_a_narrow_bump_beside_a_steeper_feature.py",
        "tests/meanfield/test_illinois_stops_only_at_a_root.py",
    ),
    "initconv/_meanfield/slopes.py": (
        "tests/meanfield/test_correlation_map.py", "tests/schemes/test_critical_scheme.py",
        "tests/meanfield/test_jumps.py", "tests/meanfield/test_one_sided_slopes.py",
        "tests/meanfield/test_jump_check_is_scale_free.py",
        "tests/meanfield/test_rounding_hint_only_for_rounded_activations.py",
        "tests/meanfield/test_jump_where_the_slope_bends.py",
        "tests/meanfield/test_jump_cancelled_by_a_kink.py",
        "tests/meanfield/test_jump_floor_on_a_flat_stretch.py",
        "tests/meanfield/test_moments_see_narrow_features.py",
        "tests/meanfield/test_jump_refusal_tells_a_ramp_from_a_jump.py",
        "tests/meanfield/test_slope_refusal_states_the_slopes_true_integral.py",
        "tests/meanfield/test_variance_map_of_a_hardtanh_cornered_at_eight.py",
        "tests/meanfield/test_slope_moment_counts_a_narrow_bump_beside_a_steeper_feature.py",
        "tests/meanfield/test_jump_refusal_states_the_slope_integral_over_its_interval.py",
    ),
    "initconv/_meanfield/variance_map.py": (
        "tests/meanfield/test_critical_line.py", "tests/meanfield/test_variance_map_verdicts.py",
        "tests/meanfield/test_variance_map_scaling.py",
        "tests/meanfield/test_variance_map_far_fixed_points.py",
        "tests/meanfield/test_verdict_after_registering_again.py",
        "tests/meanfield/test_unstable_fixed_point_at_the_grids_top.py",
        "tests/meanfield/test_variance_map_drift_factor.py",
        "tests/meanfield/test_correlation_fixed_point_above_2_68_with_a_bias.py",
        "tests/meanfield/test_variance_map_nearest_of_two_fixed_points.py",
        "tests/meanfield/test_variance_map_printout_without_a_fixed_point.py",
        "tests/meanfield/test_critical_point_printout_states_sigma_w_squared.py",
        "tests/meanfield/test_zero_weight_fixed_point_on_the_extended_grid.py",
        "tests/meanfield/test_variance_map_marginal_slope_band.py",
        "tests/meanfield/test_variance_map_refusal_quotes_the_ratio_at_its_top_two_grid_points.py",
    ),
    "initconv/_meanfield/correlation_map.py": (
        "tests/meanfield/test_correlation_map.py", "tests/meanfield/test_correlation_defaults.py",
        "tests/meanfield/test_correlation_map_grid_ends.py",
        "tests/meanfield/test_correlation_map_below_grid.py",
        "tests/meanfield/test_correlation_settling.py",
        "tests/meanfield/test_correlation_zero_weight_and_fading_signal.py",
        "tests/meanfield/test_correlation_fixed_point_and_its_slope.py",
        "tests/meanfield/test_correlation_q0_up_to_2_68.py",
        "tests/meanfield/test_c_star_beside_a_kink_away_from_zero.py",
        "tests/meanfield/test_correlation_map_where_pairs_resolve.py",
        "tests/meanfield/test_moments_see_narrow_features.py",
        "tests/meanfield/test_correlation_map_refuses_a_fixed_point_above_2_68_from_a_high_start.py",
        "tests/meanfield/test_correlation_map_critical_at_a_large_second_moment.py",
        "tests/meanfield/test_correlation_map_just_past_sigma_w_one.py",
        "tests/meanfield/test_chi_c_of_hardtanh_against_the_bivariate_normal.py",
        "tests/meanfield/test_fading_signal_depths_agree_on_the_critical_edge.py",
        "tests/meanfield/test_correlation_step_of_a_scaled_user_function.py",
        "tests/meanfield/test_c_star_off_zero_with_a_tiny_bias_at_a_small_q.py",
        "tests/meanfield/test_relu_fixed_point_just_outside_the_critical_band.py",
        "tests/meanfield/test_correlation_step_at_the_fixed_point_a_unit_signal_settles_at.py",
        "tests/meanfield/test_a_start_a_hair_above_an_unstable_fixed_point_is_at_it.py",
        "tests/meanfield/test_a_growing_signal_is_judged_where_it_has_grown_to.py",
        "tests/meanfield/test_c_star_of_relu6_far_above_unit_second_moment.py",
        "tests/meanfield/test_correlation_step_of_a_fading_signal_is_erfs_arcsine_kernel_at_the_grids_bottom.py",
    ),
    "initconv/_meanfield/critical_line.py": (
        "tests/meanfield/test_critical_point_printout_states_sigma_w_squared.py",
        "tests/meanfield/test_critical_input_gain_defaults_to_unit_inputs.py",
        "tests/meanfield/test_critical_homogeneous_point_nearest_to_one.py",
        "tests/meanfield/test_critical_line_end_without_a_taylor_series.py",
        "tests/meanfield/test_critical_point_of_an_activation_not_zero_at_zero.py",
        "tests/meanfield/test_critical_refuses_a_breakpoint_near_zero.py",
        "tests/meanfield/test_critical_line.py", "tests/meanfield/test_line_end_zero_bias.py",
        "tests/meanfield/test_critical_point_display.py",
        "tests/meanfield/test_critical_marginal_line.py",
        "tests/meanfield/test_critical_without_a_slope_in_reach.py",
        "tests/meanfield/test_critical_tiny_bias_beside_a_kink.py",
        "tests/meanfield/test_critical_large_bias.py",
        "tests/meanfield/test_critical_stable_from_crossings.py",
        "tests/meanfield/test_critical_homogeneous_message.py",
        "tests/meanfield/test_critical_tanh_near_the_line_end.py",
        "tests/meanfield/test_critical_hardtanh_line_end.py",
        "tests/meanfield/test_critical_homogeneous_point.py",
        "tests/meanfield/test_critical_stable_from_the_top_of_the_range.py",
        "tests/meanfield/test_critical_line_end_scale_free.py",
        "tests/meanfield/test_critical_refuses_a_narrow_bump_whose_point_lies_below_the_grid.py",
        "tests/meanfield/test_critical_of_a_users_function_asked_again.py",
        "tests/meanfield/test_critical_refuses_a_line_unstable_at_every_point.py",
        "tests/meanfield/test_critical_at_negative_zero_bias_is_the_zero_bias_point.py",
        "tests/meanfield/test_critical_line_end_of_a_fast_growing_activation.py",
        "tests/meanfield/test_critical_line_end_gain_without_a_taylor_series.py",
        "tests/meanfield/test_critical_point_past_a_wide_leaky_dead_zone.py",
        "tests/meanfield/test_critical_point_where_the_line_is_known_beside_a_steep_rise.py",
    ),
    "initconv/_meanfield/line_end.py": (
        "tests/meanfield/test_critical_refuses_a_breakpoint_near_zero.py",
        "tests/meanfield/test_line_end_series_variance_slope.py",
        "tests/meanfield/test_critical_line.py", "tests/meanfield/test_line_end_by_exact_moments.py",
        "tests/meanfield/test_critical_tiny_bias_beside_a_kink.py",
        "tests/meanfield/test_line_end_series_coefficients.py",
        "tests/meanfield/test_line_end_root_without_slope_at_the_end.py",
        "tests/meanfield/test_line_end_root_far_from_unit_slopes.py",
        "tests/meanfield/test_line_end_series_slope_excess_of_a_one_sided_sextic.py",
    ),
    "initconv/_inference/rule.py": (
        "tests/inference/test_zero_filled_tensors_are_zero.py",
        "tests/inference/test_parameters_of_functional_activations.py",
        "tests/inference/test_inference_rule.py", "tests/inference/test_gates.py",
        "tests/inference/test_activation_operands.py", "tests/inference/test_several_uses.py",
        "tests/inference/test_long_regions_and_wide_constants.py",
        "tests/inference/test_constants_computed_by_methods.py",
        "tests/inference/test_spellings_of_scalings_and_fills.py",
        "tests/inference/test_unknown_steps_and_untraced_modules_fall_back.py",
        "tests/inference/test_fills_in_a_dtype_and_after_further_steps.py",
        "tests/inference/test_gates_longer_than_the_steps_followed.py",
        "tests/inference/test_unknown_steps_after_an_activation.py",
    ),
    "initconv/_inference/roles.py": (
        "tests/inference/test_inference_rule.py", "tests/inference/test_gates.py",
        "tests/inference/test_written_out_spellings.py",
        "tests/inference/test_activation_operands.py", "tests/inference/test_several_uses.py",
        "tests/inference/test_gate_branches_are_not_consumers.py",
        "tests/inference/test_shape_reads_are_not_consumers.py",
        "tests/inference/test_unknown_method_steps_fall_back.py",
        "tests/inference/test_steering_by_torch_functions_is_no_consumer.py",
        "tests/inference/test_tensors_shaped_like_a_layer_output_are_not_shape_reads.py",
        "tests/inference/test_shape_reads_are_numbers_not_tensors_shaped_alike.py",
        "tests/inference/test_guards_of_any_depth.py",
    ),
    "initconv/_inference/elementwise.py": (
        "tests/inference/test_parameters_of_functional_activations.py",
        "tests/inference/test_builtins_written_with_float32_constants.py",
        "tests/inference/test_formula_labels_have_no_needless_parentheses.py",
        "tests/inference/test_written_activations.py", "tests/inference/test_inference_rule.py",
        "tests/inference/test_self_gate.py", "tests/inference/test_written_out_spellings.py",
        "tests/inference/test_division_by_the_output.py", "tests/inference/test_formula_labels.py",
        "tests/inference/test_several_uses.py", "tests/inference/test_gated_unit_gains.py",
        "tests/inference/test_long_regions_and_wide_constants.py",
        "tests/inference/test_scalings_in_any_spelling_are_linear.py",
        "tests/inference/test_spellings_of_scalings_and_fills.py",
        "tests/inference/test_alpha_scales_the_added_operand.py",
        "tests/inference/test_gated_unit_gain_below_one_or_beyond_float64.py",
        "tests/inference/test_fills_in_a_dtype_and_after_further_steps.py",
        "tests/inference/test_formula_labels_of_scaled_operands.py",
    ),
    "initconv/_inference/gates.py": (
        "tests/inference/test_gates.py", "tests/inference/test_written_out_spellings.py",
        "tests/inference/test_gate_branches_are_not_consumers.py",
    ),
    "initconv/testing/_laws.py": (
        "tests/testing/test_cumulant_band_of_a_scaled_chi_square.py",
        "tests/testing/test_law_refusals_name_the_callers_argument.py",
        "tests/testing/test_testing_kit.py", "tests/testing/test_variance_about_mean.py",
        "tests/testing/test_power_and_sample_size.py", "tests/testing/test_moments_of_the_laws.py",
        "tests/testing/test_sample_size_sees_both_sides.py",
        "tests/testing/test_variance_band_of_a_few_weights.py",
    ),
    "initconv/testing/_assertions.py": (
        "tests/testing/test_bands_are_closed_at_their_edges.py",
        "tests/testing/test_testing_kit.py", "tests/testing/test_variance_about_mean.py",
        "tests/testing/test_mean_check_threshold.py", "tests/testing/test_moments_of_the_laws.py",
        "tests/testing/test_orthogonal_check_shapes.py",
        "tests/testing/test_mean_check_message_states_its_threshold.py",
        "tests/testing/test_channel_check_follows_its_law.py",
        "tests/testing/test_uniform_law_width_follows_its_variance.py",
        "tests/testing/test_mean_zero_of_weights_claimed_constant.py",
    ),
    "initconv/testing/_checks.py": (
        "tests/testing/test_low_power_warning_only_below_the_detectable_error.py",
        "tests/testing/test_low_power_warning_points_at_the_caller.py",
        "tests/testing/test_exact_second_moment_allows_each_entrys_rounding.py",
        "tests/testing/test_structured_scheme_report_names_its_exact_check.py",
        "tests/testing/test_pooled_channel_band_follows_each_layers_channels.py",
        "tests/testing/test_testing_kit.py", "tests/testing/test_checks_default_shapes.py",
        "tests/testing/test_checks_second_moment_atol.py",
        "tests/testing/test_checks_means_and_constants.py",
        "tests/testing/test_checks_pool_limits.py",
        "tests/testing/test_reset_check_names_what_changed.py",
        "tests/testing/test_scheme_pool_accounting.py",
        "tests/testing/test_second_moment_atol_is_its_rounding_bound.py",
        "tests/testing/test_low_power_warning_states_its_power.py",
        "tests/testing/test_unserved_shapes_raise_the_schemes_own_error.py",
        "tests/testing/test_pool_of_exactly_the_limit_is_drawn.py",
        "tests/testing/test_scheme_pool_judges_each_draw.py",
        "tests/testing/test_documented_scheme_failure_reproduces.py",
        "tests/testing/test_exact_second_moment_passes_at_its_allowance.py",
        "tests/testing/test_a_family_that_changes_with_the_shape_fails_the_scheme.py",
    ),
    "initconv/testing/_bias.py": (
        "tests/testing/test_bias_pool_draws_until_it_holds_enough.py",
        "tests/testing/test_testing_kit.py", "tests/testing/test_checks_pool_limits.py",
        "tests/testing/test_bias_pool_centres_and_stops.py",
        "tests/testing/test_bias_view_keeps_one_bias_per_independent_channel.py",
        "tests/testing/test_unit_variance_biases_pass_the_layer_check.py",
    ),
}  # fmt: skip
# (path, line, old, new) -> why the mutant cannot change behaviour; every site with that key is
# excluded from the ratio (while it survives: a killed one shows the argument wrong and is counted
# killed). Only mutants argued from the code belong here.
_PIECES_OF_16 = (
    "differs only at a remainder of exactly 16, whose values then join the previous piece instead "
    "of forming their own; both pieces are multiples of 16, and torch's CPU normal_ transforms 16 "
    "values at a time, so both splits use the same uniforms in the same order (checked in every "
    "float dtype, and by the contract test's remainder-16 case)"
)
_SHAPE = (
    "a default shape's size changed by one where it still builds: every documented property of "
    "each kind's shape set still holds (plain, grouped, depthwise, even and rectangular kernels, "
    "strided, wide and narrow; strided grouped transposed; tests/testing/"
    "test_checks_default_shapes.py), and the checks' bands are computed for whatever n it gives; "
    "never Conv1d's sizes, which docs/extending.md's quoted failure (its n) fixes"
)
_CHECKS = "initconv/testing/_checks.py"
_BUDGET = (
    "a search budget one step longer: the two differ only where the search reaches exactly its "
    "limit, where the original gives up (a warned fallback) and the mutant goes on under the "
    "documented rule, which sets no limit; never a wrong answer where the original is right"
)
EQUIVALENT: dict[tuple[str, int, str, str] | tuple[str, int, str, str, int], str] = {
    ("initconv/_inference/rule.py", 446, ">=", ">"): _BUDGET,
    ("initconv/_inference/roles.py", 529, "0", "1"): _BUDGET,
    ("initconv/_inference/gates.py", 75, "<", "<="): _BUDGET,
    ("initconv/_inference/elementwise.py", 49, "64", "65"): _BUDGET,
    ("initconv/_inference/elementwise.py", 465, "32001", "32002"): (
        "the grid is only a fast pre-check for poles: derived_gain refuses any phi that is not "
        "finite at a quadrature point or whose integral does not converge, so a pole is refused "
        "either way, with other wording"
    ),
    ("initconv/testing/_assertions.py", 205, "1", "2", 50): (
        "numpy's reshape takes any negative size as the one to infer: reshape(C, -2) is "
        "reshape(C, -1)"
    ),
    ("initconv/testing/_laws.py", 59, "6", "7"): (
        "order 7 only appends E Z^7 = 0; the moments the law uses (raw[4], raw[6]) are computed "
        "as before"
    ),
    ("initconv/testing/_laws.py", 243, "2", "3"): (
        "the doubling already found hi // 2 short of the target, so hi // 3 is too (power rises "
        "with n where the bisection runs): the same least n after one more step"
    ),
    ("initconv/testing/_laws.py", 283, ">", ">="): (
        "differs only where high - low equals 1e-9 high exactly: one more halving, which keeps "
        "high detecting and low not, within the stated 1e-9"
    ),
    (_CHECKS, 61, "<", "<=", 19): _SHAPE,
    (_CHECKS, 64, ">", ">=", 37): "for d = 1 both branches return sides[:1]",
    (_CHECKS, 68, "5", "6", 73): _SHAPE,
    (_CHECKS, 71, "1", "2", 75): _SHAPE,
    (_CHECKS, 71, "2", "3", 72): _SHAPE,
    (_CHECKS, 77, "2", "3", 40): _SHAPE,
    (_CHECKS, 92, "32", "33", 24): _SHAPE,
    (_CHECKS, 92, "96", "97", 44): _SHAPE,
    (_CHECKS, 94, "5", "6", 24): _SHAPE,
    (_CHECKS, 61, "2", "3"): _SHAPE,
    (_CHECKS, 76, "2", "3", 15): _SHAPE,
    (_CHECKS, 76, "2", "3", 30): _SHAPE,
    (_CHECKS, 77, "3", "4", 37): _SHAPE,
    (_CHECKS, 94, "200", "201"): _SHAPE,
    (_CHECKS, 239, "0", "1"): (
        "the default root of fresh pool seeds: every root gives draws of the same law and runs "
        "stay reproducible; no promise names the value"
    ),
    ("initconv/_maths/sampling.py", 68, ">=", ">"): _PIECES_OF_16,
    ("initconv/_maths/sampling.py", 68, "16", "17"): _PIECES_OF_16,
    ("initconv/_maths/quadrature.py", 227, "<=", "<", 37): (
        "panel widths are 0.25 / 2^j, exact in float64, and 1e-12 is no power of 2, so no width "
        "equals _MIN_WIDTH and <= and < agree on every panel"
    ),
    ("initconv/_maths/orthogonality.py", 66, "24", "25"): (
        "the precision sets only the piece count, ceil(27 / bits) against ceil(28 / bits), which "
        "differ only for bits dividing 27, i.e. bits <= 9, reached only at inner sizes above "
        "2.8e9; there one more piece still leaves every product exact"
    ),
    ("initconv/_maths/orthogonality.py", 70, "8", "9"): (
        "the column blocks of a product with a triangular factor change which exact zeros of the "
        "factor are skipped, in sums that are exact: the same values (bit-identical hashes at 8 "
        "shapes; at most a zero's sign, erased by the next step)"
    ),
    ("initconv/_maths/orthogonality.py", 72, "15", "16"): (
        "chooses between a broadcast sum and the BLAS for products of integer pieces whose "
        "partial sums are all exact, so both give the same value: a cost choice"
    ),
    ("initconv/_maths/derived_gain.py", 73, "0", "1"): (
        "the probe's seed sets only the order of its points, a permutation of the same 420-point "
        "grid (and so the same part |v| < 4); every check on the outputs is order-free, and the "
        "fingerprints it keys are compared only within one process"
    ),
    ("initconv/_maths/derived_gain.py", 78, "<", "<="): (
        "the probe's points are -8 + 16 i / 419, and |v| = 4 would need i = 104.75 or 314.25: no "
        "point is within 0.009 of 4, so < and <= pick the same part"
    ),
    ("initconv/_maths/derived_gain.py", 162, "1.0", "2.0", 63): (
        "the scale of an activation that is 0 (or not finite) at every probe point: dividing by 2 "
        "instead of 1 is exact, and the gain undoes it bit for bit (1 / (2 sqrt(m / 4)))"
    ),
    ("initconv/_maths/orthogonality.py", 65, "53", "54"): (
        "one bit more per piece of a float64 split: every partial sum of the pieces' products "
        "stays below 2^53 (only the first piece reaches 2^beta), so the products stay exact and "
        "thread-count independent; the weights differ in the last bit, which no promise fixes "
        "across versions, within the stated accuracy"
    ),
    ("initconv/_maths/orthogonality.py", 68, "32", "33"): (
        "the block size regroups exact sums in the Gram and triangular products, and moves where "
        "the triangular solve's recursion gives way to back substitution: both paths use only "
        "elementwise steps and the reproducible product, so the result stays thread-count "
        "independent and as orthogonal (33 x 33: 6.7e-16 before, 5.6e-16 after); last bits "
        "differ, within the stated accuracy"
    ),
    ("initconv/_maths/orthogonality.py", 72, "2", "3", 17): (
        "3^15 instead of 2^15 moves the choice between a broadcast sum and the BLAS for products "
        "of integer pieces whose partial sums are exact: the same values (bit-identical at 16 "
        "shapes), a larger temporary buffer"
    ),
    ("initconv/_maths/orthogonality.py", 111, "2", "3", 25): (
        "at least 3 pieces instead of 2 binds only at float32's precision (at 53 bits every plan "
        "needs 3): one more piece, each product still exact, so the draws stay thread-count "
        "independent and more precise than asked (float64 entries moved by at most 1.1e-11, the "
        "float32 weights bit-identical at 6 of 8 shapes, the last bit at 2), within the stated "
        "accuracy"
    ),
    ("initconv/_maths/derived_gain.py", 50, "16.0", "17.0"): (
        "the allowance separates layout noise from dependence on other inputs, and neither comes "
        "near it: 14 activations computed in float32, bfloat16 and float16 differ between the "
        "probe's layouts by at most 3e-5 of one eps unit, while a normalisation or Softmax moves "
        "outputs by O(1) relative; in float64 the 1e-9 floor decides either way"
    ),
    ("initconv/_maths/derived_gain.py", 137, "<=", "<"): (
        "differs only where an output's change at another position equals its allowance exactly, "
        "a float tie at the edge of a 16-eps tolerance that no derivation fixes to the ulp; "
        "identical outputs are accepted by a == b either way"
    ),
    ("initconv/_maths/quadrature.py", 100, "+", "-"): (
        "eigvalsh reads only the lower triangle, so it sees the symmetric tridiagonal matrix with "
        "off-diagonal -b, which is D T D for D = diag((-1)^i): the same eigenvalues (the "
        "tridiagonal solver uses the squares of the off-diagonal; bit-identical nodes for every "
        "order 3 to 39)"
    ),
    ("initconv/_maths/quadrature.py", 253, ">", ">=", 18): (
        "differs only where the unresolved change equals 64 tolerances exactly, a float tie of a "
        "heuristic threshold (a jump leaves a few times width |f|, a singularity about the "
        "integral); with allowed = 0 both are true, as forced panels have a nonzero change"
    ),
    ("initconv/_maths/quadrature.py", 253, ">", ">=", 58): (
        "differs only where the forced panels' peak is exactly 1e4 times the first panels' size, "
        "a float tie of a heuristic threshold (a jump stays within f's range, a singularity grows "
        "without bound); with size 0, growth is inf either way"
    ),
    ("initconv/_maths/orthogonality.py", 110, "1", "2"): (
        "max(inner, 2) differs only for inner = 1, which gets the plan of inner = 2: still exact "
        "and precise enough; at 53 bits the same plan (25, 3), at 24 bits (25, 2) for (26, 2); "
        "only 1-term products at float32 precision move, by <= 1.8e-15 (a 1 x 1 Haar draw, "
        "rounded to +-1 in float32; 104 of 110 cases bit-identical)"
    ),
    ("initconv/_maths/orthogonality.py", 134, "1.0", "2.0", 86): (
        "the inner fallback is taken only where largest == 0, where the outer where takes 1.0 and "
        "drops it"
    ),
    ("initconv/_maths/orthogonality.py", 134, "1.0", "2.0", 92): (
        "the scale of an all-zero line: its pieces are 0 either way, and the product's zeros "
        "times 2 keep their value and sign (bit-identical, zero signs included, with zeroed rows "
        "and columns)"
    ),
    ("initconv/_maths/orthogonality.py", 246, "1", "2"): (
        "the extra edge n (count + 1) // count >= n adds a column block [n, ...) that slicing "
        "clips to empty: an m x 0 product, which the cat drops (bit-identical at 15 shapes, both "
        "precisions)"
    ),
    ("initconv/_maths/orthogonality.py", 321, "1.0", "2.0"): (
        "the draws doubled exactly (std * z), and every later step is exact under a power-of-two "
        "scale: the norms and v double, half_norm and U quadruple, the splits' scales are powers "
        "of two, back substitution halves the coefficients exactly, so V U^-1 V^T and Q are the "
        "same bits (bit-identical at 15 shapes x 2 precisions x 3 seeds)"
    ),
    ("initconv/_maths/orthogonality.py", 340, "*", "/"): (
        "the factor is exactly +-1.0, and dividing by it gives the same float as multiplying"
    ),
    ("initconv/_meanfield/slopes.py", 34, "40", "41"): (
        "one more halving of the jump probe: an activation the original accepts returns within 40 "
        "rounds, as the mutant's does; 80 random jumps (tanh and 3 relu beside them) give the "
        "same messages; only cusps sign(x)|x|^a whose miss over 2^-44 vs 2^-45 straddles the "
        "floor (a = 0.35) move from 'jumps' to the quadrature's 'singular' refusal (phi'^2 is not "
        "integrable for a <= 1/2): a ValueError naming the activation either way"
    ),
    ("initconv/_meanfield/gaussian.py", 111, "1.0", "2.0"): (
        "a built-in is then solved as phi / 2 at gain 2 g (the user-callable path): dividing by a "
        "power of 2 is exact and every tolerance is relative, so critical, variance_map, "
        "correlation_map and correlation_step are bit-identical (120 results, 10 activations)"
    ),
    ("initconv/_meanfield/slopes.py", 193, "0", "1"): (
        "with a single finite value among the probe's 1,025, every interval has a non-finite end, "
        "as with none; resolve() refuses a user's function that is NaN or inf at any of its own "
        "quadrature nodes, so only a function non-finite exactly on the probe's lattice reaches "
        "this (NaN there passes in both; +inf there is refused by the original only)"
    ),
    ("initconv/_meanfield/gaussian.py", 198, "0.0", "1.0"): (
        "reached only where f is non-finite at all 257 probe points, z = 0 included; the "
        "quadrature then raises at its first non-finite node in both versions, unless f is NaN "
        "exactly on the lattice of multiples of 1/16 and finite between (and there the original's "
        "nudge already gives the slope moment precision 1)"
    ),
    ("initconv/_meanfield/gaussian.py", 353, ">", ">=", 15): (
        "differs only at fc == +-0.0, which breaks the loop on the line before"
    ),
    ("initconv/_meanfield/gaussian.py", 353, ">", ">=", 27): (
        "differs only at fb == +-0.0: no caller passes one (root_log only where the grid value is "
        "!= 0, recomputed deterministically; line_end with fa < 0 < fb; _c_star with fb < 0), "
        "and fb is later an fc != 0"
    ),
    ("initconv/_meanfield/variance_map.py", 217, "<=", "<"): (
        "|factor - 1| is exact (Sterbenz on [0.5, 2]) and a multiple of 2^-53, and fl(1e-6) is not "
        "(2^53 fl(1e-6) has denominator 2^19): no factor ties with the tolerance"
    ),
    ("initconv/_meanfield/correlation_map.py", 50, "13", "14"): (
        "range(-24, 13, 2) and range(-24, 14, 2) are the same list"
    ),
    ("initconv/_inference/elementwise.py", 471, "0.0", "1.0"): (
        "only the location quoted in a refusal's message, and only where phi returns a tensor of "
        "another size than the grid: every step of a region is elementwise on x with scalar "
        "operands (constants are reduced to numbers), so that needs a registered function that "
        "is not elementwise, against register_activation's contract; the verdict (no gain, a "
        "fallback) is the same either way"
    ),
    ("initconv/_meanfield/correlation_map.py", 189, "16", "17"): (
        "the upward grid's step between 2^12 and q0: a fixed point alone in a step is bracketed by "
        "either grid and refined by root_log to 1e-13 in log q (96 cases, 4 activations x 4 "
        "(sigma_w, sigma_b) x 6 q0 from 2^13 to 2^68: identical except relu's exact q* = 20000 at "
        "sigma_b = 100, 2e-15 relative either side); two fixed points within one step are missed "
        "by both grids, at different places, and no promise states the grid's resolution"
    ),
    ("initconv/_meanfield/correlation_map.py", 199, "<", "<="): (
        "differs only where a root is exactly the float q0 + 1e-9 q0, the edge of the allowance "
        "within which a root counts as q0's own: a tie with a tolerance far coarser than the "
        "roots' 1e-13"
    ),
    ("initconv/_meanfield/correlation_map.py", 260, ">=", ">"): (
        "differs only at gap(b) == 0.0 exactly, where the mutant calls illinois with fb = 0 (fa > "
        "0): its first iterate is b - 0 * (b - a) / (0 - fa) = b exactly, whose gap is 0.0, so it "
        "returns b, as the original does where b is within 1e-3 of 1 (and where it is not, b "
        "instead of the original's warned NaN): a tie of a computed gap with 0.0 that no case "
        "reached"
    ),
    ("initconv/_meanfield/critical_line.py", 259, "0", "1"): (
        "the series' root is sought below 2^-22 instead of 2^-24; reached only where the "
        "quadrature's excess at 2^-24 is negative, so the root lies below 2^-24 and both brackets "
        "hold it (the leading-balance guess is within O(q) ~ 1e-7 relative of it): the same root "
        "(critical() bit-identical for 8 activations x 7 biases from 0 to 1e-6)"
    ),
    ("initconv/_meanfield/critical_line.py", 315, "1.0", "2.0"): (
        "a positively homogeneous phi has phi' constant on each half-line, so G(q) is the same "
        "quadrature sum at every q: bit-identical at q = 1 and 2 (relu, linear, leaky_relu at "
        "0.01 and 0.3, a two-slope prelu); only an activation within the branch's own 1e-9 "
        "deficit test of homogeneous, but not exactly so, could differ, by that order"
    ),
    ("initconv/_meanfield/line_end.py", 43, "6", "7"): (
        "one more Taylor coefficient per side: every term the series keeps is computed the same "
        "(the completeness cuts n <= ORDER + 1, ORDER + 2 move with it) and only higher-order "
        "terms are added, O(q^0.5) <= 2^-12 relative beyond the last kept below 2^-24 where the "
        "series is used (critical() bit-identical for 8 activations x 7 biases from 0 to 1e-6)"
    ),
    ("initconv/_meanfield/line_end.py", 148, ">", ">="): (
        "differs only at a coefficient of exactly 1e-14 of the largest (a tie) or where all are "
        "0.0, when the mutant keeps zero terms: they add 0.0 to every sum, root() refuses a "
        "leading deficit coefficient 0.0 (<= 0) as it refuses an empty deficit, and a slope "
        "excess whose first term is 0.0 gives the stability of the empty one's default 0.0"
    ),
    ("initconv/_meanfield/line_end.py", 160, "<=", "<"): (
        "kept() drops every coefficient that is 0.0 (abs(0.0) > 1e-14 * scale is False) and "
        "taylor() refuses non-finite ones, so the leading deficit coefficient is never 0.0: <= 0 "
        "and < 0 agree"
    ),
    ("initconv/_maths/orthogonality.py", 87, "*", "/", 46): (
        "shape[0] == 2 / half holds at 2 rows, as == 2 * half does, and otherwise sends an even "
        "count to the branch that appends the empty rest values[2 * half:]: the same sums "
        "(bit-identical at 10 lengths)"
    ),
    ("initconv/_maths/orthogonality.py", 221, "<=", "<"): (
        "a Gram block of exactly 32 is split once more: each upper entry is the same exact integer "
        "sums per level (the extra rows are zeros of the trapezoidal v) on the same scales, added "
        "in the same order; below the diagonal at most a zero's sign, erased by the diagonal term "
        "(bit-identical at 15 shapes, both precisions)"
    ),
    ("initconv/_maths/orthogonality.py", 245, "1", "2"): (
        "below 64 columns the product with the triangular factor is cut in two column blocks that "
        "skip only the factor's exact zeros, in exact sums: the same values (bit-identical at 15 "
        "shapes, both precisions; at most a zero's sign, erased by eye - product)"
    ),
    ("initconv/_maths/orthogonality.py", 260, ">", ">="): (
        "a 32 x 32 triangular block is split 16 + 16 with a reproducible coupling instead of back "
        "substitution: both paths are elementwise or exact-sum products, so the result stays "
        "thread-count independent; float64's last bits differ (<= 2.8e-16), the orthogonality "
        "error is the same within rounding (7 shapes x 20 seeds), float32 weights bit-identical"
    ),
    ("initconv/_maths/orthogonality.py", 322, "<", "<="): (
        "a square draw is used transposed: an iid Gaussian matrix and its transpose are equal in "
        "law, so Q is Haar either way, as orthogonal and thread-count independent; only the "
        "seeded values change, which no promise fixes (docs/guarantees.md: the same seed gives "
        "the same weights in every process and at any thread count)"
    ),
    ("initconv/_meanfield/critical_line.py", 163, "0", "1", 33): (
        "a run's grid points and values are appended together, so its second list is empty "
        "exactly when its first is: the same test"
    ),
    ("initconv/_meanfield/critical_line.py", 170, ">", ">="): (
        "adds one-point runs, from which a root is taken only where the excess is exactly 0.0: "
        "with a bias, a tie at a grid point within the quadrature's error; without one, exact "
        "zeros are already NaN"
    ),
    ("initconv/_meanfield/critical_line.py", 229, "<=", "<"): (
        "differs only where M'(q) is exactly the float 1 + 1e-9: the edge of the tolerance within "
        "which a slope counts as 1 moves by one ulp, far below the quadrature's 1e-12"
    ),
    ("initconv/_meanfield/critical_line.py", 283, "<=", "<", 45): (
        "the same one-ulp move of the tolerance's edge, where the series of the line's end cannot "
        "be taken"
    ),
    ("initconv/_meanfield/critical_line.py", 361, "5e-7", "1.0000005"): (
        "the refusal then also prints the excess in parentheses where six decimals of M'(q*) "
        "already show it above 1: the same reason, point and slope in other words"
    ),
    ("initconv/_meanfield/slopes.py", 32, "1024", "1025"): (
        "the jump probe's interval count sets where its first edges fall: a kink's allowance does "
        "not depend on the width, and every miss above the floor is halved until it shrinks or "
        "stays, so every continuous activation passes and every jump above 1e-6 of the range is "
        "refused with the same six digits (150 random jumps)"
    ),
    ("initconv/_meanfield/gaussian.py", 293, "2", "3"): (
        "the floor's exponent: for float64 both (4 eps)^2 and (4 eps)^3 are below 1e-20; for a "
        "narrower dtype the floor acts only where E[f] < eps^2 size, and there the mutant's "
        "tolerance falls to the documented noise bound, never above the original's (critical() "
        "bit-identical for four activations in three dtypes at five biases)"
    ),
    ("initconv/_meanfield/gaussian.py", 298, "*", "/", 19): (
        "the first pass only sets the second pass's tolerance through its square root: moved by "
        "at most 1.1% over 4,224 calls; deficits bit-identical for 16 activations at 19 q"
    ),
    ("initconv/_meanfield/gaussian.py", 298, "*", "/", 31): (
        "as its neighbour: the first pass's tolerance moves the second's by at most 1.1%; "
        "deficits and 30 critical points bit-identical"
    ),
    ("initconv/_meanfield/gaussian.py", 351, "<", "<="): (
        "differs only where the bracket's width equals x_tol exactly, where the mutant stops one "
        "step early within the accuracy asked for (no such tie in 198 root searches)"
    ),
    ("initconv/_meanfield/gaussian.py", 377, "100", "101"): _BUDGET,
    ("initconv/_meanfield/gaussian.py", 417, "1.0", "2.0", 20): (
        "the clamp never acts: correlation_step refuses c outside [-1, 1] and the other callers "
        "pass c in [0, 1)"
    ),
    ("initconv/_meanfield/gaussian.py", 417, "1.0", "2.0", 26): (
        "as its neighbour: no caller passes c outside [-1, 1]"
    ),
    ("initconv/_meanfield/gaussian.py", 421, "+", "-"): (
        "c z1 - s z2 has the law of c z1 + s z2, and the nodes and weights are symmetric to 1e-16: "
        "only the order of the sum changes (at most 1.1e-15 relative)"
    ),
    ("initconv/_meanfield/variance_map.py", 138, ">", ">="): (
        "differs only where the excess at the grid's top is exactly 0.0, an on-grid tie within "
        "the quadrature's error"
    ),
    ("initconv/_meanfield/variance_map.py", 145, ">=", ">", 20): (
        "differs only at exact float equality with a tolerance (1 - 1e-9), far coarser than the "
        "quadrature's 1e-12 (the same output on 11 cases that reach the check)"
    ),
    ("initconv/_meanfield/variance_map.py", 145, ">=", ">", 51): (
        "as its neighbour: an exact tie with a tolerance"
    ),
    ("initconv/_meanfield/variance_map.py", 206, "1", "2"): (
        "range(-32, 34, 4) and range(-32, 33, 4) are the same list"
    ),
    ("initconv/_meanfield/variance_map.py", 209, "0", "1"): (
        "the size of a flat excess is read at 2^-28 instead of 2^-32: bit-identical for "
        "homogeneous maps, and different only where the excess crosses the 1e-6 tolerance "
        "between the two, a tie within the tolerance (the original accepts up to 2e-6)"
    ),
    ("initconv/_meanfield/variance_map.py", 214, "0", "1", 32): (
        "reached only without roots, where every value on the grid has the same strict sign, so "
        "values[0] < 0 exactly when values[1] < 0"
    ),
    ("initconv/testing/_laws.py", 67, "0.0", "1.0"): (
        "m[1] is never read: the recursion reads m[k - 2] only for even k, and standard_moments, "
        "the only caller, reads raw[2], raw[4] and raw[6]; only the returned E Z^1 changes"
    ),
    (_CHECKS, 61, "3", "4", 12): _SHAPE,
    (_CHECKS, 61, "3", "4", 21): _SHAPE,
    (_CHECKS, 77, "1", "2", 43): _SHAPE,
    (_CHECKS, 93, "7", "8", 45): _SHAPE,
    ("initconv/_inference/rule.py", 126, "64", "65"): (
        "a search budget one step longer (a weight op's path to its norm): differs only past "
        "exactly 64 pass-throughs, where one side is a warned fallback and the other the "
        "documented rule's answer, or linear where every use passes a norm: no gain changes "
        "silently"
    ),
    ("initconv/_inference/roles.py", 321, "==", "!=", 15): (
        "changes only call_method nodes named glu, which no model that runs makes: torch.Tensor "
        "has no glu method (a run records F.glu as a call_function)"
    ),
    ("initconv/_inference/elementwise.py", 159, "2", "3"): (
        "no division has a third positional argument (torch.div's rounding_mode is keyword-only, "
        "operator.truediv takes two), so args[1:3] is args[1:2] on every division that runs"
    ),
    ("initconv/_inference/elementwise.py", 443, "9", "10"): (
        "a call's precedence is only compared with the levels asked for, at most 4: 9 and 10 "
        "put the same parentheses, every label the same"
    ),
    ("initconv/_meanfield/correlation_map.py", 155, "<", "<="): (
        "the test for M(q) = q everywhere includes its edge: differs only where the largest "
        "|log-excess| on the grid is exactly the float 1e-9, a tie of values computed to the "
        "moments' 1e-12; just inside the tie the original answers as the mutant does (q0 reported)"
    ),
    ("initconv/_meanfield/correlation_map.py", 370, "<=", "<"): (
        "chi_1 - 1 is exact (Sterbenz) and a multiple of 2^-52, and fl(1e-9) is not: no chi_1 "
        "makes the two comparisons differ"
    ),
    ("initconv/_meanfield/correlation_map.py", 236, "<=", "<"): (
        "differs only where C(0) = (sigma_w^2 m^2 + sigma_b^2) / q is the float 1e-20 exactly, a "
        "tie reached only by a bias tuned to its last bit; there the mutant solves for c* on the "
        "grid (0 to ~1e-20 where the grid resolves the activation, a warned NaN where not) "
        "instead of taking it as 0"
    ),
    ("initconv/_maths/quadrature.py", 252, ">", ">="): (
        "size is 0 only where f is 0 at every node of the first panels and their halves; then "
        "every panel agrees with its halves (both 0) and converges at the first step, so no panel "
        "is ever forced and this line is not reached with size 0"
    ),
    ("initconv/_meanfield/slopes.py", 210, "2", "3"): (
        "the kink allowance now only sorts the intervals that miss by more than the floor into "
        "suspicious and unsettled, and both are halved until the miss shrinks or stays: the same "
        "jumps are refused with the same sizes; the two differ only in which intervals count "
        "toward the rough activation's cap of 1,024"
    ),
    ("initconv/_maths/orthogonality.py", 134, ">", ">=", 71): (
        "the inner where differs from the outer only where largest == 0, where the outer where "
        "takes 1.0 and drops the inner value"
    ),
    ("initconv/_meanfield/slopes.py", 33, "8.0", "9.0"): (
        "the jump probe's 1,024 intervals cover [-9, 9] instead of [-8, 8]: every jump in [-8, 8] "
        "is still refused with the same six digits and every continuous activation still passes; "
        "its floor is by definition a share of the range on the probe"
    ),
    ("initconv/_meanfield/slopes.py", 200, "+", "-", 37): (
        "Gauss-Legendre nodes and weights are symmetric about 0, so mid - half * nodes is the same "
        "node set reversed with matching weights: the integral and the slopes' spread move by "
        "rounding, 1e-16, far below the 1e-6 floor that decides"
    ),
    ("initconv/_meanfield/gaussian.py", 298, "16", "17"): (
        "the first pass only sets the second pass's tolerance, 16 eps sqrt(rough size), which "
        "moves by under 3% and never past the documented bound (bit-identical deficits for tanh "
        "and hardtanh at 20 values of q)"
    ),
    ("initconv/_meanfield/gaussian.py", 393, ">", ">=", 24): (
        "the elif is reached only where values[i] != 0 (the if before it takes 0.0 and -0.0), and "
        "NaN compares False either way"
    ),
    ("initconv/_meanfield/gaussian.py", 393, ">", ">=", 47): (
        "> and >= differ only at values[i + 1] = +-0.0, where the and's values[i + 1] != 0.0 is "
        "False either way"
    ),
    ("initconv/_meanfield/variance_map.py", 218, "<", "<="): (
        "reached only with no root, and log_grid_roots takes grid[0] as a root whenever "
        "values[0] == 0.0; excess never returns NaN (-inf where the moment is not > 0)"
    ),
    ("initconv/_meanfield/variance_map.py", 235, "256", "257"): (
        "the cache's size decides only when an entry is evicted, and a verdict recomputed from "
        "the same (name, gain, registered function) is the same"
    ),
    ("initconv/_meanfield/correlation_map.py", 177, "0", "1", 22): (
        "adds grid points only below the lowest one, where log(M / q) >= 0 and, M being linear "
        "in q below 2^-24 (the tangent line of phi near 0), strictly decreasing: no sign change, "
        "the same roots from the same brackets"
    ),
    ("initconv/_meanfield/correlation_map.py", 178, "0", "1", 32): (
        "steps down by 2^14 and 4 alternately instead of 2^16, reaching every original point and "
        "stopping at sigma_b^2 as before; with M linear there, one root, bracketed by both "
        "(bit-identical q*, chi_1 and M' for relu, linear, tanh, elu, gelu and sigmoid)"
    ),
    ("initconv/_meanfield/critical_line.py", 333, "<", "<="): (
        "within the stated accuracy: differs only where the excess at q = 2^-24 is exactly 0.0, "
        "a fixed point on the grid's first point, where which side wins is quadrature error "
        "(1e-12) and at the neighbouring float the original behaves as the mutant does"
    ),
    ("initconv/_meanfield/critical_line.py", 348, "1", "2", 37): (
        "phi is elementwise (checked when it is resolved), so element 0 of phi on two zeros is "
        "phi(0), as on one"
    ),
    ("initconv/_meanfield/line_end.py", 132, "+", "-", 61): (
        "j + k and j - k have the same parity, so (+-1.0) to either power is the same float"
    ),
    ("initconv/_meanfield/line_end.py", 140, "2", "3", 54): (
        "adds only an incomplete q^4.5 part to D, beyond its documented completeness (q^4): "
        "q^2.5 <= 2^-60 of D's lowest term below 2^-24, zero for tanh"
    ),
    ("initconv/_meanfield/line_end.py", 147, "0.0", "1.0"): (
        "the default is used only when terms is empty, and then nothing is kept whatever it is"
    ),
    ("initconv/_meanfield/line_end.py", 170, "8.0", "9.0"): (
        "within the stated accuracy: the bracket only has to hold the root; at 8 or 9 e-folds "
        "from the leading balance the leading term alone fixes the signs, the top is capped at "
        "2^-24 where the series was checked; the same roots to <= 1.1e-13 relative, none gained or "
        "lost (23 activations x 1,180 biases from 1e-300 to 1e-5)"
    ),
    ("initconv/_meanfield/line_end.py", 132, "*", "/", 48): (
        "sign ** (j + k) is exactly +-1.0, and dividing by it gives the same float as multiplying"
    ),
    ("initconv/_meanfield/line_end.py", 182, "200", "201"): (
        "within the stated accuracy: where the cap is reached, Illinois has stalled within the "
        "rounding of log q (its tolerances, 1e-15, are finer than the spacing of log q beyond "
        "|log q| > 8): iterates 200 and 201 differ by <= 2e-13 relative in q*, sigma_w and M' "
        "bit-identical through critical()"
    ),
    ("initconv/_meanfield/line_end.py", 172, "<", "<="): (
        "differs only at a log-excess of exactly 0.0 at a bracket end: -8 times the leading term "
        "at the lower end, the on-grid tie of the excess at 2^-24 (argued for critical_line.py) at the upper"
    ),
    ("initconv/_meanfield/line_end.py", 195, "<=", "<"): (
        "differs only at exact equality with the 1e-7 agreement tolerance, far above the "
        "quadrature's 1e-12"
    ),
    ("initconv/_inference/elementwise.py", 381, "<=", "<"): (
        "the naming tolerance 1e-7 (1 + |ref|) is positive, so an exact match (0) passes either "
        "way; the two differ only where some probe point's deviation equals the float tolerance "
        "exactly and none exceeds it, a tie; 414 labels of 207 formulas identical"
    ),
    ("initconv/_inference/elementwise.py", 381, "1.0", "2.0"): (
        "the naming tolerance widens from 1e-7 (1 + |ref|) to 1e-7 (2 + |ref|), still inside the "
        "band its comment sets: written-out built-ins with exact, 10-digit or float32 constants "
        "deviate by at most 3e-8 (1 + |ref|) and the closest two built-ins by 2.4e-4; every name "
        "and label of 207 formulas (traced and run) is the same"
    ),
    ("initconv/_inference/elementwise.py", 397, "9", "10"): (
        "the source's precedence is only compared (own < level) with the levels asked for, at "
        "most 4: 9 and 10 put the same parentheses; 414 labels identical"
    ),
    ("initconv/_inference/elementwise.py", 415, "9", "10"): (
        "a pass-through step copies its input's text and precedence; the default is never used "
        "(a member's input is in the region) and, like the source's 9, is only compared with "
        "levels of at most 4; 414 labels identical"
    ),
    ("initconv/_inference/elementwise.py", 441, "0", "1"): (
        "a call's arguments get parentheses where their precedence is below the level asked; "
        "every precedence render gives is 1, 2, 3 or 9, none below 0 or 1, so no argument is "
        "ever parenthesised either way; 414 labels identical"
    ),
    ("initconv/_meanfield/slopes.py", 196, "8", "9"): (
        "the node count only sets the rule the jump probe integrates phi' with: both are exact "
        "for smooth slopes, and the kink allowance (width x spread of slopes) bounds any "
        "positive-weight rule's miss; 8 and 9 nodes gave the same verdicts and messages for 200 "
        "random kink-and-jump activations and 42 others (built-ins, rounded dtypes, "
        "straight-through estimators, sin(1e5 x), steps at the floor), but sin(1e12 x), refused "
        "by both, whose message names another of its float-resolution jumps"
    ),
    ("initconv/_meanfield/variance_map.py", 209, "<", "<=", 64): (
        "values[0] is math.log of a float64, and no float64 has a log equal to the double 1e-6 "
        "or -1e-6 (the 101 doubles around exp(+-1e-6) miss by 3.8e-17 and 1.6e-17; log is "
        "monotone): the tie cannot be reached"
    ),
    ("initconv/_meanfield/variance_map.py", 218, "0", "1", 50): (
        "reached only where log_grid_roots found no root: no grid value is 0 and no neighbours "
        "differ in sign, so all the values (at least 17, never NaN) share one sign and "
        "values[0] < 0 exactly when values[1] < 0"
    ),
    ("initconv/_maths/quadrature.py", 79, "+", "-"): (
        "eigh reads only the lower triangle, so it sees the tridiagonal matrix with off-diagonal "
        "-b, which is D T D for D = diag((-1)^i): the same eigenvalues, eigenvectors D v with the "
        "same v_0^2; computed by another path, nodes and weights move by at most 7.8e-16 and "
        "2.0e-15 (orders 2 to 64), as close to mpmath's exact rule as before; correlation_map, "
        "correlation_step and critical move by at most 4.8e-15 relative (63 results, 9 "
        "activations)"
    ),
    (_CHECKS, 91, "32", "33"): _SHAPE,
    ("initconv/_meanfield/correlation_map.py", 196, ">", ">="): (
        "start is never NaN (excess is the log of a positive ratio, or -inf) and any start within "
        "1e-12 of 0, +-0.0 included, has already returned q0 on the line before, so start > 0 and "
        "start >= 0 agree on every value that reaches the test (288 correlation_map results "
        "bit-identical: 6 activations x 4 sigma_w x 3 sigma_b x 4 q0 from 1e-30 to 2^66)"
    ),
    ("initconv/_meanfield/correlation_map.py", 364, ">", ">=", 13): (
        "within the stated accuracy: differs only where chi_1 is exactly fl(1 + 1e-9) with q* "
        "above 2^12, a tie with the critical band that the 1-d quadrature (1e-12, thousands of "
        "ulps) cannot place; the phase is chaotic either way, and the mutant reports what the "
        "original reports one ulp higher (NaN c*, chi_c and the warning); tanh at sigma_w 20 over "
        "31 consecutive sigma_b floats where chi_1 crosses 1 + 1e-9: it never lands on the tie"
    ),
    ("initconv/_meanfield/line_end.py", 152, "0.0", "1.0"): (
        "the default is never read: g and f get the same keys, (n - 2) / 2 = n / 2 - 1 for each "
        "(j, k) with n <= ORDER + 1, in the same iteration, and excess starts as a copy of f "
        "(Series bit-identical for 23 activations; 45,650 roots and critical() results identical)"
    ),
    ("initconv/_meanfield/line_end.py", 170, "-", "+", 32): (
        "differs only where the leading-balance guess lies above top = log 2^-24 (lower end "
        "top - 8 vs min(guess - 8, top + 8)); below 2^-24 the series' higher terms are O(q^0.5) "
        "of the leading one, so no root lies below 2^-24 there (fb < 0: None in both); roots bit "
        "for bit the same for 23 activations x 1,981 biases from 1e-300 to 1e-5 and 8 "
        "activations x 6,001 biases straddling guess = top"
    ),
    ("initconv/_meanfield/variance_map.py", 209, "<", "<=", 33): (
        "differs only where the excess's range over the grid is the double 1e-6 exactly, a tie "
        "reached only by a gain tuned to its last bit against the quadrature's rounding (a search "
        "of 3e6 consecutive gains did not hit it); there the mutant calls the map flat (marginal, "
        "q* = 1), as the inclusive <= _MARGINAL of the two tests after it would"
    ),
    ("initconv/_meanfield/gaussian.py", 322, "1.0", "2.0"): (
        "the two forms of dE[phi^2]/dq agree on q in (1, 2], where only the mutant uses the "
        "first: to 6e-15 relative for tanh, relu, hardtanh, gelu, silu, relu6, elu, softplus, "
        "sigmoid and a kinked x + relu(x - 1.3) at 7 q from 1.0001 to 2, far inside the moments' "
        "1e-12"
    ),
    ("initconv/_maths/generators.py", 32, "0x80000000", "2147483649"): (
        "sets a low bit of MT19937's state word 0, which no output reads: the first draw twists "
        "before any output, and the twist takes only word 0's top bit ((u & 0x80000000) | "
        "(v & 0x7fffffff)) before overwriting it"
    ),
    ("initconv/_inference/roles.py", 529, "<=", "<"): _BUDGET,
    ("initconv/testing/_laws.py", 243, "//", "%"): (
        "lo = hi % 2 is 1 when hi = 1 (where the loop does not run: hi is returned) and 0 "
        "otherwise; the bisection's first midpoint is then hi // 2, which the doubling already "
        "found not enough (a deterministic function), so lo becomes hi // 2, the original's start: "
        "one evaluation more, the same n (132 inputs: 3 laws, 5 detectable errors, 2 alphas, 4 "
        "powers, 4 ratio sets, identical)"
    ),
    ("initconv/testing/_laws.py", 281, "2", "3"): (
        "another upper bracket (2, 6, 18, ... in place of 2, 4, 8, ..., both capped at 1e12) for "
        "the same bisection of a monotone power: the results differ only within the bisection's "
        "stopping width 1e-9 * high (180 inputs: n from 1 to 1e6, 3 laws, 2 alphas, 3 powers; "
        "at most 8.1e-10 (1 + delta) apart, every inf the same)"
    ),
    ("initconv/testing/_checks.py", 89, "3", "4"): (
        "_convolutions(4, True) builds the same shapes as _convolutions(3, True): its small size "
        "is 2 for any d >= 3 and its kernels slice 3-tuples, so sides[:4] == sides[:3]; the layer "
        "kind is the dict's key, not d (_convolutions(3, t) == _convolutions(4, t) for both t)"
    ),
    ("initconv/_maths/quadrature.py", 45, "64", "65"): (
        "only guards the loop: panels start at most 0.25 wide (breakpoints only narrow them) and "
        "halve each round, so by round 38 every unconverged panel is at most 0.25 / 2^38 = 9.1e-13 "
        "< _MIN_WIDTH and accepted, and the loop returns: its 'did not converge' raise is never "
        "reached (18 integrands with jumps, kinks and singularities at 6 places: at most 39 rounds)"
    ),
    ("initconv/_maths/orthogonality.py", 158, "<=", "<"): (
        "a product of exactly 2^15 multiplications goes to the BLAS instead of a broadcast sum; "
        "its pieces are integers whose partial sums are all exact, so both give the same value "
        "(bit-identical, zero signs included: 78 haar_orthogonal draws, 13 shapes, both "
        "precisions, 108 ties; 80 products of exactly 2^15 multiplications, 360 ties)"
    ),
    ("initconv/_maths/orthogonality.py", 259, "0", "1"): (
        "upper is always square: n x n from the Gram factor, and the recursion takes "
        "upper[half:, half:] and upper[:half, :half], so shape[0] == shape[1] (184 calls over 10 "
        "shapes from 1 x 1 to 200 x 150, all square; 40 draws bit-identical)"
    ),
    ("initconv/_meanfield/variance_map.py", 221, "<=", "<"): (
        "|slope - 1| = fl(1e-6) needs slope in [0.5, 2], where slope - 1 is exact (Sterbenz) and a "
        "multiple of 2^-53, and fl(1e-6) is not (2^53 fl(1e-6) has denominator 2^19): no slope "
        "ties with the tolerance"
    ),
    ("initconv/_meanfield/correlation_map.py", 177, ">", ">=", 36): (
        "differs only where grid[0] == sigma_b2 > 0, and there values[0] = log((sigma_w2 m + "
        "sigma_b2) / sigma_b2) >= 0 (m = E[phi^2] >= 0; rounding is monotone), so the loop's "
        "values[0] < 0 is False either way (80 correlation_map results bit-identical: 5 "
        "activations x sigma_w 0, 0.5, 1, 1.5 x sigma_b 2^-13, 2^-12, 2^-20, 2^-30)"
    ),
    ("initconv/_meanfield/correlation_map.py", 240, "<=", "<"): (
        "|off| = fl(0.01) needs x = sigma_w2 s / chi_1 near 1.01 or 0.99, where x - 1 is exact "
        "(Sterbenz) and a multiple of 2^-53, and fl(0.01) is not (2^53 fl(0.01) has denominator "
        "64); a NaN gives not-False either way"
    ),
    ("initconv/_meanfield/correlation_map.py", 387, "<", "<="): (
        "reached only where |chi_1 - 1| > 1e-9, so chi_1 != 1, and a NaN chi_1 compares False "
        "under both: the same phase"
    ),
    ("initconv/_meanfield/slopes.py", 29, "100", "101"): (
        "the one-sided slopes are taken at +-2^-101 instead of +-2^-100: phi'' moves them by "
        "|phi''| 2^-101, below float64's resolution of phi' unless phi' changes by a factor 2 "
        "within ~1e-15 of 0 (finer than the jump probe's finest cut); one_sided_slopes "
        "bit-identical for 39 activations (the 24 built-ins, float32 and bfloat16 ones, "
        "tanh(1e6 x), tanh(1e12 x), softplus(1e12 x) / 1e12)"
    ),
    ("initconv/_meanfield/slopes.py", 52, "512", "513"): (
        "a cap on the narrow features put on the quadrature's panel edges: reached only with more "
        "than 512 runs on the scan, where the mutant adds the next steepest's two edges (two "
        "panels more); E[phi'^2] at 5 q within 2e-14 relative for tanh + 1e-3 sin(300 x), "
        "tanh + 1e-4 sin(1000 x) and 513 or 600 erf bumps 1e-3 wide, and the same values and "
        "refusals for bumps 1e-5 wide"
    ),
    ("initconv/_meanfield/slopes.py", 223, ">", ">="): (
        "with exactly 1,024 unsettled intervals the cap keeps the top 1,024 of a vector that is "
        "-inf everywhere else and at least the floor (or inf, or NaN, which topk ranks first) on "
        "them: the same mask (1,000 random masks of 1,024 among 1,024 to 65,536 intervals, with "
        "ties, infs and NaNs: all unchanged)"
    ),
    ("initconv/_meanfield/line_end.py", 47, "100", "101"): (
        "the Taylor coefficients are taken at +-2^-101: they differ only in a_0 = phi(+-side), "
        "which no sum uses, and in even coefficients of odd activations at rounding noise "
        "(~1e-31), which the series drops; the series bit-identical for 38 of 39 activations (the "
        "other, tanh(1e12 x), refused by both) and 2,280 roots identical (60 biases from 1e-5 to "
        "1e-300)"
    ),
    ("initconv/_meanfield/line_end.py", 192, ">", ">="): (
        "differs only where the series' G at 2^-24 and the quadrature's E[phi'^2] there are both "
        "exactly 0.0; critical() asks only where G(0), the mean squared one-sided slope, is > 0, "
        "so that needs an exact cancellation of the series' terms (G(2^-24) >= 0.0625 for the 37 "
        "activations with a series and a slope at 0)"
    ),
    ("initconv/_meanfield/critical_line.py", 361, "<", "<="): (
        "differs only where the series' M'(q*) - 1 is exactly the double 5e-7, a tie; there "
        "M'(q*) = 1.0000005 already prints as 1.000001, and the mutant adds '(1 + 5e-07)', the "
        "same fact in other words"
    ),
    ("initconv/_meanfield/gaussian.py", 65, "7", "8"): (
        "the probe's rounding is read from the ninth largest change instead of the eighth: rounding "
        "moves f at every probe point, so the two differ only where f has a kink on exactly eight "
        "of them, one past the documented seven (there the mutant is exact where the original is "
        "3.3e-6 off, as documented); 2,729 one-dimensional moments (22 activations, float32, "
        "kinked and cancelling user functions among them, 21 q from 2^-24 to 2^66) and 138 "
        "critical, variance_map and correlation_map results bit-identical"
    ),
    ("initconv/_meanfield/gaussian.py", 299, "1e-6", "1.000001"): (
        "the first pass only sets the second pass's tolerance, through its square root: over 828 "
        "first passes (18 activations, 23 q from 2^-24 to 2^20) it moved by at most 3.8e-4 and the "
        "second tolerance by 1.9e-4; 2,729 moments (330 line deficits among them) and 138 public "
        "results bit-identical"
    ),
    ("initconv/_meanfield/gaussian.py", 322, ">", ">="): (
        "q = 1.0 is where the two forms of dE[phi^2]/dq meet: the mutant's value at q = 1 is the "
        "original's at the next float above 1 to 2.9e-16 (19 activations) and the original's at 1 "
        "to 4.9e-15 (1.3e-11 for 1000 + tanh, within the 1e-12 of f's size promised); public maps "
        "134 of 138 bit-identical, the rest within 2.2e-16"
    ),
    ("initconv/_meanfield/gaussian.py", 356, "2", "3"): (
        "only the path of the modified regula falsi changes, not its stopping tests (|b - a| < "
        "x_tol, |fc| < f_tol): over 89 root searches (critical, line_end, c*) all stopped on a "
        "tolerance, within their evaluation budget, the roots at most 0.59 x_tol apart; public "
        "results 91 of 138 bit-identical, the rest within 3.6e-12 relative"
    ),
    ("initconv/_meanfield/gaussian.py", 408, "+", "-"): (
        "mid - half * nodes reflects each panel's Gauss-Legendre rule, whose nodes are "
        "antisymmetric to 3.9e-16 and weights symmetric to 1.0e-15: 1,260 cross, slope-cross and "
        "grid moments (14 activations, 6 q, 6 c) within 3.2e-15 relative (odd means of 0 within "
        "3.3e-17), 138 public results within 3.0e-14 relative"
    ),
    ("initconv/testing/_laws.py", 277, "2.0", "3.0"): (
        "another first bracket (3 in place of 2, doubled up to the same 1e-12 cap) for the same "
        "bisection of a monotone power: the results differ only within its stopping width "
        "1e-9 * high (192 inputs: 3 laws, n from 1 to 1e6, 2 alphas, 4 powers; 69 differ, by at "
        "most 7.7e-10 (1 + delta); every inf the same)"
    ),
    ("initconv/_inference/elementwise.py", 464, "1", "2"): (
        "the pole check's grid starts with two zeros instead of one: phi is elementwise (checked "
        "before), so the same values, and a non-finite one is reported at the same z"
    ),
    ("initconv/_inference/elementwise.py", 465, "8.0", "9.0"): (
        "the pole check's grid is only a fast pre-check: moved to [-9, 8] or [-8, 9] it hits "
        "other exact poles, and derived_gain refuses every phi that is not finite at a quadrature "
        "point or whose integral does not converge (relu(1 / (x - c)) at c = 0.5, 0.123, -8.5: "
        "all refused), so a pole is refused either way, with other wording"
    ),
    ("initconv/testing/_checks.py", 86, "3", "4"): (
        "_convolutions(4, False) builds the same shapes as _convolutions(3, False): its small "
        "size is 2 for any d >= 3 and its kernels slice 3-tuples, so sides[:4] == sides[:3]; the "
        "layer kind is the dict's key, not d"
    ),
    ("initconv/_maths/sampling.py", 55, "16", "17"): (
        "pieces of 2^17 instead of 2^16 values: every piece is still a multiple of 16 and the last "
        "at least 16 long, so torch's CPU normal_ uses the same uniforms in the same order; "
        "bit-identical values and generator states, equal to one normal_ call, for the plain and "
        "truncated normal in all four float dtypes at 17 sizes from 2^16 - 1 to 1,000,003 (68 "
        "cases): only the cache footprint changes"
    ),
    ("initconv/_maths/orthogonality.py", 108, "2", "3"): (
        "starting the piece search at 3 gives the same plan as a least of 3 at line 111 (checked "
        "for every inner size up to 2e6 at 24 and 53 bits): at 53 bits the original plan, at "
        "float32's 24 bits one more piece, each product still exact, so draws stay thread-count "
        "independent and more precise than asked (orthogonal_ at 9 shapes: float64 bit-identical; "
        "24 of 70,844 float32 entries move by <= 8 ulp, all then equal to the float64 draw rounded)"
    ),
    ("initconv/_meanfield/variance_map.py", 101, "<", "<="): (
        "differs only at |value| == 1e6 exactly, printed '1e+06' instead of '1000000.0000': the "
        "same number exactly, read back as the same float; fixed() and squared() give the same "
        "strings (md5) over 40,000 values from 1e-5 to 1e8, the floats next to 1e6, 1e-3 and "
        "1000, and their negatives"
    ),
    ("initconv/_meanfield/critical_line.py", 199, "8", "9", 59): (
        "moves the small-q probe of the homogeneity check from 2^-8 to 2^-9: verdicts differ only "
        "for an activation whose relative line deficit is below the check's 1e-9 at 2^-8 but not "
        "at 2^-9 (a feature ~1e-10 of the input scale: softshrink with lambda in (5.5e-11, "
        "7.8e-11)), where the mutant's full solve is the exact answer (q* = (sigma_b^2 / (lambda "
        "sqrt(2/pi)))^2) and the original's 'homogeneous' the approximation; critical() gave "
        "the same output for 20 activations x 4 biases (0, 1e-6, 0.05, 1), all but "
        "softshrink(6.5e-11)"
    ),
    ("initconv/_meanfield/correlation_map.py", 183, "0", "1", 22): (
        "without a bias the grid goes down to 2^-40 while the excess at its bottom is below 1 "
        "rather than below 0: a root it then finds lies below the original grid's bottom, which "
        "is at most q0 (1 - 1e-9), under a root the original already brackets where the signal "
        "fades (start < 0 takes the largest root below q0) and never among the roots above q0 a "
        "growing signal takes; _settled gave the same q* for 10 activations x 7 sigma_w^2 x 7 q0 "
        "from 1e-12 to 1e6 without bias (490 cases)"
    ),
    ("initconv/_meanfield/correlation_map.py", 257, "16", "17"): (
        "the bracket top's safety factor: a warned NaN instead of c* only where c* lies between 16 "
        "and 17 |miss| / (chi_1 - 1) from 1, within the warning's stated distance either way; "
        "elsewhere c* agrees to the solver's 1e-12 (12 relu6/hardtanh cases near the critical "
        "line, NaN in the same places, chi_c bit-identical)"
    ),
    ("initconv/_meanfield/correlation_map.py", 261, "<=", "<"): (
        "differs only where depth = max(1e-6, 16 |miss| / (chi_1 - 1)) is the float 1e-3 exactly, "
        "a tie of a ratio of grid errors that no case reaches but by tuning sigma_w to its last "
        "bit; there the original returns b = 1 - 1e-3 and the mutant a warned NaN, both at the "
        "edge of the 1e-3 accuracy stated beside a kink away from 0"
    ),
    ("initconv/_meanfield/correlation_map.py", 355, "1", "2"): (
        "phi is evaluated at zeros(2) instead of zeros(1) and element 0 is taken: the same value "
        "for any elementwise phi, the documented contract for activations; 124 correlation_map "
        "results bit-identical (20 built-ins x sigma_w 0, 0.5, 1 x sigma_b 0, 0.2, 49 of them "
        "with q* = 0, plus two user functions)"
    ),
    ("initconv/_meanfield/correlation_map.py", 384, "<=", "<"): (
        "abs(chi_1 - 1) is exact (Sterbenz) and a multiple of 2^-53 near 1, and fl(1e-9) is not "
        "(2^53 fl(1e-9) has denominator 2^29): no chi_1 gives equality; every one of the 3e7 "
        "doubles within 2.2e-9 of 1 compares the same under both; NaN is False under both"
    ),
    ("initconv/_meanfield/slopes.py", 48, "16", "17"): (
        "a scan for narrow features of phi' twice as fine: every interval the original flags "
        "holds a flagged half (its two halves' changes sum to its own, against half the "
        "threshold, from a local size no larger), so the mutant puts at least the original's "
        "features on the panels' edges and also sees some narrower than 2.4e-4, which the "
        "docstring says can be missed; correlation_map's q*, chi_1, c*, chi_c within 1.1e-13 "
        "relative for 7 activations (kinks away from 0, a tent 2e-3 wide) x 3 (sigma_w, sigma_b)"
    ),
    ("initconv/_inference/rule.py", 569, ">=", ">"): _BUDGET,
    ("initconv/_meanfield/variance_map.py", 101, "<=", "<"): (
        "differs only at |value| == 1e-3 exactly, printed '0.001' instead of '0.0010' "
        "('0.001000' at six decimals): the same number exactly, read back as the same float; "
        "fixed() at 4 and 6 decimals and squared() (6 decimals and None) give the same strings "
        "over 80,118 values (1e-5 to 1e8, the floats next to 1e-3, 1e6, 1000, sqrt(1e-3) and "
        "sqrt(1e6), 0, inf, and their negatives), except those four at +-0.001"
    ),
    ("initconv/_maths/orthogonality.py", 41, "1", "2"): (
        "gram is a batch of square matrices (W W^T, rows x rows, or W^T W, cols x cols), so "
        "gram.shape[2] == gram.shape[1]: the same identity; assert_orthogonal_blocks gives the "
        "same outcome and message on 576 cases (1 and 3 groups, 16 shapes in both orientations, "
        "float64/float32/bfloat16, gains 1 and 0.5, orthogonal, 1% off and random blocks)"
    ),
    ("initconv/_maths/orthogonality.py", 111, "3", "4", 51): (
        "ceil((precision + 4) / bits) exceeds ceil((precision + 3) / bits) only where bits "
        "divides precision + 3: at 53 bits for inner sizes 2,097,153 to 8,388,608 (plan (14, 4) "
        "-> (14, 5)), at 24 bits only above 2.8e9; one more piece with every product still exact "
        "(2 bits + ceil(log2(pieces inner)) <= 53 checked for all plans), so the draws stay "
        "thread-count independent and more precise than asked: reproducible_matmul at inner "
        "2,097,153 and 4,000,000 goes from 1 ulp off the exact dot to exact, bit-identical at 1 "
        "and 2 threads; haar_orthogonal(2097153, 2) moves by <= 1.5e-16, with the same "
        "orthogonality error 8.9e-16 and bit-identical float32 weights"
    ),
    ("initconv/_maths/orthogonality.py", 332, "1.0", "2.0"): (
        "reached only for a drawn column that is zero from the diagonal down (probability 0): "
        "its v_j is 0, so row j of V^T and of striu(V^T V) are exact zeros, the j-th unknown of "
        "the triangular solve is 0 / U_jj, and U_jj is used nowhere else: 0/1 and 0/2 are the "
        "same zero; the weights are bit-identical, zero signs included, at 8 shapes (3x2 to "
        "100x65, both orientations, past the solve's 32 block) x 3 seeds x both precisions, with "
        "columns zeroed"
    ),
    ("initconv/_inference/elementwise.py", 469, "1", "2"): (
        "the mask for a phi whose output is not a tensor is all False whatever its size, so no "
        "refusal either way (its size only places the refusal's z, which needs a True): "
        "_check_finite of lambda x: 3.0 and of lambda x: nan returns in both"
    ),
    ("initconv/_meanfield/critical_line.py", 127, ">", ">="): (
        "sigma_w2 is called only at a homogeneous line's q = 1 (its deficit is finite, so it is "
        "resolved) and at roots of a run of resolved grid points; resolved(q) needs G(q) > 1e-9 "
        "max(..., G(q)) >= 0, and a root above a resolved grid point p has G(q) >= G(p) sqrt(p/q) "
        "> 0, so G == 0.0 (where the mutant divides by zero instead of giving inf) is never "
        "reached: over 33 activations x 11 biases (0 to 40, 363 solves) its 222 calls saw G >= "
        "3.4e-9"
    ),
    ("initconv/_meanfield/critical_line.py", 199, "8", "9", 72): (
        "moves the large-q probe of the homogeneity check from 2^8 to 2^9: verdicts differ only "
        "for an activation whose relative line deficit is below 1e-9 at 2^8 but not at 2^9 (a "
        "feature at |x| ~ 100: relu capped at 100 or 110), where the mutant's full solve is the "
        "exact answer (cap 100, sigma_b = 1: q* = 954.6017, sigma_w = 1.4150697, M' = 0.98627, "
        "as mpmath gives) and the original's 'homogeneous to within 1e-9' the approximation, as "
        "for the small-q probe: the mutant is better at that edge, and only a change-detector "
        "could kill it; critical() gave the same output for 33 activations x 11 biases (0 to 40) "
        "but those two caps"
    ),
    ("initconv/_meanfield/line_end.py", 92, ">", ">="): (
        "differs only where rest or G(q) is exactly 0.0 (the mutant takes log(0.0), a "
        "ValueError, instead of -inf); root() is reached only with a positive leading deficit "
        "coefficient and G(0) > 0, at q <= 2^-24 where the other terms are O(q^0.5) relative: "
        "6903 evaluations over 33 activations x 11 biases down to 1e-300 had rest >= 0.99999997 "
        "of the leading coefficient and G >= 0.99999998 G(0), never 0.0"
    ),
    ("initconv/_meanfield/correlation_map.py", 172, "2.0", "3.0"): (
        "the downward grid's step between 2^-24 and q0: both grids end at q0 (1 - 1e-9) and go "
        "below it the same way, so only the points in between differ; a single root there is "
        "bracketed by either and refined by root_log (_settled over 13 activations x 9 sigma_w^2 "
        "x 4 sigma_b^2 x 8 q0 from 2^-68 to 2^-25, 3744 cases: 3575 bit-identical, none differing "
        "in kind (0, inf, a finite root, a refusal); a finite q* moves by at most 1e-14 relative "
        "where the excess has a slope, and more only where log(M(q)/q) is flat within the "
        "moments' 1e-12 (sigma_w^2 within 1e-6 of 1, or q* below 2^-40), where both are equally "
        "off the closed form (tanh at sigma_w = 1, sigma_b^2 = 1e-18: exact 7.0710678e-10, "
        "+1.1e-7 vs +1.2e-7)"
    ),
}


def equivalence(site: Site) -> str | None:
    """The argument that ``site``'s mutant is equivalent: its entry keyed with its column (where
    a line holds the same operator twice and only one is equivalent), or else without."""
    key = (site.path, site.line, site.old, site.new)
    return EQUIVALENT.get((*key, site.column), EQUIVALENT.get(key))


# a mutant still running after TIMEOUT_FACTOR times its tests' unmutated time (and at least
# TIMEOUT_FLOOR s, for a loaded machine) is stopped and counted killed (timeout): a loop it made
# endless, say
TIMEOUT_FACTOR, TIMEOUT_FLOOR = 10.0, 300.0
COMPARE = {ast.Lt: "<=", ast.LtE: "<", ast.Gt: ">=", ast.GtE: ">", ast.Eq: "!=", ast.NotEq: "=="}
ARITH = {ast.Add: "-", ast.Sub: "+", ast.Mult: "/", ast.Div: "*", ast.FloorDiv: "%",
         ast.Mod: "//", ast.Pow: "*"}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Site:
    path: str
    line: int
    start: int  # character offset into the file
    end: int
    old: str
    new: str
    column: int = 0  # of the mutated text on its line, in bytes, counted from 0


def _offsets(text: str) -> list[int]:
    starts, total = [], 0
    for line in text.splitlines(keepends=True):
        starts.append(total)
        total += len(line.encode("utf-8"))
    return starts


def _skipped(tree: ast.AST) -> set[int]:
    """ids of nodes inside docstrings and annotations."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        annotations = []
        if isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
        if isinstance(node, ast.arg) and node.annotation is not None:
            annotations.append(node.annotation)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns is not None:
            annotations.append(node.returns)
        for annotation in annotations:
            skip.update(id(n) for n in ast.walk(annotation))
    return skip


def sites(path: str) -> list[Site]:
    """Every mutation site of ``path`` (relative to the repository), in source order."""
    text = (mutation.ROOT / path).read_text(encoding="utf-8")
    data = text.encode("utf-8")
    tree = ast.parse(text)
    starts, skip = _offsets(text), _skipped(tree)
    found: list[Site] = []

    def span(node: ast.AST) -> tuple[int, int]:
        return (starts[node.lineno - 1] + node.col_offset,  # type: ignore[attr-defined]
                starts[node.end_lineno - 1] + node.end_col_offset)  # type: ignore[attr-defined]  # fmt: skip

    def operator(left: ast.AST, right: ast.AST, symbol: str, new: str, line: int) -> None:
        # the operator lies between the two operands' spans
        a, b = span(left)[1], span(right)[0]
        gap = data[a:b].decode("utf-8")
        index = gap.find(symbol)
        if index >= 0:
            start = a + index
            found.append(Site(path, line, start, start + len(symbol), symbol, new,
                              start - starts[line - 1]))  # fmt: skip

    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        # bool is an int subclass, but True + 1 is no mutant of a flag
        if (isinstance(node, ast.Constant) and isinstance(node.value, (int, float))
                and not isinstance(node.value, bool)):  # fmt: skip
            new = repr(node.value + 1)
            s, e = span(node)
            found.append(Site(path, node.lineno, s, e, data[s:e].decode("utf-8"), new,
                              s - starts[node.lineno - 1]))  # fmt: skip
        elif isinstance(node, ast.Compare):
            left = node.left
            for op, right in zip(node.ops, node.comparators, strict=True):
                symbol = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==",
                          ast.NotEq: "!="}.get(type(op))  # fmt: skip
                if symbol is not None:
                    operator(left, right, symbol, COMPARE[type(op)], node.lineno)
                left = right
        elif isinstance(node, ast.BinOp) and type(node.op) in ARITH:
            symbol = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
                      ast.Mod: "%", ast.Pow: "**"}[type(node.op)]  # fmt: skip
            operator(node.left, node.right, symbol, ARITH[type(node.op)], node.lineno)
    # docstrings are Constant str, never numeric: nothing to skip there
    return sorted(found, key=lambda site: site.start)


def clopper_pearson_lower(killed: int, scored: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson lower bound on the kill probability, from ``killed`` of ``scored``.

    The bound p_L solves P(X >= k | n, p_L) = 1 - confidence for X ~ Binomial(n, p_L), k = killed,
    n = scored; equivalently p_L = Beta.ppf(1 - confidence; k, n - k + 1) (scipy.stats.beta), and
    p_L = 0 when k = 0. With no survivor, p_L = (1 - confidence)^(1/n): 60 of 60 gives
    0.05^(1/60) = 0.9513. The tail sum is increasing in p, so bisection finds p_L to 1e-12.
    Sampling sites without replacement from a finite set makes the binomial bound conservative.
    """
    if not 0 <= killed <= scored or scored == 0:
        raise ValueError(f"need 0 <= killed <= scored and scored > 0, got {killed!r} of {scored!r}")
    if killed == 0:
        return 0.0
    alpha = 1.0 - confidence

    def upper_tail(p: float) -> float:
        return sum(
            math.comb(scored, i) * p**i * (1.0 - p) ** (scored - i)
            for i in range(killed, scored + 1)
        )

    low, high = 0.0, 1.0
    while high - low > 1e-12:
        middle = (low + high) / 2
        low, high = (middle, high) if upper_tail(middle) < alpha else (low, middle)
    return (low + high) / 2


def choose(
    modules: list[str] | None, limit: int | None = None, sample: int | None = None, seed: int = 0
) -> tuple[list[Site], dict[str, int]]:
    """The sites to run and, per module, how many are left unrun.

    ``limit``: the first ``limit`` sites of each module. ``sample``: a uniform random sample
    without replacement of ``sample`` sites across all the chosen modules' sites, drawn by
    ``random.Random(seed)`` (the same seed, modules and code give the same sites). Neither: every
    site. The result is in module order, then source order, whatever the draw order.
    """  # fmt: skip
    chosen = modules or list(MODULES)
    unknown = [path for path in chosen if path not in MODULES]
    if unknown:
        raise ValueError(f"modules must be among {tuple(MODULES)}, got {unknown[0]!r}")
    if limit is not None and sample is not None:
        raise ValueError(f"give limit or sample, not both: got limit={limit!r}, sample={sample!r}")
    every = {path: sites(path) for path in chosen}
    if sample is not None:
        pool = [site for path in chosen for site in every[path]]
        if not 0 < sample <= len(pool):
            raise ValueError(f"sample must be in 1..{len(pool)} (the sites), got {sample!r}")
        drawn = set(random.Random(seed).sample(range(len(pool)), sample))
        picked = [site for index, site in enumerate(pool) if index in drawn]
    else:
        picked = [
            site for path in chosen for site in (every[path][:limit] if limit else every[path])
        ]
    unrun = {path: len(every[path]) - sum(s.path == path for s in picked) for path in chosen}
    return picked, unrun


def _status(code: int) -> str:
    # 1: a test failed; 2-4: collection, internal or conftest error (a mutant that breaks the
    # import stops pytest before any test runs); 5: no test ran, which means the tests are wrong
    if code == 0:
        return "survived"
    if code == 1:
        return "killed"
    if code in (2, 3, 4):
        return "killed (collection)"
    if code == -2:
        return "killed (timeout)"
    return "error"


def _pytest(scratch: Path, tests: tuple[str, ...], timeout: float) -> tuple[int, str, float, float]:
    """Run ``tests`` in ``scratch``: pytest's exit code, its output, wall and CPU seconds.

    ``mutation._pytest`` without its import check (done once per scratch copy instead), and with
    the CPU time of pytest and everything it waited for (``os.wait4``): a machine shared with
    other work stretches the wall time, much less the CPU time. A run past ``timeout`` is killed
    with its whole process group, fresh-process tests included.
    """
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=scratch, env=mutation._environment(), stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                code = os.waitstatus_to_exitcode(status)
                break
            if time.perf_counter() - started > timeout:
                os.killpg(process.pid, signal.SIGKILL)
                _, _, usage = os.wait4(process.pid, 0)
                code = -2
                break
            time.sleep(0.1)
        process.returncode = code  # reaped here, not by Popen
        log.seek(0)
        output = log.read().decode("utf-8", errors="replace")
    if code == -2:
        output += f"\ntimed out after {timeout:.0f} s"
    return code, output, time.perf_counter() - started, usage.ru_utime + usage.ru_stime


class _Copies:
    """``workers`` scratch copies of the repository, each lent to one mutant at a time."""

    def __init__(self, workers: int) -> None:
        self.free: queue.Queue[Path] = queue.Queue()
        self.all: list[Path] = []
        for _ in range(workers):
            scratch = mutation._scratch(None)
            self.all.append(scratch)
            self.free.put(scratch)
            where = subprocess.run(
                [sys.executable, "-c", "import initconv; print(initconv.__file__)"],
                cwd=scratch, env=mutation._environment(), capture_output=True, text=True,
                check=False,
            )  # fmt: skip
            if not where.stdout.strip().startswith(str(scratch)):
                self.close()
                raise RuntimeError(f"initconv did not import from the copy: {where.stdout}"
                                   f"{where.stderr}")  # fmt: skip

    def close(self) -> None:
        for scratch in self.all:
            shutil.rmtree(scratch, ignore_errors=True)


def _run_in(
    copies: _Copies, site: Site | None, tests: tuple[str, ...], timeout: float
) -> tuple[int, str, float, float]:
    """Plant ``site`` (None: nothing) in a free copy, run ``tests``, put the file back."""
    scratch = copies.free.get()
    target = scratch / site.path if site else None
    original = target.read_bytes() if target else b""
    try:
        if target and site:
            target.write_bytes(original[: site.start] + site.new.encode() + original[site.end :])
        return _pytest(scratch, tests, timeout)
    finally:
        if target:
            target.write_bytes(original)
        copies.free.put(scratch)


def _row(site: Site, code: int, output: str, seconds: float, cpu: float) -> dict[str, Any]:
    status = _status(code)
    killer, _ = mutation._first_failure(output) if status.startswith("killed") else ("", "")
    argument = equivalence(site)
    return {**dataclasses.asdict(site), "status": status, "killed_by": killer,
            "equivalent": argument, "seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1),
            "output": output[-2000:] if status == "error" else ""}  # fmt: skip


def _run_sites(
    sites: list[Site], workers: int
) -> tuple[list[dict[str, Any]], dict[str, dict[str, float]]]:
    """Each of ``sites``' mutants alone in one of ``workers`` scratch copies, in order: their rows,
    and each test set's unmutated time (which must pass first and sets the mutants' timeouts)."""
    test_sets = list(dict.fromkeys(MODULES[site.path] for site in sites))
    copies = _Copies(min(workers, max(1, len(sites))))
    try:
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            baselines = list(
                pool.map(lambda t: _run_in(copies, None, t, mutation.TIMEOUT), test_sets)
            )
            for tests, (code, output, _, _) in zip(test_sets, baselines, strict=True):
                if code != 0:
                    raise RuntimeError(f"the unmutated copy fails {tests} (exit {code}):\n"
                                       f"{output[-3000:]}")  # fmt: skip
            limits = {tests: max(TIMEOUT_FLOOR, TIMEOUT_FACTOR * seconds)
                      for tests, (_, _, seconds, _) in zip(test_sets, baselines, strict=True)}  # fmt: skip
            done = 0
            lock = threading.Lock()

            def one(site: Site) -> dict[str, Any]:
                nonlocal done
                tests = MODULES[site.path]
                row = _row(site, *_run_in(copies, site, tests, limits[tests]))
                with lock:
                    done += 1
                    print(f"[{done}/{len(sites)}] {site.path}:{site.line} {site.old} -> "
                          f"{site.new}: {row['status']} ({row['seconds']} s, "
                          f"{row['cpu_seconds']} s CPU)", flush=True)  # fmt: skip
                return row

            rows = list(pool.map(one, sites))
    finally:
        copies.close()
    baseline = {" ".join(t): {"seconds": round(b[2], 1), "cpu_seconds": round(b[3], 1)}
                for t, b in zip(test_sets, baselines, strict=True)}  # fmt: skip
    return rows, baseline


def run(
    modules: list[str] | None,
    limit: int | None,
    sample: int | None = None,
    seed: int = 0,
    workers: int = 2,
) -> tuple[dict[str, Any], str]:
    """Run the chosen mutants in ``workers`` scratch copies; the data and the markdown report.

    Each mutant runs alone in a copy whose mutated file is put back byte for byte afterwards, and
    the Hypothesis ``ci`` profile is derandomized with no example database, so a mutant's result
    does not depend on which copy ran it, nor after which mutant: the report is the serial one.
    Before any mutant, the unmutated copy runs each module's tests once; they must pass, and a
    mutant taking over ``TIMEOUT_FACTOR`` times that baseline (at least ``TIMEOUT_FLOOR`` s) is
    stopped and counted killed (timeout).
    """  # fmt: skip
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    chosen = modules or list(MODULES)
    picked, unrun = choose(chosen, limit, sample, seed)
    rows, baseline = _run_sites(picked, workers)
    return _report(chosen, rows, unrun, baseline, sample, seed, workers)


def _counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    killed = sum(r["status"].startswith("killed") for r in rows)
    equivalent = sum(r["status"] == "survived" and r["equivalent"] is not None for r in rows)
    errors = sum(r["status"] == "error" for r in rows)
    return {"run": len(rows), "killed": killed, "survived": len(rows) - killed - equivalent - errors,
            "equivalent": equivalent, "errors": errors}  # fmt: skip


def _report(
    chosen: list[str],
    rows: list[dict[str, Any]],
    unrun: dict[str, int],
    baseline: dict[str, dict[str, float]],
    sample: int | None,
    seed: int,
    workers: int,
) -> tuple[dict[str, Any], str]:
    by_module = {path: _counts([r for r in rows if r["path"] == path]) for path in chosen}
    total = _counts(rows)
    scored = total["killed"] + total["survived"]
    ratio = total["killed"] / scored if scored else float("nan")
    bound = clopper_pearson_lower(total["killed"], scored) if scored else float("nan")
    how = (f"a uniform random sample of {sample} sites (seed {seed})" if sample is not None
           else "every site" + (" up to --limit per module" if any(unrun.values()) else ""))  # fmt: skip
    wall = sum(r["seconds"] for r in rows)
    cpu = sum(r["cpu_seconds"] for r in rows)
    lines = [
        f"Mutants: {how}, {workers} worker(s). Killed **{total['killed']} / {scored}** "
        f"non-equivalent mutants = {ratio:.3f}; one-sided 95% Clopper-Pearson lower bound "
        f"{bound:.4f}. {total['equivalent']} argued equivalent (excluded), {total['errors']} "
        "errors (excluded).",
        "",
        f"Per mutant: {wall / max(1, len(rows)):.1f} s wall, {cpu / max(1, len(rows)):.1f} s CPU "
        "(pytest and its children), on average.",
        "",
        "| module | sites | mutants run | killed | survived | equivalent | kill ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for path in chosen:
        c = by_module[path]
        mine = c["killed"] + c["survived"]
        share = f"{c['killed'] / mine:.3f}" if mine else "-"
        lines.append(f"| {path} | {c['run'] + unrun[path]} | {c['run']} | {c['killed']} | "
                     f"{c['survived']} | {c['equivalent']} | {share} |")  # fmt: skip
    survivors = [r for r in rows if r["status"] == "survived" and r["equivalent"] is None]
    lines += ["", f"Survivors ({len(survivors)}):", ""]
    lines += [f"- {r['path']}:{r['line']} `{r['old']}` -> `{r['new']}`" for r in survivors]
    equivalent = [r for r in rows if r["status"] == "survived" and r["equivalent"] is not None]
    if equivalent:
        lines += ["", "Argued equivalent (excluded from the ratio):", ""]
        lines += [f"- {r['path']}:{r['line']} `{r['old']}` -> `{r['new']}`: {r['equivalent']}"
                  for r in equivalent]  # fmt: skip
    contradicted = [r for r in rows if r["status"] != "survived" and r["equivalent"] is not None]
    if contradicted:
        lines += [
            "",
            "Listed as equivalent but killed (the argument is wrong; counted killed):",
            "",
        ]
        lines += [f"- {r['path']}:{r['line']} `{r['old']}` -> `{r['new']}` by {r['killed_by']}"
                  for r in contradicted]  # fmt: skip
    errors = [r for r in rows if r["status"] == "error"]
    if errors:
        lines += ["", "Errors (no test ran; fix MODULES):", ""]
        lines += [f"- {r['path']}:{r['line']} `{r['old']}` -> `{r['new']}`" for r in errors]
    data = {"mutants": rows, "not_run": unrun, "by_module": by_module, "killed": total["killed"],
            "non_equivalent": scored, "ratio": ratio, "lower_bound_95": bound,
            "sample": sample, "seed": seed, "workers": workers, "baseline_seconds": baseline,
            "hypothesis_profile": "ci"}  # fmt: skip
    return data, "\n".join(lines)


# --- Survivors run again -----------------------------------------------------------------------


def _text_at(commit: str, path: str) -> str:
    return subprocess.run(["git", "show", f"{commit}:{path}"], cwd=mutation.ROOT,
                          capture_output=True, text=True, check=True).stdout  # fmt: skip


def current_site(row: dict[str, Any], then: str) -> Site | None:
    """The site of the present code that ``row`` names, a mutant of the file whose text was
    ``then``: the same operator or constant at the same column of the one line whose text is
    unchanged, or None where that line changed or is no longer unique (reported as moved)."""
    before = then.splitlines()[row["line"] - 1]
    column = row["start"] - _offsets(then)[row["line"] - 1]
    text = (mutation.ROOT / row["path"]).read_text(encoding="utf-8").splitlines()
    lines = [i + 1 for i, line in enumerate(text) if line == before]
    if len(lines) != 1:
        return None
    for site in sites(row["path"]):
        if (site.line, site.column, site.old, site.new) == (lines[0], column, row["old"],
                                                             row["new"]):  # fmt: skip
            return site
    return None


def rerun_survivors(workers: int = 2) -> tuple[dict[str, Any], str]:
    """Run the last mechanical run's surviving mutants again on the code as it stands.

    Reads ``results/mutation_mechanical.json`` and its commit; each survivor is found again by
    its line's text (``current_site``). A survivor now argued equivalent leaves the ratio, a
    killed one counts killed, and one whose line changed counts as surviving: the ratio is then
    of the same sample, ``(first-pass killed + killed now) / (scored - newly equivalent)``, with
    its one-sided 95% Clopper-Pearson lower bound.
    """
    stored = json.loads((RESULTS / "mutation_mechanical.json").read_text(encoding="utf-8"))
    commit, first = stored["metadata"]["commit"], stored["results"]
    survivors = [r for r in first["mutants"]
                 if r["status"] == "survived" and r["equivalent"] is None]  # fmt: skip
    texts = {path: _text_at(commit, path) for path in {row["path"] for row in survivors}}
    found = [(row, current_site(row, texts[row["path"]])) for row in survivors]
    runnable = [site for _, site in found if site is not None and equivalence(site) is None]
    rows, _ = _run_sites(runnable, workers)
    now = {(r["path"], r["start"]): r for r in rows}
    outcome: list[dict[str, Any]] = []
    for row, site in found:
        was = f"{row['path']}:{row['line']} `{row['old']}` -> `{row['new']}`"
        if site is None:
            outcome.append({"mutant": was, "now": "moved (its line changed): counted surviving"})
        elif equivalence(site) is not None:
            outcome.append({"mutant": was, "now": "equivalent", "argument": equivalence(site)})
        else:
            again = now[(site.path, site.start)]
            outcome.append({"mutant": was, "now": again["status"], "by": again["killed_by"]})
    equivalent = sum(o["now"] == "equivalent" for o in outcome)
    killed_now = sum(o["now"].startswith("killed") for o in outcome)
    errors = sum(o["now"] == "error" for o in outcome)
    scored = first["non_equivalent"] - equivalent - errors
    killed = first["killed"] + killed_now
    ratio, bound = killed / scored, clopper_pearson_lower(killed, scored)
    remaining = [o for o in outcome if o["now"] == "survived" or o["now"].startswith("moved")]
    lines = [
        f"The {len(survivors)} survivors of the mechanical run at {commit} "
        f"({first['killed']} / {first['non_equivalent']} killed = {first['ratio']:.3f}), run "
        f"again on the code as it stands: {killed_now} killed by the new tests, {equivalent} "
        f"argued equivalent, {len(remaining)} left, {errors} errors. The same sample now: "
        f"**{killed} / {scored}** non-equivalent mutants killed = {ratio:.3f}; one-sided 95% "
        f"Clopper-Pearson lower bound {bound:.4f}.",
        "",
        "| mutant (line of the first run) | now | by / why |",
        "|---|---|---|",
    ]
    lines += [f"| {o['mutant']} | {o['now']} | {o.get('by') or o.get('argument', '')} |"
              for o in outcome]  # fmt: skip
    data = {"first_run_commit": commit, "outcome": outcome, "killed": killed,
            "non_equivalent": scored, "ratio": ratio, "lower_bound_95": bound}  # fmt: skip
    return data, "\n".join(lines)
