-- Platform operators, merchants' plans and suspension (issue 10; accounts/operators.py,
-- docs/console.md "Operator admin").
--
-- An operator runs the platform: they see every merchant, set its plan and suspend it. Only
-- the command line makes one (`portico operator add`), never a sign-up. A global table: an
-- operator belongs to no merchant.
CREATE TABLE platform_operators (
    user_id uuid PRIMARY KEY REFERENCES user_accounts ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A suspended merchant's members cannot use the console for it and its portal grants nobody
-- (suspended_at set); NULL: in service.
ALTER TABLE merchants
    ADD COLUMN plan text NOT NULL DEFAULT 'free' CHECK (plan IN ('free', 'standard', 'premium')),
    ADD COLUMN suspended_at timestamptz;
