"""Error responses in the shapes the real services use.

API errors are PascalCase (`Type`, `Code`, `Message`, `ValidationErrorMessages`);
the gateway (subscription key, token check, rate limit) answers in Azure API
Management's `statusCode`/`message` shape; the token endpoint in OAuth 2.0's
`error`/`error_description` shape.
"""

from __future__ import annotations

from aiohttp import web
import orjson

JSON = "application/json"


class ApiError(Exception):
    """An error response of the metering API itself."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        validation: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.validation = validation

    def response(self) -> web.Response:
        """The PascalCase error body."""
        body: dict[str, object] = {
            "Type": _TYPES.get(self.status, "Error"),
            "Code": self.code,
            "Message": self.message,
        }
        if self.validation is not None or self.status == 400:
            body["ValidationErrorMessages"] = self.validation or [self.message]
        return json_response(body, status=self.status)


class ValidationError(ApiError, ValueError):
    """400 with one or more validation messages (also a ValueError for Python callers)."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__(
            400, "InvalidParameters", "One or more validation errors occurred.", messages
        )


def no_valid_access(message: str) -> ApiError:
    """404 as the API uses it: no valid access for this EAN, period or granularity."""
    return ApiError(404, "NoValidAccess", message)


_TYPES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


def json_response(
    body: object, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON response serialised with orjson."""
    return web.Response(body=orjson.dumps(body), status=status, content_type=JSON, headers=headers)


def gateway_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """An Azure API Management gateway error."""
    return json_response({"statusCode": status, "message": message}, status=status, headers=headers)


def oauth_error(status: int, error: str, aadsts: int, text: str) -> web.Response:
    """An OAuth 2.0 token endpoint error with an Entra ID (AADSTS) style description."""
    return json_response(
        {"error": error, "error_description": f"AADSTS{aadsts}: {text}", "error_codes": [aadsts]},
        status=status,
    )
