"""The declared dependency floors are the tested ones (issue 14).

``pyproject.toml`` says ``transformers>=TESTED_TRANSFORMERS_FLOOR``. The fast test keeps the two
from drifting; the slow one installs exactly that release, with the oldest ``tokenizers`` and
``huggingface_hub`` it allows (that install on Python 3.11), into a private folder
(``pip install --no-deps --target``) and runs ``tests/test_language.py`` against it: the GPT-2
tokenizer from the shipped BPE files, ``load_language_model`` on tiny local GPT-2/BERT folders,
the embedded MiniLM, the hooks and the hidden-state covariance collection.

Measured 2026-12-01 on Python 3.11, torch 2.14.1, numpy 2.4 (test_language.py, 24 tests):
transformers 4.30.0 (tokenizers 0.13.2, huggingface_hub 0.14.1), 4.30.2, 4.36.2, 4.40.0
(tokenizers 0.19.0, huggingface_hub 0.19.3), 4.40.2, 4.57.6 and 5.24.0 all pass. Older
transformers releases were not tried. tokenizers 0.13.2 is the oldest release that transformers
4.30 allows that has a wheel for Python 3.11 (0.13.0/0.13.1 would have to be built with Rust).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: the transformers floor that pyproject.toml must declare (``transformers>=...``)
TESTED_TRANSFORMERS_FLOOR = "4.30"

#: companions installed with each tested floor: the oldest releases that floor allows
#: (and that have wheels for Python 3.11); transformers checks their versions at import
FLOOR_COMPANIONS: dict[str, tuple[str, ...]] = {
    "4.30": ("tokenizers==0.13.2", "huggingface-hub==0.14.1"),
    "4.40": ("tokenizers==0.19.0", "huggingface-hub==0.19.3"),
}

#: what pip prints when no package index can be reached
_NO_INDEX = re.compile(
    r"\(from versions: none\)|"
    r"Failed to establish a new connection|Max retries exceeded|Temporary failure in name resolution|"
    r"Network is unreachable|NewConnectionError|ConnectTimeout|ReadTimeout|Name or service not known",
    re.IGNORECASE,
)

# a code path test_language.py does not cover: the weights dtype keyword of from_pretrained
# (``torch_dtype`` before transformers 4.56, ``dtype`` after)
_DTYPE_CHECK = """
import sys, tempfile, torch, transformers
from transformers import GPT2Config, GPT2Model
from polycode_lite.models.language_models import load_gpt2_tokenizer, load_language_model
assert transformers.__file__.startswith(sys.argv[1]), transformers.__file__
print("transformers", transformers.__version__, "from", transformers.__file__)
d = tempfile.mkdtemp()
GPT2Model(GPT2Config(vocab_size=50257, n_positions=16, n_embd=8, n_layer=1, n_head=2)).save_pretrained(d)
lm = load_language_model(d, device="cpu", dtype=torch.float16)
assert next(lm.model.parameters()).dtype == torch.float16
assert load_gpt2_tokenizer()("Hello world!")["input_ids"] == [15496, 995, 0]
"""


def _declared_transformers_floor() -> str:
    from packaging.requirements import Requirement

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    reqs = [Requirement(d) for d in deps if Requirement(d).name.lower() == "transformers"]
    assert len(reqs) == 1, f"pyproject.toml should list transformers once, found {deps}"
    floors = [s.version for s in reqs[0].specifier if s.operator == ">="]
    assert len(floors) == 1, f"transformers should have one '>=' floor in pyproject.toml: {reqs[0]}"
    return floors[0]


def test_declared_transformers_floor_is_the_tested_one():
    declared = _declared_transformers_floor()
    assert declared == TESTED_TRANSFORMERS_FLOOR, (
        f"pyproject.toml declares transformers>={declared}, but the floor tested by "
        f"test_language_code_works_with_the_transformers_floor is {TESTED_TRANSFORMERS_FLOOR}: "
        "run that slow test with the new floor, then update TESTED_TRANSFORMERS_FLOOR."
    )
    assert TESTED_TRANSFORMERS_FLOOR in FLOOR_COMPANIONS


@pytest.mark.slow  # ~2 min: a pip install of three wheels, then test_language.py in a subprocess
def test_language_code_works_with_the_transformers_floor(tmp_path):
    if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True, check=False).returncode:
        pytest.skip("pip is not available in this interpreter")
    site = tmp_path / "site"
    specs = [f"transformers=={TESTED_TRANSFORMERS_FLOOR}", *FLOOR_COMPANIONS[TESTED_TRANSFORMERS_FLOOR]]
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--only-binary", ":all:",
         "--disable-pip-version-check", "--no-input", "--retries", "1", "--timeout", "30",
         "--target", str(site), *specs],
        capture_output=True, text=True, timeout=900, check=False,
    )
    if pip.returncode:
        out = (pip.stdout + pip.stderr)[-3000:]
        if _NO_INDEX.search(out):
            pytest.skip(f"pip cannot reach a package index to install {specs}: {out[-400:]}")
        pytest.fail(f"pip install {specs} failed:\n{out}")

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    check = subprocess.run([sys.executable, "-c", _DTYPE_CHECK, str(site)], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=600, check=False)
    assert check.returncode == 0, f"dtype / tokenizer check failed:\n{(check.stdout + check.stderr)[-4000:]}"
    assert f"transformers {TESTED_TRANSFORMERS_FLOOR}" in check.stdout, check.stdout
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_language.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False,
    )
    assert run.returncode == 0, (
        f"tests/test_language.py fails with {specs}:\n{(run.stdout + run.stderr)[-6000:]}"
    )


def test_gpt2_tokenizer_says_what_each_api_gave_when_neither_works(monkeypatch):
    transformers = pytest.importorskip("transformers")
    from polycode_lite.models.language_models import load_gpt2_tokenizer

    class Empty:  # takes any keywords, knows no tokens (transformers 5 given the 4.x keywords)
        def __init__(self, **kwargs):
            if "vocab" in kwargs:
                raise TypeError("unexpected keyword argument 'vocab'")

        def __len__(self):
            return 0

        def __call__(self, text):
            return {"input_ids": []}

    monkeypatch.setattr(transformers, "GPT2Tokenizer", Empty)
    with pytest.raises(RuntimeError, match=r"could not build the GPT-2 tokenizer.*"
                       r"GPT2Tokenizer\(vocab=, merges=\) raised TypeError.*"
                       r"GPT2Tokenizer\(vocab_file=, merges_file=\) gave 0 tokens"):
        load_gpt2_tokenizer()
