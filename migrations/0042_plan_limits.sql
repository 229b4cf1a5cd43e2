-- Plans with limits (issue 10; accounts/plans.py, docs/console.md "Plans and their limits").
--
-- A plan caps what a merchant may have: stores, routers in service, and seats (its owners and
-- staff, with its pending invitations). A NULL limit is unlimited. The caps are data: an
-- operator changes a plan's numbers here, not in code. They are checked where a store, router
-- or invitation is made, with the merchant's row locked; lowering a plan below what a
-- merchant has removes nothing, it only stops further additions.
CREATE TABLE plans (
    plan text PRIMARY KEY CHECK (plan ~ '^[a-z][a-z0-9_]{0,30}$'),
    rank smallint NOT NULL UNIQUE,  -- the order operators see them in, smallest first
    max_stores integer CHECK (max_stores >= 0),
    max_routers integer CHECK (max_routers >= 0),
    max_seats integer CHECK (max_seats >= 1)  -- a merchant always keeps its first owner
);

INSERT INTO plans (plan, rank, max_stores, max_routers, max_seats) VALUES
    ('free', 1, 1, 2, 3),
    ('standard', 2, 5, 20, 10),
    ('premium', 3, NULL, NULL, NULL);

-- The list of plans was a CHECK (0040); now it is the table.
ALTER TABLE merchants DROP CONSTRAINT merchants_plan_check;
ALTER TABLE merchants ADD CONSTRAINT merchants_plan_fkey FOREIGN KEY (plan) REFERENCES plans;
