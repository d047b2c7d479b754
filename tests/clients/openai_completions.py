"""Legacy text completions (`/completions`) through mindgate, as clients send them.

Usage: openai_completions.py BASE_URL API_KEY MODEL openai|llamaindex
`openai`: the official `openai` package's `completions.create`, whole and
streamed. `llamaindex`: LlamaIndex's `OpenAILike` LLM, which calls
`/completions` by default, with `complete()` and `stream_complete()`.
Prints one JSON object: the texts, finish reasons and usage seen.
"""
import json
import sys

base_url, api_key, model, client_kind = sys.argv[1:5]
prompt = "Say this is a test"

if client_kind == "openai":
    from openai import OpenAI

    client = OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)
    whole = client.completions.create(model=model, prompt=prompt, max_tokens=16, stop=["\n"])
    several = client.completions.create(model=model, prompt=[prompt, "Another"], echo=True)
    chunks = list(
        client.completions.create(
            model=model,
            prompt=prompt,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    usage = next((c.usage for c in chunks if c.usage), None)
    print(
        json.dumps(
            {
                "object": whole.object,
                "whole": whole.choices[0].text,
                "finish": whole.choices[0].finish_reason,
                "prompt_tokens": whole.usage.prompt_tokens if whole.usage else None,
                "several": [[c.index, c.text] for c in several.choices],
                "streamed": "".join(c.choices[0].text for c in chunks if c.choices),
                "chunks": len(chunks),
                "stream_completion_tokens": usage.completion_tokens if usage else None,
            }
        )
    )
else:
    from llama_index.llms.openai_like import OpenAILike

    llm = OpenAILike(
        model=model,
        api_base=base_url,
        api_key=api_key,
        is_chat_model=False,
        max_retries=0,
        timeout=30,
    )
    whole = llm.complete(prompt)
    streamed = list(llm.stream_complete(prompt))
    print(
        json.dumps(
            {
                "whole": whole.text,
                "streamed": streamed[-1].text if streamed else None,
                "deltas": len(streamed),
            }
        )
    )
