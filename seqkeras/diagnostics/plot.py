"""Log-scale plots of gradient norm against distance t − k."""

import io

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_curves(curves, path=None, title="", ylabel="‖∂L_t/∂s_{t−d}‖ / ‖∂L_t/∂s_t‖",
                xlabel="distance d = t − k", styles=None):
    """Plot {label: (distances, values)} on a log y-axis; save a PNG to `path`.

    Returns:
        the PNG bytes.
    """
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for label, (distances, values) in curves.items():
        values = np.asarray(values, dtype=float)
        keep = np.isfinite(values) & (values > 0)
        style = (styles or {}).get(label, {})
        axis.plot(np.asarray(distances)[keep], values[keep], label=label, **style)
    axis.set_yscale("log")
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    data = buffer.getvalue()
    if path is not None:
        with open(path, "wb") as handle:
            handle.write(data)
    return data


def plot_gradient_flow(flows, path=None, normalized=True, title="Gradient flow"):
    """One curve per `GradientFlow` in {label: flow}."""
    curves = {label: flow.distance_curve(normalized=normalized) for label, flow in flows.items()}
    ylabel = "‖∂L_t/∂s_{t−d}‖ / ‖∂L_t/∂s_t‖" if normalized else "‖∂L_t/∂s_{t−d}‖"
    return plot_curves(curves, path, title=title, ylabel=ylabel)
