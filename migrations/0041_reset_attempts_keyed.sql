-- Password reset requests are counted per address by a keyed hash of the address
-- (accounts.services.email_key), no longer the address itself (PRODUCT.md §5:
-- emails are kept as a keyed hash where only a look-up is needed). The rows are an hour's
-- counters (0038): they are dropped rather than converted (the key is not in the database),
-- which lets each address and client start their limits afresh once.
DELETE FROM password_reset_attempts;
ALTER TABLE password_reset_attempts RENAME COLUMN email TO email_hash;
ALTER INDEX password_reset_attempts_email RENAME TO password_reset_attempts_email_hash;
