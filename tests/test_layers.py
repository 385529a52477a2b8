"""Recurrent, Bidirectional and StackedRecurrent: composition, state, dropout, saving, export."""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import reference
from seqkeras.cells import ElmanCell, GRUCell, LSTMCell, RANCell
from seqkeras.layers import Bidirectional, Recurrent, StackedRecurrent
from test_cells import randomize, sequence_batch


def _right_padded_batch(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(3, 5, 3)).astype("float32")
    mask = np.ones((3, 5), bool)
    mask[0, 3:] = False
    mask[2, 1:] = False
    return x, mask


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
def test_bidirectional_matches_two_numpy_directions(merge_mode):
    x, mask = _right_padded_batch()
    layer = Bidirectional(
        Recurrent(LSTMCell(4), return_sequences=True, return_state=True), merge_mode=merge_mode
    )
    layer.build(x.shape)
    randomize(layer)
    output, *states = layer(x, mask=mask)
    forward, forward_states = reference.run(layer.forward_layer.cell, x, mask=mask)
    backward, backward_states = reference.run(
        layer.backward_layer.cell, x, mask=mask, go_backwards=True
    )
    backward = backward[:, ::-1]
    merged = {
        "concat": np.concatenate([forward, backward], -1),
        "sum": forward + backward,
        "mul": forward * backward,
        "ave": (forward + backward) / 2,
    }[merge_mode]
    np.testing.assert_allclose(output, merged, atol=1e-5)
    for got, want in zip(states, forward_states + backward_states):
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_bidirectional_right_padding_equals_unpadded_sequence():
    x, mask = _right_padded_batch()
    layer = Bidirectional(Recurrent(GRUCell(4), return_sequences=True))
    layer.build(x.shape)
    randomize(layer)
    padded = np.array(layer(x, mask=mask))
    alone = np.array(layer(x[:1, :3]))
    np.testing.assert_allclose(padded[0, :3], alone[0], atol=1e-5)


def test_deep_bidirectional_levels_read_both_directions_below():
    x, _ = _right_padded_batch()
    stack = StackedRecurrent(
        [ElmanCell(4), ElmanCell(4)], bidirectional=True, return_sequences=True
    )
    stack.build(x.shape)
    randomize(stack)
    first, second = stack.levels
    assert second.forward_layer.cell.kernel.shape == (8, 4)  # reads concat of both directions
    below = np.array(first(x))
    np.testing.assert_allclose(stack(x), second(below), atol=1e-6)


def test_residual_stack_adds_inputs_of_matching_width():
    x = np.random.default_rng(0).normal(size=(2, 4, 6)).astype("float32")
    stack = StackedRecurrent([LSTMCell(6), LSTMCell(6)], residual=True, return_sequences=True)
    stack.build(x.shape)
    first, second = stack.levels
    h1 = np.array(first(x)) + x
    np.testing.assert_allclose(stack(x), np.array(second(h1)) + h1, atol=1e-6)


def test_stack_return_state_lists_every_level():
    x, mask = _right_padded_batch()
    stack = StackedRecurrent([LSTMCell(4), GRUCell(5)], return_state=True)
    output, *states = stack(x, mask=mask)
    assert output.shape == (3, 5)
    assert [s.shape[-1] for s in states] == [4, 4, 5]


def test_stateful_carries_state_across_batches_and_resets():
    """Two halves with a stateful layer == the whole sequence at once (truncated BPTT)."""
    x = np.random.default_rng(0).normal(size=(2, 8, 3)).astype("float32")
    stateful = Recurrent(LSTMCell(4), return_sequences=True, stateful=True)
    stateful.build(x.shape)
    randomize(stateful)
    whole, _ = reference.run(stateful.cell, x)
    halves = np.concatenate([stateful(x[:, :4]), stateful(x[:, 4:])], axis=1)
    np.testing.assert_allclose(halves, whole, atol=1e-5)
    stateful.reset_state()
    np.testing.assert_allclose(stateful(x[:, :4]), whole[:, :4], atol=1e-5)


def test_stateful_needs_fixed_batch_size():
    with pytest.raises(ValueError, match="fixed batch size"):
        Recurrent(LSTMCell(4), stateful=True).build((None, 5, 3))


def test_recurrent_dropout_uses_one_mask_per_sequence():
    """With zero input weights and U = I, h_t = Σ masked h: a per-step mask would vary."""
    layer = Recurrent(
        ElmanCell(64, activation="linear", use_bias=False),
        return_sequences=True,
        recurrent_dropout=0.5,
        seed=1,
    )
    x = np.ones((2, 4, 64), "float32")
    layer.build(x.shape)
    layer.cell.kernel.assign(np.eye(64, dtype="float32"))
    layer.cell.recurrent_kernel.assign(np.eye(64, dtype="float32"))
    out = np.array(layer(x, training=True))
    # h_1 = x; h_t = x + m ⊙ h_{t-1} with m ∈ {0, 2}: units with m = 0 stay 1, others grow.
    kept = out[:, 1] > 1.5
    assert 0.2 < kept.mean() < 0.8
    expected_t3 = np.where(kept, 1 + 2 + 4, 1.0)
    np.testing.assert_allclose(out[:, 2], expected_t3, atol=1e-5)
    np.testing.assert_allclose(layer(x, training=False), np.cumsum(x, axis=1), atol=1e-5)


def test_input_dropout_only_in_training():
    x, _ = sequence_batch()
    layer = Recurrent(GRUCell(4), dropout=0.5, seed=3)
    assert not np.allclose(layer(x, training=True), layer(x, training=False))
    np.testing.assert_allclose(layer(x), layer(x, training=False))


def _model(jit_compile=False):
    inputs = keras.Input((None, 3))
    masked = keras.layers.Masking()(inputs)
    x = StackedRecurrent(
        [LSTMCell(4, variant="peephole"), RANCell(4)], bidirectional=True, return_sequences=True
    )(masked)
    x = Recurrent(GRUCell(3, reset_after=False), jit_compile=jit_compile)(x)
    return keras.Model(inputs, keras.layers.Dense(2)(x))


def test_get_config_round_trip_for_every_layer():
    for layer in (
        Recurrent(LSTMCell(3, variant="cifg"), return_state=True, dropout=0.1, stateful=False),
        Bidirectional(Recurrent(GRUCell(2), return_sequences=True), merge_mode="sum"),
        StackedRecurrent([ElmanCell(2), LSTMCell(2)], residual=True, bidirectional=True),
    ):
        config = layer.get_config()
        clone = type(layer).from_config(json.loads(json.dumps(config)))
        assert clone.get_config() == config


def test_keras_save_and_load(tmp_path):
    model = _model()
    x, mask = sequence_batch()
    x[1, 4:] = 0.0
    expected = model(x)
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(restored(x), expected, atol=1e-6)


def test_fit_reduces_loss():
    model = _model()
    model.compile(keras.optimizers.Adam(0.02), "mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 6, 3)).astype("float32")
    y = np.stack([x[:, :, 0].sum(1), x[:, :, 1].mean(1)], -1)
    history = model.fit(x, y, epochs=8, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < 0.6 * history.history["loss"][0]


def test_savedmodel_export_runs_where_seqkeras_cannot_be_imported(tmp_path):
    model = _model()
    x, _ = sequence_batch()
    x[1, 4:] = 0.0
    expected = np.array(model(x))
    export_dir = tmp_path / "export"
    model.export(str(export_dir), verbose=False)
    np.save(tmp_path / "x.npy", x)
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["seqkeras"] = None  # any import of seqkeras now fails
        try:
            import seqkeras  # noqa: F401
            raise SystemExit("seqkeras was importable")
        except ImportError:
            pass
        import numpy as np, tensorflow as tf
        loaded = tf.saved_model.load({str(export_dir)!r})
        x = np.load({str(tmp_path / "x.npy")!r})
        np.save({str(tmp_path / "y.npy")!r}, loaded.serve(tf.constant(x)).numpy())
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, atol=1e-5)


@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda: LSTMCell(0), "units"),
        (lambda: GRUCell(-3), "units"),
        (lambda: ElmanCell(2.5), "units"),
        (lambda: LSTMCell(4, variant="bogus"), "variant"),
        (lambda: ElmanCell(4, activation="softmax"), "activation"),
        (lambda: RANCell(4, output_activation="relu"), "output_activation"),
        (lambda: LSTMCell(4, coupled_input_forget=True, input_gate=False), "coupled_input_forget"),
        (lambda: Recurrent(LSTMCell(4), dropout=1.5), "dropout"),
        (lambda: Recurrent(LSTMCell(4), recurrent_dropout=-0.1), "recurrent_dropout"),
        (lambda: Recurrent("lstm"), "cell"),
        (lambda: Bidirectional(Recurrent(LSTMCell(4)), merge_mode="max"), "merge_mode"),
    ],
)
def test_invalid_arguments_name_the_argument_and_value(make, argument):
    with pytest.raises(ValueError, match=argument):
        make()


def test_invalid_units_message_names_value():
    with pytest.raises(ValueError, match=r"units=0"):
        LSTMCell(0)


def test_mismatched_initial_state_is_rejected():
    x, _ = sequence_batch()
    layer = Recurrent(LSTMCell(4))
    with pytest.raises(ValueError, match="initial_state"):
        layer(x, initial_state=[np.zeros((3, 4), "float32")])
    with pytest.raises(ValueError, match=r"initial_state\[1\].*last dimension 4"):
        layer(x, initial_state=[np.zeros((3, 4), "float32"), np.zeros((3, 7), "float32")])
