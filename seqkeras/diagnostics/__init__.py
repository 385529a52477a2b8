"""Gradient-flow diagnostics (SPEC §4): exact ‖∂L_t/∂h_k‖, clipping, Pascanu's regulariser."""

from seqkeras.diagnostics.flow import (
    GradientFlow,
    capture_upstream,
    find_recurrent_layers,
    gradient_flow,
    model_gradient_flow,
    step_jacobians,
)

__all__ = [
    "GradientFlow",
    "capture_upstream",
    "find_recurrent_layers",
    "gradient_flow",
    "model_gradient_flow",
    "step_jacobians",
]
