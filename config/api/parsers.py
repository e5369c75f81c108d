"""The JSON parser of both API families."""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, which catches only ValueError: a body nested deeper than Python's
    recursion limit ([[[[... within the size limit) raised RecursionError, a 500. It is as
    unreadable as malformed JSON, and answered the same way (400)."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply") from exc
