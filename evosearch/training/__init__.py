"""Supernetwork training: importance ordering, sampling strategies, distillation, checkpoints."""

from .checkpoint import CheckpointError, SupernetCheckpoint, load_checkpoint, save_checkpoint

__all__ = ["CheckpointError", "SupernetCheckpoint", "load_checkpoint", "save_checkpoint"]
