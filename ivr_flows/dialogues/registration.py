"""Registration: consent, then the profile a question at a time (trades, district and
town, day wage, availability, how job alerts come, ID number, name), then a review.

Each answer is saved as it is given, so a caller who hangs up resumes at the first
question still open. The update menu reuses the profile questions (mode "update"):
there one answer saved ends the update and the caller is back at the main menu.
"""

from __future__ import annotations

from basics.identity import is_valid_id_number
from basics.profile_limits import WAGE_MAX_YUAN, WAGE_MIN_YUAN
from ivr_flows.commands import (
    Ask,
    CompleteRegistration,
    RecordConsent,
    RecordName,
    SaveProfile,
    StoreIdNumber,
)
from ivr_flows.context import CallContext
from ivr_flows.inputs import Recorded
from ivr_flows.listening import ITEM, page_of
from ivr_flows.turn import CallState, Step, Turn, asks
from store.statuses import Availability, Channel

# Menu keys to the words stored. Plain strings: the call's state goes to JSON and back
# every turn, so its draft holds plain strings whether saved yet or not.
AVAILABILITY = {"1": Availability.TODAY.value, "2": Availability.TOMORROW.value,
                "3": Availability.WEEK.value, "4": Availability.NOT_NOW.value}
ALERT_CHANNELS = {"1": Channel.SMS.value, "2": Channel.CALL.value}


def next_step(turn: Turn) -> None:
    """Ask the first question the draft has no answer to yet, or the review."""
    draft = turn.state.draft
    if not draft.get("trades"):
        turn.go("trades")
    elif not draft.get("town_id"):
        turn.go("district")
    elif draft.get("day_wage_fen") is None:
        turn.go("wage")
    elif not draft.get("availability"):
        turn.go("availability")
    elif not draft.get("alert_channel"):
        turn.go("alert_channel")
    elif not draft.get("id_done"):
        turn.go("id_ask")
    elif not draft.get("name_recorded"):
        turn.go("name")
    else:
        turn.go("review")


def _after_profile_change(turn: Turn) -> None:
    if turn.state.mode == "update":
        turn.say("updated")
        turn.state.mode = "register"
        turn.go("main_menu")
    else:
        next_step(turn)


def _on_consent(turn: Turn, value: str) -> None:
    if value == "1":
        turn.do(RecordConsent())
        turn.state.mode = "register"
        turn.state.draft = {}
        next_step(turn)
    elif value == "2":
        turn.say("consent_declined")
        turn.end()
    else:
        turn.fail()


def _on_trades(turn: Turn, value: str) -> None:
    trades = [t.code for t in turn.ctx.market.trades]
    chosen = _menu_choice(turn, trades, value)
    if chosen is None:
        return
    picked = turn.state.draft.setdefault("trades", [])
    if chosen not in picked:
        picked.append(chosen)
    turn.do(SaveProfile({"trades": list(picked)}))
    names = [turn.ctx.market.trade_name(code) for code in picked]
    turn.say("trade_added", trades=turn.ctx.catalogue.join(names))
    turn.go("trades_more")


def _on_trades_more(turn: Turn, value: str) -> None:
    if value == "1":
        turn.go("trades")
    elif value == "2":
        _after_profile_change(turn)
    else:
        turn.fail()


def _on_district(turn: Turn, value: str) -> None:
    districts = turn.ctx.market.districts
    chosen = _menu_choice(turn, [d.id for d in districts], value)
    if chosen is None:
        return
    turn.state.draft["district_id"] = chosen
    turn.go("town")


def _on_town(turn: Turn, value: str) -> None:
    district = turn.ctx.market.district(turn.state.draft.get("district_id"))
    towns = [t.id for t in district.towns] if district else []
    chosen = _menu_choice(turn, towns, value)
    if chosen is None:
        return
    turn.state.draft["town_id"] = chosen
    turn.do(SaveProfile({"district_id": district.id, "town_id": chosen}))
    next_step(turn)


def _on_wage(turn: Turn, value: str) -> None:
    if not value.isdigit() or not WAGE_MIN_YUAN <= int(value) <= WAGE_MAX_YUAN:
        turn.fail("wage_invalid", min=WAGE_MIN_YUAN, max=WAGE_MAX_YUAN)
        return
    fen = int(value) * 100
    turn.state.draft["day_wage_fen"] = fen
    turn.do(SaveProfile({"day_wage_fen": fen}))
    next_step(turn)


def _on_availability(turn: Turn, value: str) -> None:
    if value not in AVAILABILITY:
        turn.fail()
        return
    turn.state.draft["availability"] = AVAILABILITY[value]
    turn.do(SaveProfile({"availability": AVAILABILITY[value]}))
    _after_profile_change(turn)


def _on_alert_channel(turn: Turn, value: str) -> None:
    """Workers who cannot read get their job alerts as automated calls."""
    if value not in ALERT_CHANNELS:
        turn.fail()
        return
    turn.state.draft["alert_channel"] = ALERT_CHANNELS[value]
    turn.do(SaveProfile({"alert_channel": ALERT_CHANNELS[value]}))
    _after_profile_change(turn)


def _on_id_ask(turn: Turn, value: str) -> None:
    if value == "1":
        turn.go("id_entry")
    elif value == "2":
        turn.state.draft["id_done"] = True
        next_step(turn)
    else:
        turn.fail()


def _on_id_entry(turn: Turn, value: str) -> None:
    id_number = value.replace("*", "X")
    if not is_valid_id_number(id_number):
        turn.fail("id_invalid")
        return
    turn.do(StoreIdNumber(id_number))
    turn.state.draft.update(id_done=True, id_last4=id_number[-4:])
    next_step(turn)


def _on_name(turn: Turn, event: Recorded) -> None:
    if event.duration_seconds <= 0 or not event.url:
        turn.fail("name_missing")
        return
    turn.state.draft["name_recorded"] = True
    turn.do(SaveProfile({"name_recording_url": event.url}))
    next_step(turn)


def _on_review(turn: Turn, value: str) -> None:
    if value == "1":
        turn.do(CompleteRegistration())
        worker = turn.ctx.worker
        number = turn.ctx.catalogue.digits(worker.number) if worker else ""
        turn.say("registered", number=number)
        turn.state.draft = {}
        turn.go("main_menu")
    elif value == "2":
        turn.state.draft = {"id_done": False}
        turn.go("trades")
    else:
        turn.fail()


# --- paged menus ---------------------------------------------------------------------
def _menu(state: CallState, ctx: CallContext, labels: list[str], prompt_id: str) -> Ask:
    """At most 4 keys a page: 4 items, or 3 and a key that pages on (wrapping round)."""
    cat = ctx.catalogue
    page_items, paged = page_of(labels, state.page)
    options = [cat.text("menu_option", label=x, key=i + 1) for i, x in enumerate(page_items)]
    if paged:
        last_page = (state.page + 1) * 3 >= len(labels)
        options.append(cat.text("back_to_start_option" if last_page else "more_option", key=4))
    return Ask((cat.text(prompt_id, options="，".join(options)),))


def _menu_choice(turn: Turn, items: list, value: str) -> object | None:
    """The item for a key on the current page; pages on for 4; None after a failure."""
    if value.startswith(ITEM):  # said by name, whatever page is playing
        chosen = next((item for item in items if str(item) == value[len(ITEM):]), None)
        if chosen is None:
            turn.fail()
        return chosen
    page_items, paged = page_of(items, turn.state.page)
    if paged and value == "4":
        next_page = turn.state.page + 1
        turn.go(turn.state.step, page=next_page if next_page * 3 < len(items) else 0)
        return None
    if value.isdigit() and 1 <= int(value) <= len(page_items):
        return page_items[int(value) - 1]
    turn.fail()
    return None


# --- prompts -------------------------------------------------------------------------
def _trades_menu(state: CallState, ctx: CallContext) -> Ask:
    return _menu(state, ctx, [t.name for t in ctx.market.trades], "trades_menu")


def _district_menu(state: CallState, ctx: CallContext) -> Ask:
    return _menu(state, ctx, [d.name for d in ctx.market.districts], "district_menu")


def _town_menu(state: CallState, ctx: CallContext) -> Ask:
    district = ctx.market.district(state.draft.get("district_id"))
    return _menu(state, ctx, [t.name for t in district.towns] if district else [], "town_menu")


def _review(state: CallState, ctx: CallContext) -> Ask:
    cat, market, draft = ctx.catalogue, ctx.market, state.draft
    district, town = market.district(draft.get("district_id")), market.town(draft.get("town_id"))
    last4 = draft.get("id_last4")
    id_text = cat.text("review_id_last4", last4=cat.digits(last4)) if last4 else None
    text = cat.text(
        "review",
        trades=cat.join([market.trade_name(c) for c in draft.get("trades", [])]),
        district=district.name if district else "",
        town=town.name if town else "",
        wage=cat.yuan(draft.get("day_wage_fen") or 0),
        availability=cat.text(f"availability_{draft.get('availability')}"),
        alert_channel=cat.text(f"alert_channel_{draft.get('alert_channel') or Channel.SMS}"),
        id=id_text or cat.text("review_id_none"),
    )
    return Ask((text,))


STEPS = {
    "consent": Step(asks("consent"), _on_consent),
    "trades": Step(_trades_menu, _on_trades),
    "trades_more": Step(asks("trades_more"), _on_trades_more),
    "district": Step(_district_menu, _on_district),
    "town": Step(_town_menu, _on_town),
    "wage": Step(asks("wage_ask", max_digits=5, finish_on_key="#", timeout_seconds=10),
                 _on_wage),
    "availability": Step(asks("availability_menu"), _on_availability),
    "alert_channel": Step(asks("alert_channel_menu"), _on_alert_channel),
    "id_ask": Step(asks("id_ask"), _on_id_ask),
    "id_entry": Step(asks("id_entry", max_digits=18, finish_on_key="#", timeout_seconds=15),
                     _on_id_entry),
    "name": Step(lambda state, ctx: RecordName((ctx.catalogue.text("name_record"),)),
                 on_recorded=_on_name),
    "review": Step(_review, _on_review),
}
