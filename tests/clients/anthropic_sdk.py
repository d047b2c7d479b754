"""Drives mindgate with the official `anthropic` package, as a user's script would.

Usage: anthropic_sdk.py BASE_URL API_KEY MODEL MODE [thinking]

MODE is one of:
- `chat`: `messages.create` whole and streamed, `messages.stream` with its
  text stream and final message, `count_tokens` and `models.list`;
- `tools`: a tool-use round trip (the call whole, then streamed through
  `messages.stream`, then the tool's result sent back), with extended
  thinking asked for when `thinking` follows;
- `errors`: the SDK's exception for each of mindgate's refusals (a bad body,
  a wrong key, an unknown AI character) and, last, for the rate limit the
  test set up upstream.

Prints one JSON object of what the SDK returned.
"""
import json
import sys

import anthropic
from anthropic import Anthropic

base_url, api_key, model, mode = sys.argv[1:5]
thinking = sys.argv[5:] == ["thinking"]
messages = [{"role": "user", "content": "Hi there"}]
# No retries of its own: mindgate retries before it answers.
client = Anthropic(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)


def blocks(message):
    """A message's content blocks as plain JSON."""
    return [block.model_dump(mode="json", exclude_none=True) for block in message.content]


def usage(message):
    u = message.usage
    return {
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "cache_creation_input_tokens": u.cache_creation_input_tokens,
        "cache_read_input_tokens": u.cache_read_input_tokens,
    }


def summary(message):
    return {
        "id": message.id,
        "model": message.model,
        "role": message.role,
        "content": blocks(message),
        "stop_reason": message.stop_reason,
        "usage": usage(message),
    }


def chat():
    whole = client.messages.create(model=model, max_tokens=256, messages=messages)
    events = list(
        client.messages.create(model=model, max_tokens=256, messages=messages, stream=True)
    )
    streamed_text = "".join(
        e.delta.text
        for e in events
        if e.type == "content_block_delta" and e.delta.type == "text_delta"
    )
    with client.messages.stream(model=model, max_tokens=256, messages=messages) as stream:
        text_stream = list(stream.text_stream)
        final = stream.get_final_message()
    counted = client.messages.count_tokens(model=model, messages=messages)
    models = client.models.list()
    return {
        "whole": summary(whole),
        "event_types": [e.type for e in events],
        "streamed_text": streamed_text,
        "text_stream": text_stream,
        "final": summary(final),
        "count_tokens": counted.input_tokens,
        "models": [
            {
                "id": m.id,
                "type": m.type,
                "display_name": m.display_name,
                "created_at_is_a_datetime": hasattr(m.created_at, "isoformat"),
            }
            for m in models.data
        ],
        "has_more": models.has_more,
        "first_id": models.first_id,
        "last_id": models.last_id,
    }


TOOLS = [
    {
        "name": "get_weather",
        "description": "The weather in a city.",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    }
]


def tools():
    params = {"model": model, "max_tokens": 2048, "tools": TOOLS, "messages": messages}
    if thinking:
        params["thinking"] = {"type": "enabled", "budget_tokens": 1024}
    whole = client.messages.create(**params)
    with client.messages.stream(**params) as stream:
        text_stream = list(stream.text_stream)
        final = stream.get_final_message()
    call = next(b for b in final.content if b.type == "tool_use")
    # The assistant's turn as it came (thinking, signature and all), then
    # the tool's result.
    answered = client.messages.create(
        **{
            **params,
            "messages": messages
            + [
                {"role": "assistant", "content": blocks(final)},
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": call.id, "content": "Sunny, 24°C"}
                    ],
                },
            ],
        }
    )
    return {
        "whole": summary(whole),
        "text_stream": text_stream,
        "final": summary(final),
        "answered": summary(answered),
    }


def refusal(call):
    """The exception a call raises, as the SDK makes it."""
    try:
        call()
    except anthropic.APIStatusError as error:
        return {
            "class": type(error).__name__,
            "status": error.status_code,
            "message": error.message,
            "body": error.body,
        }
    return {"class": None}


def errors():
    wrong_key = Anthropic(base_url=base_url, api_key="mg_wrong", max_retries=0, timeout=30)
    create = client.messages.create
    return {
        "bad_body": refusal(
            lambda: create(model=model, max_tokens=256, messages="Hi there")
        ),
        "wrong_key": refusal(
            lambda: wrong_key.messages.create(model=model, max_tokens=256, messages=messages)
        ),
        "unknown_character": refusal(
            lambda: create(
                model=model,
                max_tokens=256,
                messages=messages,
                extra_body={"activatedCharacterID": "no-such-character"},
            )
        ),
        "rate_limited": refusal(
            lambda: create(model=model, max_tokens=256, messages=messages)
        ),
    }


print(json.dumps({"chat": chat, "tools": tools, "errors": errors}[mode]()))
