"""wordfreq: word frequencies, a wasp plugin written in Python.

Built with componentize-py against ``wit/v0.3.0/plugin.wit`` (world ``plugin``) by
``scripts/python-plugins.sh`` into ``target/wasm/python/wordfreq.wasm``.

Functions:

- ``count``: UTF-8 text -> the number of words in it, as decimal text (``"3"``).
- ``process``: a JSON object (an event) with a string field ``message`` -> the same
  object with ``"top"``: the list of its most frequent words, most frequent first,
  ties in order of first appearance.

A word is a run of letters, digits, ``_`` or ``'``, compared in lower case.

Config (optional): ``top``, how many words ``process`` lists (default 3); ``init``
fails with ``bad-config`` if it is not a positive integer. Call errors:
``bad-input`` for input that is not UTF-8 or not the JSON expected,
``unknown-function`` for a function that is not listed.
"""

# componentize-py runs this module once at build time and snapshots the interpreter;
# at run time nothing can be imported any more (the sandbox has no files). So every
# module used later must be imported here, including the ones the standard library
# imports lazily: `Counter.most_common(n)` imports `heapq` on first use.
import heapq  # noqa: F401
import json
import re
from collections import Counter
from dataclasses import dataclass

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.imports import host
from wit_world.imports.types import LogLevel, PluginError, PluginInfo

NAME = "wordfreq"
VERSION = "0.1.0"
DESCRIPTION = "Word frequencies of text and events (a Python plugin)"
DEFAULT_TOP = 3

WORD = re.compile(r"[\w']+")


class BadInputError(Exception):
    """Input that the function cannot use; becomes the plugin-error ``bad-input``."""


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


def top_words(text: str, n: int) -> list[str]:
    return [word for word, _ in Counter(words(text)).most_common(n)]


def decode_text(data: bytes, function: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadInputError(f"`{function}` needs UTF-8 text: {e}") from None


def count(data: bytes) -> bytes:
    return str(len(words(decode_text(data, "count")))).encode()


@dataclass
class State:
    """This instance's state. It lives at module level: componentize-py creates one
    ``Guest`` object per exported function, so ``init`` and ``call`` never share
    ``self``."""

    top: int = DEFAULT_TOP
    calls: int = 0


state = State()


def process(data: bytes) -> bytes:
    try:
        event = json.loads(decode_text(data, "process"))
    except json.JSONDecodeError as e:
        raise BadInputError(f"`process` needs JSON: {e}") from None
    if not isinstance(event, dict):
        raise BadInputError("`process` needs a JSON object")
    message = event.get("message")
    if not isinstance(message, str):
        raise BadInputError("`process` needs a string field `message`")
    event["top"] = top_words(message, state.top)
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


# The functions that `call` routes to, in the order `info` lists them.
ROUTES = {"count": count, "process": process}
FUNCTIONS = list(ROUTES)


def read_top() -> int:
    configured = host.get_config("top")
    if configured is None:
        return DEFAULT_TOP
    try:
        top = int(configured)
    except ValueError:
        top = 0
    if top < 1:
        message = f"config `top` must be a positive integer, not {configured!r}"
        raise Err(PluginError("bad-config", message))
    return top


class Guest(exports.Guest):
    """The component's ``guest`` export."""

    def info(self) -> PluginInfo:
        return PluginInfo(
            name=NAME,
            version=VERSION,
            description=DESCRIPTION,
            functions=list(FUNCTIONS),
        )

    def init(self) -> None:
        state.top = read_top()
        host.log(LogLevel.INFO, "wordfreq ready", [("top", str(state.top))])

    def call(self, function: str, input: bytes) -> bytes:
        route = ROUTES.get(function)
        if route is None:
            available = ", ".join(FUNCTIONS)
            message = f"plugin `{NAME}` has no function `{function}`; available: {available}"
            raise Err(PluginError("unknown-function", message))
        state.calls += 1
        try:
            return route(input)
        except BadInputError as e:
            raise Err(PluginError("bad-input", str(e))) from None

    def call_batch(self, function: str, inputs: list[bytes]) -> list:
        """``call`` on each input, in order: one ``Ok`` or ``Err`` per input."""
        results = []
        for data in inputs:
            try:
                results.append(Ok(self.call(function, data)))
            except Err as e:
                results.append(e)
        return results

    def shutdown(self) -> None:
        host.log(LogLevel.DEBUG, "wordfreq shutting down", [("calls", str(state.calls))])
