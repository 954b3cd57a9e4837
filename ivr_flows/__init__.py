"""The dialogues as pure state machines: (state, input, context) -> (state, commands).

Nothing here knows HTTP, Twilio or the database: the channel renders the commands,
the runner carries out the effects and feeds results back as inputs.
"""
