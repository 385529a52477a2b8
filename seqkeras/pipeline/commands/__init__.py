"""CLI subcommands of the application machinery (registered in `seqkeras.cli.COMMANDS`).

Each module exposes `configure(parser)` and `main(args)`:

* ``run PIPELINE``: ingest → (tune) → train → evaluate → export (+ sample text).
* ``train PIPELINE``: ingest → train (resumes an interrupted run).
* ``tune PIPELINE``: the keras-tuner search only (resumable); writes the best values.
* ``evaluate PIPELINE``: validation metrics of the trained weights.
* ``export PIPELINE``: export the trained weights as a versioned SavedModel.
* ``generate TARGET``: text from a SavedModel (``saved_models/<name>[/<version>]``) or
  from a pipeline's trained weights.
* ``predict SAVED_MODEL INPUTS``: run a SavedModel signature on a file of inputs.
* ``weat VECTORS``: WEAT effect sizes and the he:she analogy probe of word vectors.
"""
