"""A new user's first script: a local server's models through mindgate's `/v1`.

Usage: new_user.py BASE_URL API_KEY CHAT_MODEL EMBEDDING_MODEL RESPONSES_MODEL
The official `openai` package with its defaults (the models listed, a chat
whole and streamed, embeddings, a response whole and through
`responses.stream`), then LlamaIndex's `OpenAILike` with its defaults (a
text completion). Prints one JSON object: what each call answered.
"""
import json
import sys

from llama_index.llms.openai_like import OpenAILike
from openai import OpenAI

base_url, api_key, chat_model, embedding_model, responses_model = sys.argv[1:6]
client = OpenAI(base_url=base_url, api_key=api_key)
messages = [{"role": "user", "content": "Hi there"}]

listed = [m.id for m in client.models.list()]
chat = client.chat.completions.create(model=chat_model, messages=messages)
chunks = list(client.chat.completions.create(model=chat_model, messages=messages, stream=True))
texts = ["The food was delicious", "The waiter was friendly"]
embeddings = client.embeddings.create(model=embedding_model, input=texts)
response = client.responses.create(model=responses_model, input="Hi there")
with client.responses.stream(model=responses_model, input="Hi there") as stream:
    streamed = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
    final = stream.get_final_response()

llm = OpenAILike(model=chat_model, api_base=base_url, api_key=api_key)
completion = llm.complete("Say this is a test")

print(
    json.dumps(
        {
            "listed": listed,
            "chat": chat.choices[0].message.content,
            "chat_model": chat.model,
            "chat_streamed": "".join(c.choices[0].delta.content or "" for c in chunks if c.choices),
            "vectors": [list(e.embedding) for e in embeddings.data],
            "embedding_tokens": embeddings.usage.prompt_tokens,
            "response": response.output_text,
            "response_status": response.status,
            "response_streamed": streamed,
            "response_final": final.output_text,
            # LlamaIndex keeps the OpenAI object it got: a text completion.
            "completion": completion.text,
            "completion_object": completion.raw.object,
            "is_chat_model": llm.metadata.is_chat_model,
        }
    )
)
