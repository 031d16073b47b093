"""Export a picked sub-network as a stand-alone model, load it, and verify it.

* :func:`export` / :func:`resolve_pick` — write the deployment folder (weights at their bit width,
  exit ramps and thresholds, tokenizer, ``model.json``; ``hf/`` when a plain config fits);
* :func:`load_deployed` — a :class:`DeployedModel` whose ``predict(texts)`` runs with early exit;
* :func:`verify` — accuracy vs the supernet's estimate, CPU latency vs the predictor, size on disk.
"""

from .export import Deployment, export, fits_hf, resolve_pick
from .runtime import DeployError, DeployedModel, load_deployed
from .verify import format_verification, verify

__all__ = ["DeployError", "DeployedModel", "Deployment", "export", "fits_hf", "format_verification", "load_deployed",
           "resolve_pick", "verify"]
