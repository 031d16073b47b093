"""Built-in tasks: fetching the vaderSentiment sdist, parsing its sentence files, labels and splits."""

import hashlib
import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from evosearch.data import DataError, load_task
from evosearch.data.builtin import BUILTIN_TASKS, load_builtin_task
from evosearch.data.vader import SOURCE_FILES, fetch_vader_files, read_ratings

FIXTURES = Path(__file__).parent / "fixtures" / "hutto_ICWSM_2014"


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def make_sdist(folder: Path, files: dict[str, bytes] | None = None) -> Path:
    """A small sdist-like archive with the real nesting: sdist / additional_resources / hutto tar.gz."""
    files = files if files is not None else {p.name: p.read_bytes() for p in FIXTURES.iterdir()}
    nested = io.BytesIO()
    with tarfile.open(fileobj=nested, mode="w:gz") as inner:
        for name, data in files.items():
            _add(inner, f"hutto_ICWSM_2014/{name}", data)
    path = folder / "vaderSentiment-3.3.2.tar.gz"
    with tarfile.open(path, "w:gz") as outer:
        _add(outer, "vaderSentiment-3.3.2/setup.py", b"# not used\n")
        _add(outer, "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz", nested.getvalue())
    return path


@pytest.fixture
def sdist(tmp_path):
    """``(download, sha256)``: a downloader that writes the fixture archive, and its checksum."""
    archive = make_sdist(tmp_path)
    data = archive.read_bytes()

    def download(dest: Path) -> Path:
        target = dest / archive.name
        target.write_bytes(data)
        return target

    return download, hashlib.sha256(data).hexdigest()


@pytest.fixture
def cache(tmp_path, monkeypatch, sdist):
    """A user cache with the fixture sentence files fetched into it."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("EVOSEARCH_CACHE", str(folder))
    download, sha = sdist
    fetch_vader_files(folder, download=download, sha256=sha)
    return folder


def test_fetch_extracts_the_four_files(tmp_path, sdist):
    download, sha = sdist
    paths = fetch_vader_files(tmp_path / "c", download=download, sha256=sha)
    assert set(paths) == set(SOURCE_FILES)
    for source, path in paths.items():
        assert path.read_bytes() == (FIXTURES / SOURCE_FILES[source]).read_bytes()

    def no_download(dest):
        raise AssertionError("cached files must not be downloaded again")

    assert fetch_vader_files(tmp_path / "c", download=no_download, sha256=sha) == paths


def test_checksum_mismatch_is_a_clear_error(tmp_path, sdist):
    download, _ = sdist
    with pytest.raises(DataError, match="checksum mismatch"):
        fetch_vader_files(tmp_path / "c", download=download, sha256="0" * 64)
    assert not list((tmp_path / "c").rglob("*.txt"))


def test_corrupt_archive_and_missing_member(tmp_path):
    def garbage(dest):
        (dest / "x.tar.gz").write_bytes(b"not a tarball")
        return dest / "x.tar.gz"

    sha = hashlib.sha256(b"not a tarball").hexdigest()
    with pytest.raises(DataError, match="not a readable"):
        fetch_vader_files(tmp_path / "c", download=garbage, sha256=sha)

    partial = make_sdist(tmp_path, {"tweets_GroundTruth.txt": b"1\t1.0\thi"})
    with pytest.raises(DataError, match="lacks movieReviewSnippets_GroundTruth.txt"):
        fetch_vader_files(tmp_path / "c", download=lambda dest: partial, sha256=hashlib.sha256(partial.read_bytes()).hexdigest())


def test_read_ratings_crlf_utf8_and_latin1():
    rows = read_ratings(FIXTURES / "movieReviewSnippets_GroundTruth.txt")
    assert len(rows) == 32
    assert all(not text.endswith("\r") for _, _, text in rows)
    texts = {ident: text for ident, _, text in rows}
    assert texts["99999"] == "A café of a film, warm and strong."  # latin-1 byte 0xE9
    assert texts["99998"] == "No café could save this one."  # UTF-8
    assert rows[0] == ("77", 0.0, rows[0][2])


def test_read_ratings_bad_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"1\t2.0\tfine\r\n2\tnot-a-number\toops")
    with pytest.raises(DataError, match=r"bad.txt:2: rating 'not-a-number'"):
        read_ratings(bad)
    bad.write_bytes(b"1\t2.0")
    with pytest.raises(DataError, match="3 tab-separated fields"):
        read_ratings(bad)


def test_polarity_drops_zero_and_binarises(cache):
    rows = read_ratings(cache / "vaderSentiment-3.3.2" / "movieReviewSnippets_GroundTruth.txt")
    splits, info = load_task("movie-polarity", seed=0)
    assert (info.num_labels, info.label_names, info.is_regression) == (2, ("negative", "positive"), False)
    assert splits["train"].column_names == ["text", "label"]
    got = {t: lab for s in splits.values() for t, lab in zip(s["text"], s["label"])}
    want = {text: int(r > 0) for _, r, text in rows if r != 0}
    assert got == want and len(want) == 30


def test_rating_is_regression(cache):
    splits, info = load_task("tweet-rating", seed=0)
    assert (info.num_labels, info.label_names, info.is_regression) == (1, None, True)
    assert sum(len(s) for s in splits.values()) == 20  # zero ratings kept
    assert splits["train"].features["label"].dtype == "float32"
    assert min(v for s in splits.values() for v in s["label"]) >= -4


def test_splits_are_deterministic_disjoint_and_seeded(cache):
    a, _ = load_task("movie-rating", seed=0)
    b, _ = load_task("movie-rating", seed=0)
    c, _ = load_task("movie-rating", seed=1)
    assert {k: a[k]["text"][:] for k in a} == {k: b[k]["text"][:] for k in b}
    assert a["test"]["text"][:] != c["test"]["text"][:]
    parts = [set(a[k]["text"]) for k in ("train", "validation", "test")]
    assert sum(map(len, parts)) == len(set.union(*parts)) == 32
    assert [len(a[k]) for k in ("train", "validation", "test")] == [26, 3, 3]


def test_every_builtin_task_loads(cache):
    for name in BUILTIN_TASKS:
        splits, info = load_builtin_task(name, seed=3)
        assert info.name == name and all(len(s) for s in splits.values())


@pytest.mark.network
def test_real_vader_sdist(tmp_path):
    """Fetches the real sdist from PyPI (skipped when pip cannot download it)."""
    probe = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "vaderSentiment==3.3.2",
         "-d", str(tmp_path / "dl")], capture_output=True, timeout=120)
    if probe.returncode != 0:
        pytest.skip("PyPI not reachable")
    archive = next((tmp_path / "dl").glob("*.tar.gz"))
    paths = fetch_vader_files(tmp_path / "c", download=lambda dest: archive)
    counts = {source: len(read_ratings(path)) for source, path in paths.items()}
    assert counts == {"movie": 10605, "tweet": 4200, "amazon": 3708, "nyt": 5190}
