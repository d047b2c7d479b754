"""Drives mindgate with the official `openai` package, as a user's script would.

Usage: openai_sdk.py BASE_URL API_KEY MODEL [retries]
Prints one JSON object: the whole answer, the streamed one, and its chunk count.
With `retries`, makes one call with the SDK's default retries and prints the
error it ends with instead.
"""
import json
import sys

import openai
from openai import OpenAI

base_url, api_key, model = sys.argv[1:4]
messages = [{"role": "user", "content": "Hi there"}]

if sys.argv[4:] == ["retries"]:
    client = OpenAI(base_url=base_url, api_key=api_key, timeout=30)
    try:
        client.chat.completions.create(model=model, messages=messages)
        print(json.dumps({"error": None}))
    except openai.APIStatusError as error:
        print(json.dumps({"error": type(error).__name__, "status": error.status_code}))
    sys.exit(0)

client = OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)

whole = client.chat.completions.create(model=model, messages=messages)
chunks = list(
    client.chat.completions.create(
        model=model,
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
    )
)
streamed = "".join(
    c.choices[0].delta.content or "" for c in chunks if c.choices
)
usage = next((c.usage for c in chunks if c.usage), None)
print(
    json.dumps(
        {
            "whole": whole.choices[0].message.content,
            "finish": whole.choices[0].finish_reason,
            "prompt_tokens": whole.usage.prompt_tokens if whole.usage else None,
            "streamed": streamed,
            "chunks": len(chunks),
            "stream_completion_tokens": usage.completion_tokens if usage else None,
        }
    )
)
