"""The worker's own call: the greeting, on to registration or the main menu, and the main
menu's choices (offers, the update menu, a wage report, check-in, hires)."""

from __future__ import annotations

from ivr_flows.commands import CheckIn, FindHires, FindOffers
from ivr_flows.dialogues import registration
from ivr_flows.inputs import Done
from ivr_flows.turn import Step, Turn, asks
from store.statuses import WorkerStatus


def start(turn: Turn) -> None:
    """A hidden number reaches an agent (or the call ends); a registered worker hears the
    main menu, one part-way through registration resumes it, anyone else is asked to
    consent."""
    ctx, worker = turn.ctx, turn.ctx.worker
    if not ctx.caller:
        turn.say("hidden_number")
        if ctx.market.agent_numbers:
            turn.reach_agent("hidden_number")
        else:
            turn.end()
        return
    _greet(turn)
    if ctx.speech is not None:
        turn.say("speech_hint")
    if worker and worker.status == WorkerStatus.ACTIVE:
        turn.go("main_menu")
        return
    if worker and worker.consented:
        turn.state.draft = {
            "trades": list(worker.trades),
            "district_id": worker.district_id,
            "town_id": worker.town_id,
            "day_wage_fen": worker.day_wage_fen,
            "availability": worker.availability,
            "alert_channel": worker.alert_channel,
            "id_last4": worker.id_last4,
            "id_done": worker.id_last4 is not None,
            "name_recorded": worker.has_name_recording,
        }
        turn.say("resume")
        registration.next_step(turn)
        return
    turn.go("consent")


def _greet(turn: Turn) -> None:
    ctx, worker = turn.ctx, turn.ctx.worker
    if not (worker and worker.status == WorkerStatus.ACTIVE):
        turn.say("greeting_new", market=ctx.market.name)
    elif worker.name:
        turn.say("greeting_registered_name", name=worker.name, market=ctx.market.name)
    else:
        turn.say("greeting_registered_number", number=ctx.catalogue.digits(worker.number),
                 market=ctx.market.name)


def _on_main_menu(turn: Turn, value: str) -> None:
    if value == "1":
        turn.state.step = "offers_wait"
        turn.do(FindOffers())
    elif value == "2":
        turn.go("update_menu")
    elif value == "3":
        turn.go("wage_report")
    elif value == "4":
        turn.state.step = "check_in_wait"
        turn.do(CheckIn())
    elif value == "5":
        turn.state.step = "hires_wait"
        turn.do(FindHires())
    else:
        turn.fail()


def checked_in(turn: Turn, result: Done) -> None:
    if turn.state.step != "check_in_wait":
        return
    if result.ok:
        turn.say("checked_in", code=result.detail)
    else:
        turn.say("nothing_to_check_in")
    turn.go("main_menu")


STEPS = {
    "main_menu": Step(asks("main_menu"), _on_main_menu),
    "check_in_wait": Step(asks("main_menu")),  # keys while the check-in is looked up
}
