"""Multi-objective evolutionary search over sub-networks of a supernet.

* search spaces and the genome: :mod:`evosearch.spaces`;
* :mod:`.objectives` — objective sets and constraints;
* :mod:`.evaluator` — scoring on the supernet with the exit-logit cache, fronts, hypervolume;
* :mod:`.algorithms` — pymoo NSGA-II/NSGA-III, DEAP NSGA-II, random and local search (ask/tell);
* :mod:`.pools` — where candidates are scored: the pool contract, in this process or on Ray actors;
* :mod:`.run` — the generational loop, run folder, checkpoints and resume.
"""

from .algorithms import ALGORITHMS, Algorithm, DeapNSGA2, LocalSearch, PymooAlgorithm, RandomSearch, make_algorithm
from ..runstore import Record, RunFolderError, genome_key
from .evaluator import Evaluator, front_mask, hypervolume, reference_point
from ..metrics import METRICS
from .objectives import Constraint, ObjectiveError, ObjectiveSet
from .pools import EvalPool, LocalPool
from .run import SearchResult, SearchRun
from ..spaces import BoundSpace, SearchSpace, SearchSpaceError

__all__ = [
    "ALGORITHMS", "Algorithm", "BoundSpace", "Constraint", "DeapNSGA2", "EvalPool", "Evaluator", "LocalPool", "LocalSearch",
    "METRICS", "ObjectiveError", "ObjectiveSet", "PymooAlgorithm", "RandomSearch", "Record", "RunFolderError",
    "SearchResult", "SearchRun", "SearchSpace", "SearchSpaceError", "front_mask", "genome_key", "hypervolume",
    "make_algorithm", "reference_point",
]
