"""The hotline call: registration, main menu, offers, wage reports, reaching an agent.

`step(state, event, ctx) -> (state, commands)` is pure. The turn core (ivr_flows.turn)
holds what every step shares; each dialogue (ivr_flows.dialogues) gives its own steps.
This module joins them into the one table a turn runs on, and is what callers import.
"""

from __future__ import annotations

from collections.abc import Mapping

from ivr_flows import turn as core
from ivr_flows.context import CallContext
from ivr_flows.dialogues import hired, main_menu, offers, profile, registration, wages
from ivr_flows.inputs import CallStarted, Done, FlowInput, HiresFound, OffersFound, SlotResult
from ivr_flows.turn import (
    ALWAYS_READ_BACK,
    AN_AMOUNT,
    ANY_STEP,
    CallState,
    Dialogues,
    Step,
    Turn,
    always_read_back,
    listening,
    run_turn,
)

__all__ = ["ALWAYS_READ_BACK", "AN_AMOUNT", "ANY_STEP", "CallState", "always_read_back",
           "listening", "step"]


def _call_started(turn: Turn, event: CallStarted) -> None:
    """Which call this is: one we placed (a job alert, a pay question, news of a hire), or
    the worker's own."""
    if event.alert is not None:
        offers.start_alert_call(turn, event.alert)
    elif event.pay is not None:
        wages.start_pay_call(turn, event.pay)
    elif event.hired is not None:
        hired.start_hired_call(turn, event.hired)
    else:
        main_menu.start(turn)


def _joined(*tables: Mapping[str, Step]) -> dict[str, Step]:
    steps: dict[str, Step] = {}
    for table in tables:
        if steps.keys() & table.keys():
            raise ValueError(f"steps given twice: {sorted(steps.keys() & table.keys())}")
        steps.update(table)
    return steps


DIALOGUES = Dialogues(
    steps=_joined(core.STEPS, registration.STEPS, main_menu.STEPS, profile.STEPS,
                  offers.STEPS, wages.STEPS, hired.STEPS),
    call_started=_call_started,
    results={
        OffersFound: offers.offers_found,
        SlotResult: offers.slot_result,
        HiresFound: hired.hires_found,
        Done: main_menu.checked_in,
    },
)


def step(state: CallState, event: FlowInput, ctx: CallContext) -> tuple[CallState, list]:
    return run_turn(state, event, ctx, DIALOGUES)
