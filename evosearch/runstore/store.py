"""The files of a run folder: written by the search, read by plot, pick, report and export.

``candidates.csv`` is the source of truth and append-only, so a candidate's id ``c<N>`` (its row,
0-based, header excluded) never changes; each row is flushed as soon as the candidate is scored.
A kill can tear only the last line, which :meth:`RunStore.load_records` drops on resume; damage
anywhere else stops the resume with the line number and changes nothing. Every other table is
rewritten atomically. The Parquet copies (``candidates.parquet``, ``final_front.parquet``) are
written when a stage ends, for readers that prefer typed columns to CSV.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd
import yaml

from ..errors import EvosearchError
from ..fileio import atomic_write
from .columns import LAYER_FIELDS, config_columns, config_from_columns, fit_header
from .record import Record, genome_key, parse_genome

#: Columns that are not metrics (the rest of a candidates row: metrics, F_*, G_*).
BOOKKEEPING = ("generation", "stage", "genome", "cv", "feasible", "eval_time_s", "cached_model")


class RunFolderError(EvosearchError):
    """A run folder that cannot be created, resumed or read."""


def _number(value) -> str:
    return value if isinstance(value, str) else repr(float(value))


class RunStore:
    """One run folder. Writers are used by :class:`evosearch.search.SearchRun`; readers return
    pandas frames indexed by candidate id (``c<N>``)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._columns: list[str] | None = None

    # ------------------------------------------------------------------ paths
    def path(self, name: str) -> Path:
        return self.folder / name

    @property
    def candidates_file(self) -> Path:
        return self.path("candidates.csv")

    @property
    def config_file(self) -> Path:
        return self.path("config.yaml")

    def holds_run(self) -> bool:
        return self.candidates_file.exists() or self.path("checkpoint.pkl").exists()

    # ------------------------------------------------------------------ config.yaml
    def write_config(self, config: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write(self.config_file, yaml.safe_dump(config, sort_keys=False).encode())

    def read_config(self) -> dict:
        if not self.folder.exists():
            raise RunFolderError(f"run folder {self.folder} does not exist (give the folder `evosearch search` "
                                 "wrote, e.g. results/<run-name>)")
        if not self.folder.is_dir():
            raise RunFolderError(f"{self.folder} is a file, not a run folder")
        if not self.config_file.is_file():
            raise RunFolderError(f"{self.folder} is not a search run folder: it has no config.yaml")
        try:
            config = yaml.safe_load(self.config_file.read_text()) or {}
        except yaml.YAMLError as err:
            raise RunFolderError(f"{self.config_file}: not valid YAML ({err})") from None
        if not isinstance(config, dict):
            raise RunFolderError(f"{self.config_file}: expected a mapping of settings, found {type(config).__name__}")
        return config

    # ------------------------------------------------------------------ rows
    @staticmethod
    def columns(rec: Record) -> list[str]:
        """The header a run whose first candidate is ``rec`` keeps for every table of candidates."""
        return (["generation", "stage", "genome"] + list(config_columns(rec.config, rec.thresholds))
                + list(rec.metrics) + [f"F_{i}" for i in range(len(rec.F))] + [f"G_{i}" for i in range(len(rec.G))]
                + ["cv", "feasible", "eval_time_s", "cached_model"])

    @staticmethod
    def row(generation: int, stage: str, rec: Record) -> dict:
        row = {"generation": generation, "stage": stage, "genome": genome_key(rec.genome)}
        row.update(config_columns(rec.config, rec.thresholds))
        row.update({k: _number(v) for k, v in rec.metrics.items()})
        row.update({f"F_{i}": repr(float(v)) for i, v in enumerate(rec.F)})
        row.update({f"G_{i}": repr(float(v)) for i, v in enumerate(rec.G)})
        row.update({"cv": repr(rec.cv), "feasible": int(rec.feasible), "eval_time_s": f"{rec.eval_time_s:.6f}",
                    "cached_model": int(rec.cached_model)})
        return row

    def _header(self, rec: Record) -> list[str]:
        if self._columns is None:
            self._columns = self.columns(rec)
        return self._columns

    # ------------------------------------------------------------------ candidates.csv
    def append_candidate(self, generation: int, stage: str, rec: Record) -> None:
        """Append one scored candidate and flush it (the file is the run's memory on resume). A
        genome that could not be scored (``rec.error``) goes to ``failures.csv`` instead."""
        if rec.error is not None:
            path = self.path("failures.csv")
            new = not path.exists()
            with open(path, "a", newline="") as fh:
                writer = csv.writer(fh)
                if new:
                    writer.writerow(["generation", "stage", "genome", "error", *[f"F_{i}" for i in range(len(rec.F))],
                                     *[f"G_{i}" for i in range(len(rec.G))]])
                writer.writerow([generation, stage, genome_key(rec.genome), rec.error, *map(repr, rec.F),
                                 *map(repr, rec.G)])
            return
        new = not self.candidates_file.exists()
        if new:
            self._columns = self.columns(rec)
        with open(self.candidates_file, "a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=self._header(rec))
            if new:
                writer.writeheader()
            writer.writerow(fit_header(self.row(generation, stage, rec), writer.fieldnames))
            fh.flush()

    def load_records(self) -> dict[tuple, Record]:
        """Stored candidates by genome, for a resume, with the genomes recorded as failed (not
        retried). A torn last line (a kill -9 in the middle of a write) is dropped; damage anywhere
        else is an error naming the line, and nothing is changed."""
        failed = self._load_failures()
        return {**failed, **self._load_candidates()}

    def _load_failures(self) -> dict[tuple, Record]:
        path = self.path("failures.csv")
        if not path.is_file():
            return {}
        out = {}
        for row in csv.DictReader(open(path, newline="")):
            try:
                genome = parse_genome(row["genome"])
                F = tuple(float(v) for k, v in row.items() if k.startswith("F_"))
                G = tuple(float(v) for k, v in row.items() if k.startswith("G_"))
            except (TypeError, ValueError, AttributeError):
                continue  # a torn last line: the genome is tried again
            out[genome] = Record(genome, {}, (), {}, F, G, error=row["error"])
        return out

    def _load_candidates(self) -> dict[tuple, Record]:
        if not self.candidates_file.exists():
            return {}
        lines = self.candidates_file.read_text().splitlines(keepends=True)
        if not lines:
            return {}
        header = next(csv.reader([lines[0]]))
        self._columns = header
        read = self._row_reader(header)
        out, rows = {}, []
        for number, line in enumerate(lines[1:], start=2):
            try:
                if not line.endswith("\n"):
                    raise ValueError("the line ends without a newline")
                values = next(csv.reader([line]))
                if len(values) != len(header):
                    raise ValueError(f"{len(values)} fields, the header has {len(header)}")
                row = dict(zip(header, values))
                rec = read(row)
            except (ValueError, KeyError, TypeError, StopIteration) as err:
                if number == len(lines):  # what a crash in the middle of appending leaves: drop it
                    atomic_write(self.candidates_file, "".join(lines[:-1]).encode())
                    break
                raise RunFolderError(f"cannot resume {self.folder}: {self.candidates_file} line {number} is damaged "
                                     f"({err}); a crash only tears the last line, so this needs a look: repair or "
                                     "delete that line by hand, then resume. Nothing was changed.") from None
            out[rec.genome] = rec
            rows.append((row["generation"], row["stage"], rec))
        if "config" in header:  # written before the flat columns: rewrite it (and fronts.csv) as new rows
            self._upgrade(rows)
        return out

    @staticmethod
    def _row_reader(header: Sequence[str]):
        """A function from one row (a mapping under ``header``) to its :class:`Record`; the layout
        of the header (metric, F and G columns) is worked out once, not per row."""
        config_cols = set(config_columns_of(header))
        metric_cols = [c for c in header
                       if c not in BOOKKEEPING and c not in config_cols and not c.startswith(("F_", "G_"))]
        n_f = sum(c.startswith("F_") for c in header)
        n_g = sum(c.startswith("G_") for c in header)

        def read(row: dict) -> Record:
            config, thresholds = config_from_columns(row)
            return Record(parse_genome(row["genome"]), config, tuple(thresholds), {c: float(row[c]) for c in metric_cols},
                          tuple(float(row[f"F_{i}"]) for i in range(n_f)),
                          tuple(float(row[f"G_{i}"]) for i in range(n_g)),
                          float(row["eval_time_s"]), bool(int(row.get("cached_model") or 0)))

        return read

    def _upgrade(self, rows: list[tuple[str, str, Record]]) -> None:
        """Rewrite a run stored with JSON config cells in the flat layout, so that a resumed search
        appends rows of the same shape (the same values, nothing lost; each file replaced atomically)."""
        fronts = self.path("fronts.csv")
        front_rows = []
        if fronts.is_file() and fronts.stat().st_size:
            with open(fronts, newline="") as fh:
                reader = csv.DictReader(fh)
                read = self._row_reader(reader.fieldnames)
                front_rows = [(r["generation"], r["stage"], read(r)) for r in reader]
        self._columns = self.columns(rows[0][2]) if rows else None
        for path, entries in ((self.candidates_file, rows), (fronts, front_rows)):
            if entries:
                self._write_dicts(path, self._columns, (self.row(int(g), st, rec) for g, st, rec in entries))

    # ------------------------------------------------------------------ fronts.csv
    def append_front(self, generation: int, stage: str, front: Sequence[Record]) -> None:
        if not front:
            return
        path = self.path("fronts.csv")
        new = not path.exists()
        with open(path, "a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=self._header(front[0]))
            if new:
                writer.writeheader()
            writer.writerows(fit_header(self.row(generation, stage, rec), writer.fieldnames) for rec in front)

    def truncate_fronts(self, upto: int) -> None:
        """Keep the fronts of the first ``upto + 1`` generations/rounds (what a checkpoint knows)."""
        path = self.path("fronts.csv")
        if not path.exists():
            return
        with open(path, newline="") as fh:
            rows = list(csv.reader(fh))
        keep = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= upto] if rows else []
        if upto < 0 or len(keep) <= 1:
            path.unlink()
            return
        self._write_rows(path, keep)

    # ------------------------------------------------------------------ whole tables
    def _write_rows(self, path: Path, rows: Iterable[Sequence]) -> None:
        buf = io.StringIO()
        csv.writer(buf).writerows(rows)
        atomic_write(path, buf.getvalue().encode())

    def _write_dicts(self, path: Path, columns: Sequence[str], rows: Iterable[dict]) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
        atomic_write(path, buf.getvalue().encode())

    def write_history(self, columns: Sequence[str], rows: Iterable[dict]) -> None:
        """``hypervolume.csv``: one row per generation or local-search round."""
        self._write_dicts(self.path("hypervolume.csv"), columns, rows)

    def write_final(self, subset: Sequence[Record], full: Sequence[Record], kept: Sequence[bool]) -> None:
        """``final_front.csv``: the front re-scored on the full dev set (``full``), the dev-subset
        values as ``subset_*`` columns and ``on_full_front`` (1 = still non-dominated)."""
        cols = self.columns(full[0]) + ["on_full_front"] + [f"subset_{k}" for k in subset[0].metrics]
        rows = []
        for sub, rec, ok in zip(subset, full, kept):
            row = self.row(-1, "final", rec)
            row["on_full_front"] = int(ok)
            row.update({f"subset_{k}": _number(v) for k, v in sub.metrics.items()})
            rows.append(row)
        self._write_dicts(self.path("final_front.csv"), cols, rows)

    def write_baselines(self, rows: Sequence[tuple[str, str, dict, dict]]) -> None:
        """``baselines.csv``: ``(name, dev split, SubnetConfig.to_dict(), metrics)`` per row."""
        out = []
        for name, split, config, metrics in rows:
            out.append({"name": name, "dev": split, **config_columns(config, ()),
                        **{k: v for k, v in metrics.items() if not isinstance(v, str)}})
        self._write_dicts(self.path("baselines.csv"), list(out[0]), out)

    def write_parquet(self) -> None:
        """Parquet copies of ``candidates.csv`` and ``final_front.csv`` (typed columns)."""
        for name, frame in (("candidates", self.read_candidates(missing_ok=True)), ("final_front", self.read_final())):
            if frame is not None and len(frame):
                buf = io.BytesIO()
                frame.to_parquet(buf)
                atomic_write(self.path(f"{name}.parquet"), buf.getvalue())

    # ------------------------------------------------------------------ readers (pandas)
    @staticmethod
    def _read_csv(path: Path) -> pd.DataFrame:
        frame = pd.read_csv(path, dtype={"genome": str, "quant": str})
        if "genome" in frame:
            frame["genome"] = frame["genome"].fillna("")
        if "config" in frame:  # written before the flat columns: a JSON config (and thresholds) per row
            thresholds = frame["thresholds"] if "thresholds" in frame else ["[]"] * len(frame)
            flat = pd.DataFrame([config_columns(json.loads(c), json.loads(t)) for c, t in zip(frame["config"], thresholds)],
                                index=frame.index)
            at = frame.columns.get_loc("config")
            rest = frame.drop(columns=[c for c in ("config", "thresholds") if c in frame])
            frame = pd.concat([rest.iloc[:, :at], flat, rest.iloc[:, at:]], axis=1)
        return frame

    def read_candidates(self, missing_ok: bool = False) -> pd.DataFrame | None:
        """Every candidate, indexed ``c0, c1, ...`` (:class:`RunFolderError` if there are none yet)."""
        path = self.candidates_file
        if not path.is_file() or path.stat().st_size == 0:
            if missing_ok:
                return None
            state = "is empty" if path.is_file() else "does not exist"
            raise RunFolderError(f"run {self.folder} has no candidates yet ({path} {state}); let the search run at "
                                 "least one generation")
        try:
            frame = self._read_csv(path)
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
            raise RunFolderError(f"{path} is damaged ({str(err).splitlines()[0]}); resume the search to repair a "
                                 "torn last line, or fix the file by hand") from None
        if frame.empty:
            if missing_ok:
                return None
            raise RunFolderError(f"run {self.folder} has no candidates yet ({path.name} is empty)")
        frame.index = pd.Index([f"c{i}" for i in range(len(frame))], name="id")
        return frame

    def read_final(self, ids: pd.DataFrame | None = None) -> pd.DataFrame | None:
        """``final_front.csv`` indexed by the id each genome first got in ``candidates.csv``."""
        path = self.path("final_front.csv")
        if not path.is_file() or not path.stat().st_size:
            return None
        final = self._read_csv(path)
        candidates = ids if ids is not None else self.read_candidates(missing_ok=True)
        first_id = {} if candidates is None else {
            g: cid for cid, g in zip(candidates.index[::-1], candidates["genome"][::-1])}
        final.index = pd.Index([first_id.get(g, f"final{i}") for i, g in enumerate(final["genome"])], name="id")
        if "on_full_front" not in final.columns:  # runs made before the re-filtering: every member kept
            final["on_full_front"] = 1
        return final

    def read_table(self, name: str) -> pd.DataFrame | None:
        """``hypervolume``, ``fronts`` or ``baselines`` as a frame (None when not written yet)."""
        path = self.path(f"{name}.csv")
        if not path.is_file() or not path.stat().st_size:
            return None
        return self._read_csv(path)


def config_columns_of(header: Iterable[str]) -> list[str]:
    """The flat sub-network columns among ``header`` (:mod:`.columns`)."""
    prefixes = tuple(f"{f}_" for f in LAYER_FIELDS) + ("threshold_",)
    return [c for c in header
            if c in ("embedding_bits", "quant", "embedding_sparsity", "config", "thresholds")
            or (c.startswith(prefixes) and c.rsplit("_", 1)[-1].isdigit())]
