"""`seqkeras tune pipelines/word2vec.toml`: the pipeline's search space on a small real corpus."""

import json
import pathlib

from seqkeras import cli
from seqkeras.pipeline import load_spec

PIPELINE = pathlib.Path(__file__).resolve().parents[1] / "pipelines" / "word2vec.toml"


def test_tune_writes_the_best_values_of_the_space(shared_data, tmp_path):
    space = load_spec(PIPELINE).tuning.space
    assert space
    work = tmp_path / "runs"
    assert cli.main(["tune", str(PIPELINE), "--data-dir", str(shared_data), "--work-dir", str(work),
                     "--max-trials", "2", "--set", 'data.sources=["lee_corpus/lee_background.cor"]',
                     "--set", "data.min_count=3", "--set", "model.jit_compile=false"]) == 0
    run = work / "word2vec"
    best = json.loads((run / "best_hyperparameters.json").read_text())
    assert set(best) == set(space)
    assert all(best[key] in values for key, values in space.items())
    assert (run / "tuning_summary.md").is_file()
