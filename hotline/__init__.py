"""The application layer: runs a call turn, takes an SMS, sends the outbox, runs the
market's sweeps; the carrier interface it needs is in hotline.carrier."""
