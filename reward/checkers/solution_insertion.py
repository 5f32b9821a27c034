"""Put a solution into a harness at its "<<insert solution here>>" line, indented to that line's depth.

BioCoder harnesses (MedAgentGym release) hold the placeholder on a line of its own, in three shapes:
- at column 0 (a module-level function): the code goes in as written;
- indented inside a class body (a method, e.g. `@property def candidates(self)`): every line of the code is
  indented to the placeholder's depth, except lines that continue a multi-line string literal (their text is
  the string's content and stays as it is);
- as a comment, "# <<insert solution here>>": treated like the bare placeholder (the harness means the same
  place; see the gradability audit for harnesses that define the function again after it).
A placeholder inside other text on its line (e.g. `x = <<insert solution here>>`) is replaced in place.

The solution is dedented first, so code that arrives already indented (copied out of a class) goes in at the
placeholder's depth too. Not protected against: a solution that does not parse is indented line by line
(every line gets the prefix), so its own syntax error is what the run reports.
"""

from __future__ import annotations

import io
import re
import textwrap
import tokenize

PLACEHOLDER = "<<insert solution here>>"
_OWN_LINE = re.compile(r"^([ \t]*)(?:#[ \t]*)?" + re.escape(PLACEHOLDER) + r"[ \t]*$")


def placeholder_indent(harness: str) -> str | None:
    """The whitespace before the harness's placeholder when it stands on a line of its own, else None.
    ValueError when the harness holds no placeholder or more than one."""
    count = harness.count(PLACEHOLDER)
    if count != 1:
        raise ValueError(f"expected exactly one {PLACEHOLDER!r} marker; found {count}")
    for line in harness.splitlines():
        if PLACEHOLDER in line:
            match = _OWN_LINE.match(line)
            return match.group(1) if match else None
    return None  # pragma: no cover - count == 1 guarantees a line


def _string_continuation_lines(code: str) -> set[int]:
    """1-based numbers of the lines that begin inside a multi-line string literal of `code`."""
    inside: set[int] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type == tokenize.STRING and token.end[0] > token.start[0]:
                inside.update(range(token.start[0] + 1, token.end[0] + 1))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return set()
    return inside


def indent_code(code: str, prefix: str) -> str:
    """`code` dedented, then every line that is not empty and not inside a string literal prefixed."""
    code = textwrap.dedent(code)
    if not prefix:
        return code
    keep = _string_continuation_lines(code)
    lines = code.splitlines(keepends=True)
    return "".join(line if (number in keep or not line.strip()) else prefix + line
                   for number, line in enumerate(lines, start=1))


def insert_solution(harness: str, code: str) -> str:
    """The program: `harness` with its placeholder replaced by `code` (see the module docstring)."""
    indent = placeholder_indent(harness)
    if indent is None:
        return harness.replace(PLACEHOLDER, code, 1)
    body = indent_code(code, indent)
    if not body.endswith("\n"):
        body += "\n"
    out = []
    for line in harness.splitlines(keepends=True):
        if PLACEHOLDER in line:
            out.append(body)
        else:
            out.append(line)
    return "".join(out)
