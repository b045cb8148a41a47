"""Which model answers a user on a scenario, A/B experiments included.

Under a running experiment a user's arm names a model version, another scenario's champion
or the champion itself (control); the list it gives is tagged with the variant and, unless
it is a batch export, logged as an impression (recserve.experiments).
"""

from __future__ import annotations

from dataclasses import replace

from recserve.experiments.router import Arm, ExperimentRouter
from recserve.serving.champions import Champions
from recserve.serving.served import FALLBACK, RecommendationList, ServedModel


def served_for(
    champions: Champions, experiments: ExperimentRouter, scenario: str, user_id: str
) -> tuple[ServedModel, Arm | None]:
    """The model that answers ``user_id`` on ``scenario``, and their experiment arm. A
    variant whose scenario has no champion here gets the champion, untagged."""
    arm = experiments.arm(scenario, user_id)
    if arm is not None:
        if arm.served is not None:
            return arm.served, arm
        if arm.variant.scenario is not None:
            other = champions.get(arm.variant.scenario)
            return (other, arm) if other is not None else (champions.require(scenario), None)
    return champions.require(scenario), arm


def answering(
    champions: Champions, experiments: ExperimentRouter, scenario: str, user_id: str
) -> list[ServedModel]:
    """Every model that may answer: the user's arm or the champion, then the champions of
    the FALLBACK chain."""
    served, _ = served_for(champions, experiments, scenario, user_id)
    models = [served]
    while scenario in FALLBACK:
        scenario = FALLBACK[scenario]
        if (fallback := champions.get(scenario)) is not None:
            models.append(fallback)
    return models


def tagged(
    experiments: ExperimentRouter,
    arm: Arm | None,
    user_id: str,
    result: RecommendationList,
    log: bool,
) -> RecommendationList:
    """The list tagged with the user's experiment variant, and logged when ``log``."""
    if arm is None:
        return result
    if log:
        return experiments.record(arm, user_id, result)
    return replace(result, experiment=arm.experiment_id, variant=arm.variant.name)
