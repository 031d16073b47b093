"""The run folder a search writes and plot, pick, report and export read.

One store, one schema: :class:`RunStore` writes ``candidates.csv`` (appended as candidates are
scored), ``fronts.csv``, ``hypervolume.csv``, ``final_front.csv`` and ``baselines.csv``, repairs a
torn last line on resume, writes Parquet copies when a stage ends, and reads every table back as
a pandas frame. Each candidate's sub-network is stored as flat columns (:mod:`.columns`:
``heads_0``, ``ffn_0``, ``bits_0``, ``span_0``, ..., ``threshold_0``, ``embedding_bits``), so
``pandas.read_csv("candidates.csv").query("bits_3 == 8")`` works without parsing anything.

It imports no torch: a laptop can read a cluster's run folder with pandas alone.
"""

from .columns import config_columns, config_from_columns, num_layers_of
from .record import Record, genome_key
from .store import RunFolderError, RunStore

__all__ = ["Record", "RunFolderError", "RunStore", "config_columns", "config_from_columns", "genome_key",
           "num_layers_of"]
