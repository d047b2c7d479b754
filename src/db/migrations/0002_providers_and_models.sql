-- Version 2: upstream providers and the model catalog, for the chat
-- completions gateway.

-- One row per upstream. 'openai' and 'anthropic' always exist; an admin may
-- add more OpenAI-compatible ones (Ollama, vLLM, OpenRouter, ...).
-- api_key is kept as given: mindgate must present it upstream.
CREATE TABLE providers (
    id          TEXT    PRIMARY KEY,
    kind        TEXT    NOT NULL CHECK (kind IN ('openai', 'anthropic')),
    name        TEXT    NOT NULL,
    base_url    TEXT    NOT NULL,
    api_key     TEXT,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO providers (id, kind, name, base_url, api_key, updated_at) VALUES
    ('openai', 'openai', 'OpenAI', 'https://api.openai.com/v1', NULL, 0),
    ('anthropic', 'anthropic', 'Anthropic', 'https://api.anthropic.com', NULL, 0);

-- The model catalog: the name a client sends, the provider it goes to and
-- the model id sent upstream (an alias when the two differ).
CREATE TABLE models (
    name         TEXT    PRIMARY KEY,
    provider_id  TEXT    NOT NULL REFERENCES providers(id) ON DELETE CASCADE,
    upstream     TEXT    NOT NULL,
    enabled      INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at   INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO models (name, provider_id, upstream, created_at) VALUES
    -- The spec's models; the retired ones are aliases of current models.
    ('gpt-3.5-turbo',       'openai',    'gpt-3.5-turbo',     0),
    ('gpt-3.5-turbo-16k',   'openai',    'gpt-4o-mini',       0),
    ('gpt-3.5-turbo-0301',  'openai',    'gpt-4o-mini',       0),
    ('gpt-4',               'openai',    'gpt-4',             0),
    ('gpt-4-0314',          'openai',    'gpt-4o',            0),
    ('gpt-4-32k',           'openai',    'gpt-4o',            0),
    ('gpt-4-32k-0314',      'openai',    'gpt-4o',            0),
    ('claude-2',            'anthropic', 'claude-sonnet-4-5', 0),
    ('claude-1',            'anthropic', 'claude-sonnet-4-5', 0),
    ('claude-instant-1',    'anthropic', 'claude-haiku-4-5',  0),
    ('claude-instant-1.2',  'anthropic', 'claude-haiku-4-5',  0),
    -- Current models of both vendors.
    ('gpt-5',               'openai',    'gpt-5',             0),
    ('gpt-5-mini',          'openai',    'gpt-5-mini',        0),
    ('gpt-5-nano',          'openai',    'gpt-5-nano',        0),
    ('gpt-4.1',             'openai',    'gpt-4.1',           0),
    ('gpt-4.1-mini',        'openai',    'gpt-4.1-mini',      0),
    ('gpt-4.1-nano',        'openai',    'gpt-4.1-nano',      0),
    ('gpt-4o',              'openai',    'gpt-4o',            0),
    ('gpt-4o-mini',         'openai',    'gpt-4o-mini',       0),
    ('o3',                  'openai',    'o3',                0),
    ('o4-mini',             'openai',    'o4-mini',           0),
    ('claude-opus-4-1',     'anthropic', 'claude-opus-4-1',   0),
    ('claude-sonnet-4-5',   'anthropic', 'claude-sonnet-4-5', 0),
    ('claude-haiku-4-5',    'anthropic', 'claude-haiku-4-5',  0),
    ('claude-3-5-haiku-latest', 'anthropic', 'claude-3-5-haiku-latest', 0);
