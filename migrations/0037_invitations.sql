-- Invitations by email (issue 10; accounts/invitations.py, docs/console.md "Team").
--
-- An owner invites an address to join the merchant as an owner or as staff of some stores.
-- Only the SHA-256 of the link's token is kept; the link expires and works once (accepting
-- deletes the row, as does revoking it). One pending invitation per address and merchant:
-- inviting the address again replaces it (and its link).
CREATE TABLE invitations (
    merchant_id uuid NOT NULL REFERENCES merchants,
    invitation_id uuid NOT NULL,
    token_hash bytea NOT NULL UNIQUE,
    email text NOT NULL,
    role text NOT NULL CHECK (role IN ('owner', 'staff')),
    store_ids uuid[] NOT NULL DEFAULT '{}',
    invited_by uuid REFERENCES user_accounts ON DELETE SET NULL,
    language text NOT NULL CHECK (language IN ('zh-CN', 'en')),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (merchant_id, invitation_id),
    UNIQUE (merchant_id, email)
);
CREATE INDEX invitations_expiry ON invitations (expires_at);
