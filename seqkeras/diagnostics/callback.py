"""`GradientFlowCallback`: measure gradient flow per layer during `fit`."""

import os

import keras
import numpy as np
import tensorflow as tf

from seqkeras.diagnostics.flow import model_gradient_flow
from seqkeras.diagnostics.plot import plot_curves

LOGGED_DISTANCES = (0, 1, 2, 4, 8, 16, 32, 64, 128, 256)


class GradientFlowCallback(keras.callbacks.Callback):
    """Measure ‖∂L_t/∂s_k‖ against t − k for every seqkeras recurrent layer.

    At the end of every `every`-th epoch the callback runs the model on a fixed real
    batch, re-runs each `Recurrent` layer's cell explicitly (see
    `seqkeras.diagnostics.model_gradient_flow`) and records:

    - TensorBoard (with `log_dir`): scalars `gradient_flow/<layer>/d=<d>` (normalized
      ‖∂L_t/∂s_{t−d}‖/‖∂L_t/∂s_t‖), `.../step_jacobian_norm` (mean ‖J_t‖₂),
      `.../grad_norm` (mean ‖∂L/∂s_k‖) and an image of the curves;
    - a PNG per layer at the end of training (with `plot_dir`): one curve per epoch,
      log scale;
    - `self.flows`: {epoch: {layer name: GradientFlow}}.

    Args:
        batch: (x, y) or (x, y, sample_weight), one real batch.
        log_dir: TensorBoard directory or None.
        plot_dir: directory for `gradient_flow_<layer>.png` or None.
        every: measure every this many epochs (and before training).
        max_examples: examples of the batch to use.
        loss_fn: optional `loss_fn(y, y_pred)`; default the compiled loss.

    Example:
        >>> model.fit(ds, epochs=5, callbacks=[GradientFlowCallback((x, y), plot_dir="plots")])
    """

    def __init__(self, batch, log_dir=None, plot_dir=None, every=1, max_examples=16,
                 loss_fn=None):
        super().__init__()
        batch = tuple(batch)
        self.x, self.y = batch[0], batch[1]
        self.sample_weight = batch[2] if len(batch) > 2 else None
        self.log_dir = log_dir
        self.plot_dir = plot_dir
        self.every = max(1, int(every))
        self.max_examples = max_examples
        self.loss_fn = loss_fn
        self.flows = {}
        self._writer = None

    def measure(self, epoch):
        flows = model_gradient_flow(
            self.model, self.x, self.y, self.sample_weight, self.loss_fn,
            max_examples=self.max_examples,
        )
        self.flows[epoch] = flows
        if self.log_dir:
            self._log(epoch, flows)
        return flows

    def _log(self, epoch, flows):
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "gradient_flow"))
        with self._writer.as_default(step=epoch):
            for name, flow in flows.items():
                distances, values = flow.distance_curve(normalized=True)
                for d in LOGGED_DISTANCES:
                    if d < len(values) and np.isfinite(values[d]):
                        tf.summary.scalar(f"gradient_flow/{name}/d={d}", values[d])
                tf.summary.scalar(f"gradient_flow/{name}/step_jacobian_norm",
                                  float(flow.step_jacobian_norms.mean()))
                tf.summary.scalar(f"gradient_flow/{name}/grad_norm", float(flow.total_norms.mean()))
                png = plot_curves({name: (distances, values)}, title=f"{name}, epoch {epoch}")
                image = tf.image.decode_png(png, channels=4)[None]
                tf.summary.image(f"gradient_flow/{name}/curve", image)
        self._writer.flush()

    def on_train_begin(self, logs=None):
        self.measure(0)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            self.measure(epoch + 1)

    def on_train_end(self, logs=None):
        if not self.plot_dir:
            return
        os.makedirs(self.plot_dir, exist_ok=True)
        names = sorted({name for flows in self.flows.values() for name in flows})
        for name in names:
            curves = {
                f"epoch {epoch}": flows[name].distance_curve(normalized=True)
                for epoch, flows in sorted(self.flows.items())
                if name in flows
            }
            plot_curves(curves, os.path.join(self.plot_dir, f"gradient_flow_{name}.png"),
                        title=f"Gradient flow, layer {name}")
