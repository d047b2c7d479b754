"""Looks models up through mindgate with the official `openai` package.

Usage: openai_models.py BASE_URL API_KEY NAME...
Prints one JSON object: for each name, the model `models.retrieve` got
(id, object, owned_by), or the error it raised; and a chat with each name
that was found.
"""
import json
import sys

import openai
from openai import OpenAI

base_url, api_key, *names = sys.argv[1:]
client = OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)

result = {}
for name in names:
    try:
        model = client.models.retrieve(name)
        chat = client.chat.completions.create(
            model=name, messages=[{"role": "user", "content": "Hi there"}]
        )
        result[name] = {
            "id": model.id,
            "object": model.object,
            "owned_by": model.owned_by,
            "answer": chat.choices[0].message.content,
        }
    except openai.APIStatusError as error:
        result[name] = {"error": type(error).__name__, "status": error.status_code}
print(json.dumps(result))
