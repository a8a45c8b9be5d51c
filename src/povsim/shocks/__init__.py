"""Shocks: illness and natural disasters, plus users' own (see :func:`povsim.register_shock`)."""

from povsim.registry import register_shock
from povsim.scenario.schema import Disasters, Illness
from povsim.shocks.disasters import HAZARDS, DisasterShock
from povsim.shocks.illness import IllnessShock

register_shock("illness", Illness, IllnessShock, replace=True)
register_shock("disasters", Disasters, DisasterShock, replace=True)

__all__ = ["HAZARDS", "DisasterShock", "IllnessShock"]
