"""The chat template our local models train and generate with: ChatML with hermes tool calls and
`{% generation %}` markers, so that `return_assistant_tokens_mask` and TRL's `assistant_only_loss` train on
exactly what the model must produce.

    from copilot.models.chat_template import chatml_tool_template
    tokenizer.chat_template = chatml_tool_template("You are a helpful assistant.")

Layout: the system turn (the first message if it is a system message, else `default_system`), followed,
when tools are given, by their JSON schemas and how to call them (<tool_call>{"name", "arguments"}</tool_call>,
the Qwen2.5 / hermes convention that our tool-call parser reads); user turns as they are; assistant replies,
their tool calls and their <|im_end|> inside {% generation %}; role "tool" shown as a user turn holding
<tool_response> observations, consecutive tool messages sharing one turn, as in Qwen2.5's template.
Used by copilot.models.smollm2 (SmolLM2's default system prompt) and by the tests' tiny Qwen2 model.
Not protected against: a `default_system` containing a single quote (it is pasted into the Jinja source).
An unknown role is an error raised while rendering.
"""

from __future__ import annotations


def chatml_tool_template(default_system: str) -> str:
    """The Jinja chat template with `default_system` as the system prompt when the messages have none."""
    if "'" in default_system:
        raise ValueError(f"default_system must not contain a single quote: {default_system!r}")
    return r"""
{%- if messages and messages[0].role == 'system' %}{%- set system_text = messages[0].content %}{%- else %}{%- set system_text = '""" + default_system + r"""' %}{%- endif %}
{{- '<|im_start|>system\n' + system_text }}
{%- if tools %}
{{- '\n\n# Tools\n\nYou may call these functions. Their signatures are inside <tools></tools>:\n<tools>' }}
{%- for tool in tools %}{{- '\n' }}{{- tool | tojson }}{%- endfor %}
{{- '\n</tools>\n\nTo call one, write a JSON object with the function name and arguments inside <tool_call></tool_call> tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>' }}
{%- endif %}
{{- '<|im_end|>\n' }}
{%- for message in messages %}
{%- if message.role == 'user' or (message.role == 'system' and not loop.first) %}
{{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}
{%- elif message.role == 'assistant' %}
{{- '<|im_start|>assistant\n' }}
{%- generation %}
{%- if message.content %}{{- message.content }}{%- endif %}
{%- if message.tool_calls %}
{%- for tool_call in message.tool_calls %}
{%- if tool_call.function is defined %}{%- set tool_call = tool_call.function %}{%- endif %}
{%- if loop.first and not message.content %}{{- '<tool_call>\n' }}{%- else %}{{- '\n<tool_call>\n' }}{%- endif %}
{{- '{"name": "' + tool_call.name + '", "arguments": ' }}
{%- if tool_call.arguments is string %}{{- tool_call.arguments }}{%- else %}{{- tool_call.arguments | tojson }}{%- endif %}
{{- '}\n</tool_call>' }}
{%- endfor %}
{%- endif %}
{{- '<|im_end|>' }}
{%- endgeneration %}
{{- '\n' }}
{%- elif message.role == 'tool' %}
{%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}{{- '<|im_start|>user' }}{%- endif %}
{{- '\n<tool_response>\n' + message.content + '\n</tool_response>' }}
{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}{{- '<|im_end|>\n' }}{%- endif %}
{%- elif not (message.role == 'system' and loop.first) %}
{{- raise_exception('chat template: unknown message role ' ~ message.role) }}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}
""".strip()
