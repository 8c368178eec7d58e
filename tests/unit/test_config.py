"""One Settings: defaults, QA_* variables, flags, groups, and the checks that name a bad variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.config import FusionMode, Settings, VectorSettings
from qa.errors import SettingsError


def test_variables_reach_nested_groups_and_flags_win() -> None:
    environ = {"QA_TOP_K": "7", "QA_CHUNK_TOKENS": "120", "QA_FUSION_MODE": "dense", "QA_ALLOWED_ORIGINS": "https://a.example, https://b.example"}
    settings = Settings.from_env(environ, top_k=3, index_dir="somewhere")
    assert settings.top_k == 3 and settings.index_dir == Path("somewhere")
    assert settings.chunking.max_tokens == 120
    assert settings.fusion.mode is FusionMode.DENSE
    assert settings.server.allowed_origins == ("https://a.example", "https://b.example")


def test_a_whole_group_can_be_given_and_copies_change_only_what_is_asked() -> None:
    settings = Settings.from_env({}, vectors=VectorSettings(ivf_threshold=8, flat_threshold=4))
    assert settings.vectors.ivf_threshold == 8
    changed = settings.with_(top_k=9)
    assert changed.top_k == 9 and changed.vectors == settings.vectors and settings.top_k == 5


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"QA_PORT": "abc"}, "QA_PORT='abc' is not allowed: it must be a whole number from 1 to 65,535"),
        ({"QA_TOP_K": "0"}, "QA_TOP_K=0 is not allowed: it must be from 1 to 50"),
        ({"QA_CONCURRENCY": "-3"}, "QA_CONCURRENCY=-3 is not allowed: it must be from 1 to 256"),
        ({"QA_ENCODER": "gpu"}, "QA_ENCODER='gpu' is not allowed: it must be one of 'torch', 'onnx-int8'"),
        ({"QA_CHUNK_TITLE": "maybe"}, "QA_CHUNK_TITLE='maybe' is not allowed: it must be true or false"),
        ({"QA_ABSTAIN_THRESHOLD": "nan"}, "QA_ABSTAIN_THRESHOLD=nan is not allowed"),
        ({"QA_VECTOR_FLAT_THRESHOLD": "30000"}, "QA_VECTOR_FLAT_THRESHOLD=30000 must be below QA_VECTOR_IVF_THRESHOLD=20000"),
    ],
)
def test_a_bad_value_names_the_variable_the_value_and_what_is_allowed(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_env(environ)
    assert str(error.value).startswith(message)


def test_unknown_keywords_are_refused() -> None:
    with pytest.raises(SettingsError, match="unknown setting"):
        Settings.from_env({}, top_kk=3)


def test_the_table_lists_every_variable_once_and_hides_the_token() -> None:
    rows = Settings.from_env({"QA_ADMIN_TOKEN": "s3cret"}).table()
    names = [row[0] for row in rows]
    assert len(names) == len(set(names)) and all(name.startswith("QA_") for name in names)
    assert ("QA_ADMIN_TOKEN", "(set)") == rows[names.index("QA_ADMIN_TOKEN")][:2]
    assert not any("s3cret" in cell for row in rows for cell in row)


def test_every_variable_is_documented_once() -> None:
    documented = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text(encoding="utf-8")
    for env, *_ in Settings.from_env({}).table():
        assert documented.count(f"| `{env}` |") == 1, env
