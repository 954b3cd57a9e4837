"""Job offers: the matching offers read one by one from the main menu (1 holds a place,
2 passes), and the alert call we place about one job (mode "alert"), which ends after
the worker's answer."""

from __future__ import annotations

import dataclasses
from datetime import date

from basics.market_views import OfferView, SlotOutcome
from ivr_flows.commands import Ask, ReserveSlot
from ivr_flows.context import CallContext
from ivr_flows.inputs import OffersFound, SlotResult
from ivr_flows.turn import CallState, Step, Turn, asks, spoken_date

_REFUSALS = {SlotOutcome.FULL: "offer_full", SlotOutcome.OVERLAP: "offer_overlap"}


def start_alert_call(turn: Turn, offer: OfferView) -> None:
    """We called the worker about one job: read it, take 1 to accept, then goodbye."""
    turn.state.mode = "alert"
    turn.state.offers = [_offer_to_dict(offer)]
    turn.state.offer_index = 0
    turn.say("alert_intro")
    turn.go("offer")


def offers_found(turn: Turn, found: OffersFound) -> None:
    if not found.offers:
        turn.say("no_offers")
        turn.go("main_menu")
        return
    turn.state.offers = [_offer_to_dict(o) for o in found.offers]
    turn.state.offer_index = 0
    turn.go("offer")


def _on_offer(turn: Turn, value: str) -> None:
    offer = turn.state.offers[turn.state.offer_index]
    if value == "1":
        turn.state.step = "offer_wait"
        turn.do(ReserveSlot(offer["job_line_id"]))
    elif value == "2":
        _next_offer(turn)
    else:
        turn.fail()


def slot_result(turn: Turn, result: SlotResult) -> None:
    if turn.state.step != "offer_wait":
        turn.ask()
        return
    if result.outcome == SlotOutcome.RESERVED:
        turn.say("offer_reserved")
        turn.state.offers = []
        if turn.state.mode == "alert":
            turn.say("goodbye")
            turn.end()
        else:
            turn.go("main_menu")
    elif turn.state.mode == "alert":
        turn.say(_REFUSALS.get(result.outcome, "offer_not_open"))
        turn.say("alert_refused")
        turn.end()
    else:
        turn.say(_REFUSALS.get(result.outcome, "offer_not_open"))
        _next_offer(turn)


def _next_offer(turn: Turn) -> None:
    turn.state.offer_index += 1
    if turn.state.mode == "alert":
        turn.say("alert_declined")
        turn.end()
    elif turn.state.offer_index >= len(turn.state.offers):
        turn.say("offers_end")
        turn.state.offers = []
        turn.go("main_menu")
    else:
        turn.go("offer")


def _offer_to_dict(offer: OfferView) -> dict:
    data = dataclasses.asdict(offer)
    data["start_date"] = offer.start_date.isoformat()
    return data


def _offer(state: CallState, ctx: CallContext) -> Ask:
    cat, offer = ctx.catalogue, state.offers[state.offer_index]
    text = cat.text(
        "offer",
        trade=offer["trade"],
        wage=cat.yuan(offer["day_wage_fen"]),
        days=offer["days"],
        place=offer["place"],
        start=spoken_date(date.fromisoformat(offer["start_date"]), ctx),
    )
    return Ask((text, cat.text("offer_choices")))


STEPS = {
    "offers_wait": Step(asks("main_menu")),  # keys while the offers are looked up
    "offer": Step(_offer, _on_offer),
    "offer_wait": Step(_offer),  # keys while the place is being held
}
