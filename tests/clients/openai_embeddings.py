"""Embeds through mindgate with the official `openai` package, as a RAG tool would.

Usage: openai_embeddings.py BASE_URL API_KEY MODEL
Prints one JSON object: the vectors of a string (the SDK asks for base64 when
no encoding_format is given, and decodes it), of a list (base64 too), and of
the same list asked as floats, with the usage reported.
"""
import json
import sys

from openai import OpenAI

base_url, api_key, model = sys.argv[1:4]
client = OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)

one = client.embeddings.create(model=model, input="The food was delicious")
texts = ["The food was delicious", "The waiter was friendly"]
listed = client.embeddings.create(model=model, input=texts)
floats = client.embeddings.create(model=model, input=texts, encoding_format="float")
print(
    json.dumps(
        {
            "one": [list(e.embedding) for e in one.data],
            "listed": [list(e.embedding) for e in listed.data],
            "floats": [list(e.embedding) for e in floats.data],
            "indexes": [e.index for e in listed.data],
            "prompt_tokens": one.usage.prompt_tokens,
            "model": one.model,
        }
    )
)
