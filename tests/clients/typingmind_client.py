"""Drives every operation of the TypingMind seed spec through a client that
openapi-python-client generates from it, as a TypingMind integration would.

Usage: typingmind_client.py SPEC WORK_DIR BASE_URL API_KEY
Generates the client into WORK_DIR, asserts each answer, and prints one JSON
object with what it saw.
"""
import json
import subprocess
import sys
import time

import httpx

spec, work_dir, base_url, api_key = sys.argv[1:5]
subprocess.run(
    [sys.executable, "-m", "openapi_python_client", "generate", "--path", spec,
     "--output-path", f"{work_dir}/typingmind_client", "--meta", "none"],
    check=True,
    stdout=subprocess.DEVNULL,
)
sys.path.insert(0, work_dir)

from typingmind_client import AuthenticatedClient  # noqa: E402
from typingmind_client.api.characters import get_characters  # noqa: E402
from typingmind_client.api.chat import create_chat_completions  # noqa: E402
from typingmind_client.api.chatlogs import get_chatlogs  # noqa: E402
from typingmind_client.api.users import (  # noqa: E402
    add_user,
    delete_user,
    get_users,
    update_user,
)
from typingmind_client.models import (  # noqa: E402
    AddUserBody,
    CreateChatCompletionsBody,
    CreateChatCompletionsBodyMessagesItem,
    UpdateUserBody,
)
from typingmind_client.types import UNSET  # noqa: E402


class Model(str):
    """A model name the seed's enum predates (`echo`): the generated body
    sends `model.value`."""

    @property
    def value(self):
        return str(self)


client = AuthenticatedClient(
    base_url=base_url,
    token=api_key,
    prefix="",
    auth_header_name="X-API-KEY",
    raise_on_unexpected_status=True,
    timeout=httpx.Timeout(30),
)
started = time.time()

user = add_user.sync(client=client, body=AddUserBody(email="Ann@Example.com", tags=["team-a"]))
assert user.email == "ann@example.com" and user.tags == ["team-a"], user
found = get_users.sync(client=client, email="ann%40example.com")
assert [u.id for u in found.data] == [user.id], found

updated = update_user.sync_detailed(client=client, id=int(user.id), body=UpdateUserBody(tags=["team-b"]))
assert updated.status_code == 200, updated
assert json.loads(updated.content)["tags"] == ["team-b"], updated.content

# A character made outside the seed (it has no createCharacter), with no
# default model: the seed's Character says string, so it is left out.
httpx.post(
    f"{base_url}/ai-characters",
    headers={"X-API-KEY": api_key},
    json={"title": "Plain", "instruction": "Be plain."},
).raise_for_status()
characters = get_characters.sync(client=client).data
assert [c.title for c in characters] == ["Plain"], characters
assert characters[0].default_model is UNSET, characters[0]


def complete(body):
    response = create_chat_completions.sync_detailed(client=client, body=body)
    assert response.status_code == 200, (response.status_code, response.content)
    return json.loads(response.content)


# The seed marks model, messages and prompt all required: a Claude-style
# call sends an empty `messages`, a GPT-style one an empty `prompt`.
claude = complete(CreateChatCompletionsBody(
    model=Model("echo"), messages=[], prompt="\n\nHuman: Hello from the prompt\n\nAssistant:"))
assert claude["type"] == "completion", claude
gpt = complete(CreateChatCompletionsBody(
    model=Model("echo"),
    messages=[CreateChatCompletionsBodyMessagesItem.from_dict({"role": "user", "content": "Hello from messages"})],
    prompt=""))
assert gpt["object"] == "chat.completion", gpt

# Chat logs are written in the background: wait for both.
for _ in range(100):
    logs = get_chatlogs.sync(client=client, start_unix_time=started - 60, end_unix_time=time.time() + 60).data
    if len(logs) == 2:
        break
    time.sleep(0.1)
conversations = sorted(log.conversation_text for log in logs)

deleted = delete_user.sync_detailed(client=client, id=int(user.id))
assert deleted.status_code == 200, deleted
assert get_users.sync(client=client).data == []

print(json.dumps({
    "claude": claude["completion"],
    "gpt": gpt["choices"][0]["message"]["content"],
    "conversations": conversations,
}))
