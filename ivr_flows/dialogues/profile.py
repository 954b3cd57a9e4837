"""The update menu: change trades, availability or how job alerts come. The questions
are registration's, asked in mode "update" so that one answer saved ends the update."""

from __future__ import annotations

from ivr_flows.turn import Step, Turn, asks


def _on_update_menu(turn: Turn, value: str) -> None:
    turn.state.mode = "update"
    if value == "1":
        turn.state.draft = {"trades": []}
        turn.go("trades")
    elif value == "2":
        turn.go("availability")
    elif value == "3":
        turn.go("alert_channel")
    elif value == "4":
        turn.go("main_menu")
    else:
        turn.fail()


STEPS = {
    "update_menu": Step(asks("update_menu"), _on_update_menu),
}
