"""Gradient-flow diagnostics (SPEC §4): exact ‖∂L_t/∂h_k‖, clipping, Pascanu's regulariser."""

from seqkeras.diagnostics.callback import GradientFlowCallback
from seqkeras.diagnostics.flow import (
    GradientFlow,
    capture_upstream,
    find_recurrent_layers,
    gradient_flow,
    model_gradient_flow,
    step_jacobians,
)
from seqkeras.diagnostics.plot import plot_curves, plot_gradient_flow
from seqkeras.diagnostics.training import (
    GradientControl,
    clip_gradients,
    pascanu_regularizer,
)

__all__ = [
    "GradientControl",
    "GradientFlow",
    "GradientFlowCallback",
    "clip_gradients",
    "pascanu_regularizer",
    "plot_curves",
    "plot_gradient_flow",
    "capture_upstream",
    "find_recurrent_layers",
    "gradient_flow",
    "model_gradient_flow",
    "step_jacobians",
]
