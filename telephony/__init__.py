"""The carrier edge: each carrier's adapter turns its requests into the hotline's inputs
and the dialogues' commands into its answers (telephony/twilio/)."""
