"""The local carrier: a faithful stand-in for Twilio (REST API, webhooks, simulated phones).

For development, demos and tests only; Twilio cannot be reached from our machines.
"""

from .call import CallStateError, ScriptedCall
from .carrier import LocalCarrier
from .messages import MessageRecord, SimulatedSms
from .phone_line import CallView, LocalLine, PhoneLine, RemoteLine
from .terminal import run_terminal_call
from .verbs import DialOutcome
from .webhooks import WebhookResult

__all__ = [
    "CallStateError",
    "CallView",
    "DialOutcome",
    "LocalCarrier",
    "LocalLine",
    "MessageRecord",
    "PhoneLine",
    "RemoteLine",
    "ScriptedCall",
    "SimulatedSms",
    "WebhookResult",
    "run_terminal_call",
]
