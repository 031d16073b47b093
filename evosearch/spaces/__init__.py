"""Search spaces: the YAML schema (:mod:`.schema`) and the genome of a space resolved on a
supernet (:mod:`.genome`). A leaf of the pipeline: torch-free."""

from .genome import SHIPPED_SPACES_DIR, BoundSpace, GeneSpec, SearchSpace, Slot
from .schema import FRACTION_GENES, GENES, LAYER_GENES, SearchSpaceError

__all__ = ["FRACTION_GENES", "GENES", "LAYER_GENES", "SHIPPED_SPACES_DIR", "BoundSpace", "GeneSpec", "SearchSpace",
           "SearchSpaceError", "Slot"]
