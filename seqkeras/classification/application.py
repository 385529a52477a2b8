"""`ClassificationApplication`: sentence classification on the shared pipeline machinery."""

from __future__ import annotations

import keras

from seqkeras.classification.data import ClassificationData, build_data
from seqkeras.classification.model import build_classifier
from seqkeras.classification.pretrained import FreezePretrained, initialise_encoder
from seqkeras.classification.server import ClassifierServer
from seqkeras.classification.spec import Spec
from seqkeras.classification.starter import starter_keys
from seqkeras.pipeline.application import Application
from seqkeras.pipeline.spec import JIT_COMPILE


class ClassificationApplication(Application):
    """Labelled sentences → acceptor (encoder + pooling + softmax) → text-in, label-out export."""

    name = "classification"
    spec_class = Spec
    headline_metric = "accuracy"

    def build_data(self, spec, data_dir, run_dir) -> ClassificationData:
        """Labelled files → hash validation split → vocabulary (``run_dir/vocabulary.txt``)
        → length-bucketed ``(ids int64[B, T], label int32[B])`` batches."""
        return build_data(spec, data_dir, run_dir)

    def build_model(self, spec, data) -> keras.Model:
        """The classifier ``int[B, T] → float32[B, C]``, compiled with sparse categorical
        cross-entropy and accuracy; initialised from a language model or another
        classifier when the spec names one (`initialise_encoder`)."""
        m = spec.model
        embeddings = data.embeddings
        model = build_classifier(
            data.vocabulary_size, data.num_classes, cell=m.cell, cell_options=m.cell_options,
            layers=m.layers, units=m.units, bidirectional=m.bidirectional,
            embedding_dim=m.embedding_dim if embeddings is None else embeddings.shape[1],
            embeddings=embeddings, train_embeddings=m.train_embeddings,
            pooling=m.pooling, attention_units=m.attention_units, dropout=m.dropout,
            layer_dropout=m.layer_dropout, recurrent_dropout=m.recurrent_dropout,
            output_dropout=m.output_dropout, jit_compile=JIT_COMPILE[m.jit_compile],
            name=spec.name or "classifier")
        if data.pretrained_encoder is not None:
            head = initialise_encoder(model, data.pretrained_encoder, data.tokenizer.vocabulary.tokens, spec,
                                      data.class_names)
            if data.pretrained_encoder.head is not None:
                print(f"pooling and softmax: {'copied' if head else 'fresh (other pooling or classes)'}")
        model.compile(optimizer=self.optimizer(spec), loss=keras.losses.SparseCategoricalCrossentropy(),
                      metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
        return model

    def callbacks(self, spec, data) -> list[keras.callbacks.Callback]:
        """With ``model.freeze_pretrained_epochs``, `FreezePretrained` (gradual unfreezing)."""
        m = spec.model
        if not m.freeze_pretrained_epochs:
            return []
        pretrained = ("forward" if m.pretrained_language_model else "encoder" if m.pretrained_classifier
                      else "embedding")
        return [FreezePretrained(m.freeze_pretrained_epochs, pretrained)]

    def evaluate(self, spec, model, data) -> dict[str, float]:
        """Validation loss and accuracy over the whole validation split (and its size)."""
        metrics = model.evaluate(data.validation, verbose=0, return_dict=True)
        return {"loss": float(metrics["loss"]), "accuracy": float(metrics["accuracy"]),
                "examples": int(data.validation_examples)}

    def exporter(self, spec, model, data) -> ClassifierServer:
        """The text → label server; requests are cut to ``spec.max_tokens`` tokens."""
        return ClassifierServer(model, data.tokenizer, data.class_names, spec.max_tokens)

    def after_run(self, spec, model, data, report) -> None:
        """Print the validation accuracy as a percentage, with the number of examples."""
        metrics = report.get("validation", {})
        if "accuracy" in metrics:
            print(f"validation accuracy: {100 * metrics['accuracy']:.2f} % "
                  f"({metrics.get('examples', '?')} examples)")

    def starter(self, data_files):
        """``data.train`` (and ``data.validation``), the format, the header's text and
        label columns and the sorted labels of the user's file (`starter_keys`)."""
        return starter_keys(data_files)
