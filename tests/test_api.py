"""The README's Python API example, run as written on a tiny model and task."""

from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.usefixtures("private_cache")


def _readme_block(name: str) -> str:
    readme = (ROOT / "README.md").read_text()
    code = readme.split(f"<!-- {name}:start -->")[1].split(f"<!-- {name}:end -->")[0]
    return code.strip().removeprefix("```python").removesuffix("```")


def test_readme_api_example_trains_searches_picks_and_exports(tmp_path, tiny_model, tiny_task, capsys):
    code = _readme_block("api-example")
    assert 'api.train(output="results/api/supernet"' in code
    code = code.replace('api.train(', f"api.train(model={tiny_model!r}, task={tiny_task!r}, threads=1, ")
    code = code.replace('"results/api/', f'"{tmp_path}/')
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    result, chosen, deployed = namespace["result"], namespace["chosen"], namespace["deployed"]
    assert chosen.found and chosen.candidate_id in [f"c{i}" for i in range(48)]
    assert deployed.folder == tmp_path / "deployed" and deployed.verification["accuracy_agrees"]
    assert deployed.description["source"]["candidate"] == chosen.candidate_id
    # the run folder the README's pandas lines read
    candidates = pd.read_parquet(result.folder / "candidates.parquet")
    assert len(candidates) == len(pd.read_csv(result.folder / "candidates.csv"))
    picked = candidates.loc[chosen.candidate_id]
    assert picked["error"] == pytest.approx(chosen.run.candidate(chosen.candidate_id)["error"])
    assert capsys.readouterr().out.startswith(f"{chosen.candidate_id} ")  # the README's first print


def test_api_refuses_what_the_cli_refuses(tmp_path, tiny_model):
    from evosearch import api
    from evosearch.errors import EvosearchError

    with pytest.raises(EvosearchError, match="unknown training option.*'epoch'.*allowed:.*epochs"):
        api.train(model=tiny_model, output=str(tmp_path / "s"), epoch=1)
    with pytest.raises(EvosearchError, match="--epochs -1"):
        api.train(model=tiny_model, output=str(tmp_path / "s"), epochs=-1)
    with pytest.raises(EvosearchError, match="give the supernet checkpoint folder"):
        api.search()


def test_api_resume_keeps_the_stored_settings(tmp_path):
    from evosearch import api

    from .tiny_runs import make_checkpoint

    ckpt = make_checkpoint(tmp_path / "ckpt")
    first = api.search(ckpt, space="small", objectives="default", folder=tmp_path / "run", generations=2,
                       population=6, dev_subset=0, local_search=False, progress=False)
    again = api.search(resume=tmp_path / "run", progress=False)  # no generations given: the run's own 2
    assert len(again.history) == len(first.history) == 2
    assert [r.genome for r in again.front] == [r.genome for r in first.front]
