-- A revoked voucher ends the sessions running on it (portal/vouchers.sql revoke_batch,
-- revoke_code): found by their code, without reading the merchant's other sessions.
CREATE INDEX portal_sessions_by_voucher ON portal_sessions (merchant_id, voucher_code)
    WHERE voucher_code IS NOT NULL;
