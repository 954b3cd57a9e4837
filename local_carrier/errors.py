"""Twilio REST error bodies: {"code", "message", "more_info", "status"}.

twilio-python turns such a body into TwilioRestException(status, uri, msg, code). A body
that also carried "type" and "title" would become TwilioServiceException, so we never add
them.
"""

from aiohttp import web


class TwilioApiError(Exception):
    """Raised by REST handlers; rendered as Twilio's error JSON with the HTTP status."""

    def __init__(self, status: int, code: int, message: str, *, detail: str | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail

    def body(self) -> dict[str, object]:
        body: dict[str, object] = {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }
        if self.detail:
            body["detail"] = self.detail
        return body

    def response(self) -> web.Response:
        headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if self.status == 401 else None
        return web.json_response(self.body(), status=self.status, headers=headers)


def not_found(path: str) -> TwilioApiError:
    return TwilioApiError(404, 20404, f"The requested resource {path} was not found")


def bad_request(code: int, message: str) -> TwilioApiError:
    return TwilioApiError(400, code, message)
