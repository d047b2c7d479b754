"""Drives mindgate's /responses with the official `openai` package.

Usage: openai_responses.py BASE_URL API_KEY MODEL
Prints one JSON object: `responses.create` whole and with `stream=True`,
`responses.stream(...)` and its final response, and a function-call round
trip (the call, then its output sent back).
"""
import json
import sys

from openai import OpenAI

base_url, api_key, model = sys.argv[1:4]
client = OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)

whole = client.responses.create(model=model, input="Hi there", instructions="Be brief.")

events = list(client.responses.create(model=model, input="Hi there", stream=True))
streamed = "".join(e.delta for e in events if e.type == "response.output_text.delta")
completed = [e for e in events if e.type == "response.completed"]

with client.responses.stream(model=model, input=[{"role": "user", "content": "Hi there"}]) as stream:
    helper_text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
    final = stream.get_final_response()

tools = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]
first = client.responses.create(model=model, input="Weather in Paris?", tools=tools)
calls = [item for item in first.output if item.type == "function_call"]
round_trip = None
if calls:
    call = calls[0]
    second = client.responses.create(
        model=model,
        tools=tools,
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            *[item.model_dump(exclude_none=True) for item in first.output],
            {"type": "function_call_output", "call_id": call.call_id, "output": "Sunny"},
        ],
    )
    round_trip = {
        "call": call.name,
        "arguments": json.loads(call.arguments),
        "answer": second.output_text,
    }

print(
    json.dumps(
        {
            "whole": whole.output_text,
            "status": whole.status,
            "input_tokens": whole.usage.input_tokens if whole.usage else None,
            "streamed": streamed,
            "events": len(events),
            "stream_output_tokens": completed[0].response.usage.output_tokens
            if completed and completed[0].response.usage
            else None,
            "helper": helper_text,
            "final": final.output_text,
            "final_id": final.id,
            "round_trip": round_trip,
        }
    )
)
