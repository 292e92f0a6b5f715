import { z } from 'zod';
import { ConfigInvalid, type FieldIssue } from '../core/index.js';
import { formatPath, parseLocatedYaml } from './source.js';
import { RISK_TIERS, type RiskTier } from './vocabulary.js';

/**
 * Bounded autonomy: a policy document sorts what an agent or application wants to do into
 * `autonomous`, `notify_human` or `require_approval`, by action type, risk and amount.
 * Every matching rule applies and the most restrictive tier wins, so the document reads as a
 * list of independent limits: adding a rule can only tighten.
 */

/** The tiers, least to most restrictive. */
export const AUTONOMY_TIERS = ['autonomous', 'notify_human', 'require_approval'] as const;
/** How much a human is involved before the action happens. */
export type AutonomyTier = (typeof AUTONOMY_TIERS)[number];

/** The rule id a decision names when no rule matched. */
export const AUTONOMY_DEFAULT_RULE = 'default';

const tier = z.enum(AUTONOMY_TIERS);
const actionPattern = z
  .string()
  .min(1)
  .regex(/^[A-Za-z0-9_.*-]+$/, 'an action pattern is letters, digits, ".", "_", "-" and "*" for any run of characters');

const threshold = z.strictObject({
  /** Applies when the request's amount is strictly greater than this. */
  over: z.number().nonnegative(),
  tier,
});

const rule = z
  .strictObject({
    id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lower-case letters, digits, ".", "_" or "-"'),
    description: z.string().optional(),
    /** Action types this rule covers. */
    actions: z.array(actionPattern).min(1),
    /** Risk tiers this rule covers. @default every tier */
    risk: z.array(z.enum(RISK_TIERS)).min(1).optional(),
    /** The tier when no threshold is passed. */
    tier,
    /** Amount limits, ascending: above `over`, the tier becomes at least `tier`. */
    thresholds: z.array(threshold).min(1).optional(),
  })
  .superRefine((r, ctx) => {
    r.thresholds?.forEach((t, i) => {
      const previous = r.thresholds?.[i - 1];
      if (previous && t.over <= previous.over) {
        ctx.addIssue({ code: 'custom', path: ['thresholds', i, 'over'], message: `must be greater than the previous threshold (${previous.over})` });
      }
    });
  });

/** The autonomy policy document (YAML or JSON). */
export const autonomyPolicySchema = z
  .strictObject({
    version: z.literal(1),
    /** Tier of a request no rule matches. */
    default: tier,
    rules: z.array(rule),
  })
  .superRefine((doc, ctx) => {
    const seen = new Map<string, number>();
    doc.rules.forEach((r, i) => {
      const first = seen.get(r.id);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['rules', i, 'id'], message: `duplicate rule id (first at rules[${first}])` });
      else seen.set(r.id, i);
    });
  });

/** A validated autonomy policy document. */
export type AutonomyPolicy = z.output<typeof autonomyPolicySchema>;

/** What an agent or application asks before acting. */
export interface AutonomyRequest {
  /** Dotted action type, e.g. `deployment.rollback`, `payment.refund`. */
  action: string;
  risk: RiskTier;
  /** Amount at stake (money, compute budget), when the action has one. */
  amount?: number;
}

/** The tier, the rule that decided it, and why. */
export interface AutonomyDecision {
  tier: AutonomyTier;
  rule: string;
  reason: string;
}

/**
 * Parses and validates an autonomy document; throws `ConfigInvalid` naming each bad field
 * with its line in `file`.
 */
export function parseAutonomyPolicy(text: string, file: string): AutonomyPolicy {
  const located = parseLocatedYaml(text);
  if (located.syntaxErrors.length > 0) {
    throw new ConfigInvalid(located.syntaxErrors.map((e) => ({ field: `${file}:${e.line}`, message: e.message })), file);
  }
  const result = autonomyPolicySchema.safeParse(located.value);
  if (result.success) return result.data;
  const issues: FieldIssue[] = result.error.issues.map((issue) => ({
    field: formatPath(issue.path),
    message: `${issue.message} (${file}:${located.lineOf(issue.path)})`,
  }));
  throw new ConfigInvalid(issues, file);
}

const patternCache = new Map<string, RegExp>();
function matchesPattern(pattern: string, action: string): boolean {
  let re = patternCache.get(pattern);
  if (!re) {
    re = new RegExp('^' + pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\-]/g, '\\$&')).join('.*') + '$');
    patternCache.set(pattern, re);
  }
  return re.test(action);
}

const rank = (t: AutonomyTier): number => AUTONOMY_TIERS.indexOf(t);

/** Sorts a request into a tier: the most restrictive of every matching rule (first such rule on a tie). */
export function classifyAutonomy(policy: AutonomyPolicy, request: AutonomyRequest): AutonomyDecision {
  let best: AutonomyDecision | undefined;
  for (const r of policy.rules) {
    if (!r.actions.some((p) => matchesPattern(p, request.action))) continue;
    if (r.risk && !r.risk.includes(request.risk)) continue;
    let decision: AutonomyDecision = { tier: r.tier, rule: r.id, reason: `${request.action} matches ${r.id}` };
    for (const t of r.thresholds ?? []) {
      if (request.amount !== undefined && request.amount <= t.over) break;
      if (rank(t.tier) > rank(decision.tier)) {
        decision = {
          tier: t.tier,
          rule: r.id,
          reason:
            request.amount === undefined
              ? `${request.action} gives no amount; ${r.id} treats it as over ${t.over}`
              : `amount ${request.amount} is over ${t.over} in ${r.id}`,
        };
      }
    }
    if (!best || rank(decision.tier) > rank(best.tier)) best = decision;
  }
  return best ?? { tier: policy.default, rule: AUTONOMY_DEFAULT_RULE, reason: `no rule matches ${request.action}; the default applies` };
}
