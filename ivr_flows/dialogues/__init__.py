"""The call's dialogues, one module each, on the turn core of ivr_flows.turn. Each gives
its steps as a STEPS table; ivr_flows.call_flow joins them into the one table a turn runs."""
