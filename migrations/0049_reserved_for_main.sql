-- Reserved: main's migration 0049 (another change) lands before this branch's 0050. This
-- empty placeholder only keeps the numbers without a gap on the wechat-link branch: delete
-- it when merging (main's own 0049 takes its place).
SELECT 1;
