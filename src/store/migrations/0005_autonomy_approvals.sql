-- Bounded autonomy (issue 4): what agents and applications asked before acting, when the
-- autonomy policy said a human must decide first. Rows are never deleted: they are the
-- evidence that an action an agent took was approved, by whom, and when.
CREATE TABLE approval_requests (
  id text PRIMARY KEY,
  requester_id text NOT NULL REFERENCES principals (id),
  -- What the requester wants to do, as it asked (POST /api/v1/policy/decide).
  action text NOT NULL CHECK (length(action) BETWEEN 1 AND 200),
  risk text NOT NULL CHECK (risk IN ('low', 'medium', 'high')),
  amount double precision CHECK (amount >= 0),
  resource_type text,
  resource_id text,
  purpose text NOT NULL CHECK (length(purpose) BETWEEN 1 AND 2000),
  -- The autonomy rule that held it back, and the classifier's reason.
  rule text NOT NULL,
  rule_reason text NOT NULL,
  -- pending → approved | rejected; approved → redeemed (the requester acted on it). Expiry is
  -- a time, not a state: a pending or approved request past expires_at can no longer change.
  status text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'redeemed')),
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL CHECK (expires_at > created_at),
  decided_by text REFERENCES principals (id),
  decided_at timestamptz,
  decision_comment text CHECK (length(decision_comment) BETWEEN 1 AND 2000),
  redeemed_at timestamptz,
  CHECK ((resource_type IS NULL) = (resource_id IS NULL)),
  CHECK ((status = 'pending') = (decided_by IS NULL)),
  CHECK ((decided_by IS NULL) = (decided_at IS NULL) AND (decided_by IS NULL) = (decision_comment IS NULL)),
  CHECK ((status = 'redeemed') = (redeemed_at IS NOT NULL)),
  -- Separation of duties, again in the schema: whatever path wrote it, nobody resolves their own request.
  CHECK (decided_by IS NULL OR decided_by <> requester_id)
);
CREATE INDEX approval_requests_by_status ON approval_requests (status, created_at, id);
CREATE INDEX approval_requests_by_requester ON approval_requests (requester_id, created_at, id);
