-- Version 6: what each chat costs. Prices on catalog models, the cost and
-- cache tokens of every chat log, and usage rolled up per day.

-- USD per million tokens, stored in millionths (2.5 is 2500000), so prices
-- such as 0.15 or 3.125 are exact. A model has a price when price_input is
-- set (price_output is then set too); a cache price left NULL is the input
-- price.
ALTER TABLE models ADD COLUMN price_input INTEGER CHECK (price_input >= 0);
ALTER TABLE models ADD COLUMN price_output INTEGER CHECK (price_output >= 0);
ALTER TABLE models ADD COLUMN price_cache_read INTEGER CHECK (price_cache_read >= 0);
ALTER TABLE models ADD COLUMN price_cache_write INTEGER CHECK (price_cache_write >= 0);

-- The vendors' list prices (see the README for their date), for the
-- built-in entries that still lead where they were shipped to lead; an
-- alias costs what its upstream model does. OpenAI charges nothing extra
-- to write its cache, Anthropic 1.25 times the input price.
WITH list (name, upstream, input, output, cache_read, cache_write) AS (VALUES
    ('gpt-3.5-turbo',       'gpt-3.5-turbo',       500000,   1500000, NULL,    NULL),
    ('gpt-3.5-turbo-16k',   'gpt-4o-mini',         150000,    600000, 75000,   NULL),
    ('gpt-3.5-turbo-0301',  'gpt-4o-mini',         150000,    600000, 75000,   NULL),
    ('gpt-4',               'gpt-4',             30000000,  60000000, NULL,    NULL),
    ('gpt-4-0314',          'gpt-4o',             2500000,  10000000, 1250000, NULL),
    ('gpt-4-32k',           'gpt-4o',             2500000,  10000000, 1250000, NULL),
    ('gpt-4-32k-0314',      'gpt-4o',             2500000,  10000000, 1250000, NULL),
    ('claude-2',            'claude-sonnet-4-5',  3000000,  15000000, 300000,  3750000),
    ('claude-1',            'claude-sonnet-4-5',  3000000,  15000000, 300000,  3750000),
    ('claude-instant-1',    'claude-haiku-4-5',   1000000,   5000000, 100000,  1250000),
    ('claude-instant-1.2',  'claude-haiku-4-5',   1000000,   5000000, 100000,  1250000),
    ('gpt-5',               'gpt-5',              1250000,  10000000, 125000,  NULL),
    ('gpt-5-mini',          'gpt-5-mini',          250000,   2000000, 25000,   NULL),
    ('gpt-5-nano',          'gpt-5-nano',           50000,    400000, 5000,    NULL),
    ('gpt-4.1',             'gpt-4.1',            2000000,   8000000, 500000,  NULL),
    ('gpt-4.1-mini',        'gpt-4.1-mini',        400000,   1600000, 100000,  NULL),
    ('gpt-4.1-nano',        'gpt-4.1-nano',        100000,    400000, 25000,   NULL),
    ('gpt-4o',              'gpt-4o',             2500000,  10000000, 1250000, NULL),
    ('gpt-4o-mini',         'gpt-4o-mini',         150000,    600000, 75000,   NULL),
    ('o3',                  'o3',                 2000000,   8000000, 500000,  NULL),
    ('o4-mini',             'o4-mini',            1100000,   4400000, 275000,  NULL),
    ('claude-opus-4-1',     'claude-opus-4-1',   15000000,  75000000, 1500000, 18750000),
    ('claude-sonnet-4-5',   'claude-sonnet-4-5',  3000000,  15000000, 300000,  3750000),
    ('claude-haiku-4-5',    'claude-haiku-4-5',   1000000,   5000000, 100000,  1250000),
    ('claude-3-5-haiku-latest', 'claude-3-5-haiku-latest', 800000, 4000000, 80000, 1000000)
)
UPDATE models SET
    price_input = list.input,
    price_output = list.output,
    price_cache_read = list.cache_read,
    price_cache_write = list.cache_write
FROM list
WHERE models.name = list.name AND models.upstream = list.upstream;

-- Each chat's tokens read from and written to the provider's prompt cache
-- (prompt_tokens counts only the other input tokens), its cost in
-- micro-dollars (NULL: its model had no price), and whether its tokens
-- were estimated from the text because the provider reported none.
ALTER TABLE chat_logs ADD COLUMN cache_read_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE chat_logs ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE chat_logs ADD COLUMN cost_micros INTEGER;
ALTER TABLE chat_logs ADD COLUMN usage_estimated INTEGER NOT NULL DEFAULT 0 CHECK (usage_estimated IN (0, 1));

-- Usage per UTC day (days since the Unix epoch), user, API key, model and
-- provider, added to in the transaction that records the chats, and never
-- deleted with them. No foreign keys: the totals outlive their user, who is
-- kept as the id and the email at the time. 0 and '' stand for none (a
-- primary key cannot hold NULL).
CREATE TABLE usage_rollups (
    day                 INTEGER NOT NULL,
    user_id             INTEGER NOT NULL,
    user_email          TEXT    NOT NULL,
    api_key_id          INTEGER NOT NULL,
    model               TEXT    NOT NULL,
    provider            TEXT    NOT NULL,
    requests            INTEGER NOT NULL,
    errors              INTEGER NOT NULL,
    input_tokens        INTEGER NOT NULL,
    output_tokens       INTEGER NOT NULL,
    cache_read_tokens   INTEGER NOT NULL,
    cache_write_tokens  INTEGER NOT NULL,
    cost_micros         INTEGER NOT NULL,
    -- Requests whose model had no price (they cost nothing).
    unpriced_requests   INTEGER NOT NULL,
    PRIMARY KEY (day, user_id, api_key_id, model, provider)
) WITHOUT ROWID;

-- The chats recorded before: one request each (a continued chat kept only
-- its last completion), with no cost.
INSERT INTO usage_rollups
SELECT c.recorded_at / 86400000, IFNULL(u.id, 0), IFNULL(u.email, ''), IFNULL(c.api_key_id, 0),
       IFNULL(c.model, ''), IFNULL(c.provider, ''), COUNT(*), SUM(c.status = 'error'),
       SUM(IFNULL(c.prompt_tokens, 0)), SUM(IFNULL(c.completion_tokens, 0)), 0, 0, 0, COUNT(*)
FROM chat_logs AS c LEFT JOIN users AS u ON u.id = c.user_id
GROUP BY 1, 2, 3, 4, 5, 6;
