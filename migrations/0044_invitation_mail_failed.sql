-- An invitation whose email the mail server refused stays pending and says so on the Team page
-- until a re-send goes through (accounts/invitations.py, docs/console.md "Team"): NULL when the
-- last email for its current link was taken by the server.
ALTER TABLE invitations ADD COLUMN mail_failed_at timestamptz;
