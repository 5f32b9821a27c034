"""BioCoder (and the offline biocoder pack): write one bioinformatics function that a harness calls.

Record shape (MedAgentGym release): "idx" (hash id), "problem" (the request), "signature"
("def sanitize_tex(original_text)", or decorator lines first: "@property\ndef candidates(self)"),
"solution" (the reference function), "context" (the harness: imports, helpers, "<<insert solution here>>" on
a line of its own, at column 0 or indented inside a class body (a method), then a main() that prints
results), "code" (the harness with the reference pasted in, unindented: not used). Offline biocoder records
add "reference_solution" (the reference function's code) and "answer" (the stdout of `code`, precomputed;
"expected_output" is accepted too).

Task: checker "biocoder"; answer = that precomputed stdout when the record has it, else None (the checker runs
the reference in the harness and caches its stdout); checker_params {"harness", "reference",
"function_name"}. The prompt's context shows the signature and the harness with its placeholder (the harness
prints the function's outputs but never the expected values). No resources. Template (for stats) = the
function name (a pack's "template" field wins).
"""

from __future__ import annotations

import re

from copilot.tasks.loaders.release_layout import DatasetDir, pack_reference, template_from_record
from copilot.tasks.task import Task

PLACEHOLDER = "<<insert solution here>>"
# A signature is optional decorator lines ("@property", "@on_array(0)") and then the def line.
_SIGNATURE = re.compile(r"^\s*(?:@[^\n]*\n\s*)*(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\(")
_INDENTED_PLACEHOLDER = re.compile(r"^[ \t]+(?:#[ \t]*)?" + re.escape(PLACEHOLDER) + r"[ \t]*$", re.MULTILINE)


def _context(signature: str, harness: str) -> str:
    where = ("It is a method: the placeholder stands inside a class body, so write it at column 0 with its "
             "decorators and `self` as in the signature; it is indented to the placeholder's depth when "
             "inserted. " if _INDENTED_PLACEHOLDER.search(harness) else "")
    return (f"Write a Python function with this signature:\n{signature}\n\n"
            f"Your function will be inserted at {PLACEHOLDER} in the following program, which then runs its "
            f"main() and prints the results. {where}\n<code>\n{harness}\n</code>")


def _function_name(record) -> str:
    signature = record.text("signature", allow_empty=False)
    match = _SIGNATURE.match(signature)
    if match is None:
        raise record.error("signature", "a Python signature: optional @decorator lines, then 'def name(args)'",
                           signature)
    return match.group(1)


def load_biocoder(ds: DatasetDir, split: str) -> list[Task]:
    tasks = []
    for record in ds.records(split):
        with ds.guard(record):
            problem = record.text("problem", allow_empty=False)
            signature = record.text("signature", allow_empty=False)
            harness = record.text("context", allow_empty=False)
            if harness.count(PLACEHOLDER) != 1:
                raise record.error("context", f"a harness containing {PLACEHOLDER!r} exactly once", harness)
            function_name = _function_name(record)
            reference = record.text("solution", optional=True)
            if reference is None:
                reference = record.text("reference_solution", allow_empty=False)
            if f"def {function_name}" not in reference:
                raise record.error("solution", f"the reference code defining {function_name}()", reference)
            expected = record.text("expected_output", optional=True)
            if expected is None:
                expected = record.text("answer", optional=True)
            meta = {"source": record.source, "template": template_from_record(record, function_name),
                    "signature": signature, "reference_solution": reference, **pack_reference(record)}
            if record.has("idx"):
                meta["record_id"] = record.data["idx"]
            tasks.append(Task(id=ds.task_id(split, record.index), dataset=ds.dataset, split=split,
                              family="bioinformatics", question=problem, context=_context(signature, harness),
                              answer=expected, checker="biocoder",
                              checker_params={"harness": harness, "reference": reference,
                                              "function_name": function_name},
                              meta=meta))
    return tasks
