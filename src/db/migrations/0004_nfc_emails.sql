-- Version 4: email addresses are compared and stored in Unicode NFC, so
-- `josé` typed precomposed or with a combining accent is one address.
-- Addresses stored before are normalised here (`nfc` is registered by the
-- migration runner). Where the normalised address already belongs to
-- another row, this row keeps its old spelling (OR IGNORE) rather than
-- creating a duplicate: it stays reachable by id, for an admin to merge.
UPDATE OR IGNORE users SET email = nfc(email) WHERE email <> nfc(email);
UPDATE OR IGNORE admins SET email = nfc(email) WHERE email <> nfc(email);
