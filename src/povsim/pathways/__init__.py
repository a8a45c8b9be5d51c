"""The pathways: the five of "五个一批" (seed (五)-(九)), dangerous-house renovation (seed (十)),
the village task forces (seed (二十六)), schools and township services (seed (三), (十四), (十五)),
ecological jobs and compensation (seed (十八)) and asset income (seed (二十一)).

Each registers itself under its scenario key; a study registers its own with
:func:`povsim.register_pathway`.
"""

from povsim.pathways.asset_income import AssetIncomePathway
from povsim.pathways.base import Pathway
from povsim.pathways.dibao import DibaoPathway
from povsim.pathways.ecological import EcologicalPathway
from povsim.pathways.housing import HousingRenovationPathway
from povsim.pathways.medical import MedicalPathway
from povsim.pathways.production import ProductionPathway
from povsim.pathways.reconstruction import ReconstructionPathway
from povsim.pathways.relocation import RelocationPathway
from povsim.pathways.task_forces import TaskForcesPathway
from povsim.pathways.township import TownshipServicesPathway
from povsim.registry import register_pathway
from povsim.scenario.schema import (
    AssetIncome,
    Dibao,
    Ecological,
    HousingRenovation,
    Medical,
    Production,
    Reconstruction,
    Relocation,
    TaskForces,
    TownshipServices,
)

register_pathway("production", Production, ProductionPathway, replace=True)
register_pathway("relocation", Relocation, RelocationPathway, replace=True)
register_pathway("dibao", Dibao, DibaoPathway, replace=True)
register_pathway("medical", Medical, MedicalPathway, replace=True)
register_pathway("reconstruction", Reconstruction, ReconstructionPathway, replace=True)
register_pathway("housing_renovation", HousingRenovation, HousingRenovationPathway, replace=True)
register_pathway("task_forces", TaskForces, TaskForcesPathway, replace=True)
register_pathway("township_services", TownshipServices, TownshipServicesPathway, replace=True)
register_pathway("ecological", Ecological, EcologicalPathway, replace=True)
register_pathway("asset_income", AssetIncome, AssetIncomePathway, replace=True)

__all__ = [
    "AssetIncomePathway",
    "DibaoPathway",
    "EcologicalPathway",
    "HousingRenovationPathway",
    "MedicalPathway",
    "Pathway",
    "ProductionPathway",
    "ReconstructionPathway",
    "RelocationPathway",
    "TaskForcesPathway",
    "TownshipServicesPathway",
]
