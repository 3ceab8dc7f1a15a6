-- keel's rows for ../shared/peers/crypto.sql (loaded by test/bench/peers.sh as EXTRA_SQL):
-- the same ~250-byte JSON values, encrypted and decrypted with a server-held key.
SET client_min_messages = warning;
SELECT keel.create_key('peer_bench', if_not_exists => true);
RESET client_min_messages;
ALTER TABLE peer_crypto_fixture ADD COLUMN IF NOT EXISTS keel_ct text;
ALTER TABLE peer_crypto_fixture ADD COLUMN IF NOT EXISTS keel_hash text;
UPDATE peer_crypto_fixture SET keel_ct = keel.encrypt_text(x, 'peer_bench'),
                               keel_hash = keel.hash_password(pw);
INSERT INTO peer_crypto_case VALUES
  ('crypto', 'keel.encrypt_text (AES-256-GCM)', 'keel.encrypt_text(f.x, ''peer_bench'')', false, 1024, 45),
  ('crypto', 'keel.encrypt bytea (AES-256-GCM)', 'keel.encrypt(convert_to(f.x, ''UTF8''), ''peer_bench'')', false, 1024, 46),
  ('crypto', 'keel.decrypt_text', 'keel.decrypt_text(f.keel_ct)', false, 1024, 65),
  ('password', 'keel.hash_password argon2id m=19MiB,t=2', 'keel.hash_password(f.pw)', false, 1, 90),
  ('password', 'keel.verify_password argon2id m=19MiB,t=2', 'keel.verify_password(f.pw, f.keel_hash)', false, 1, 95);
