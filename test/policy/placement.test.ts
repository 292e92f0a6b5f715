import { beforeAll, describe, expect, it } from 'vitest';
import {
  CLASSIFICATIONS,
  DEFAULT_DENY_RULE,
  loadPolicyEngine,
  STANDARD_ZONES,
  ZONE_TIERS,
  type Classification,
  type PolicyEngine,
  type ZoneTier,
} from '../../src/policy/index.js';
import { tempDirs } from './fixtures.js';

const tempDir = tempDirs();
let engine: PolicyEngine;
beforeAll(async () => {
  engine = await loadPolicyEngine();
});

const zone = (tier: ZoneTier, region = 'local') => ({ id: `${tier}-1`, tier, region });

// The whole table: classification × zone tier → allowed, and the rule that decides.
const TABLE: Record<Classification, Record<ZoneTier, [boolean, string]>> = {
  public: {
    'on-prem-secure': [true, 'placement.open-data-any-zone'],
    'on-prem': [true, 'placement.open-data-any-zone'],
    'cloud-burst': [true, 'placement.open-data-any-zone'],
  },
  internal: {
    'on-prem-secure': [true, 'placement.open-data-any-zone'],
    'on-prem': [true, 'placement.open-data-any-zone'],
    'cloud-burst': [true, 'placement.open-data-any-zone'],
  },
  confidential: {
    'on-prem-secure': [true, 'placement.restricted-data-on-prem'],
    'on-prem': [true, 'placement.restricted-data-on-prem'],
    'cloud-burst': [false, 'placement.regulated-data-not-in-cloud'],
  },
  PII: {
    'on-prem-secure': [true, 'placement.restricted-data-on-prem'],
    'on-prem': [true, 'placement.restricted-data-on-prem'],
    'cloud-burst': [false, 'placement.regulated-data-not-in-cloud'],
  },
  PCI: {
    'on-prem-secure': [true, 'placement.restricted-data-on-prem'],
    'on-prem': [true, 'placement.restricted-data-on-prem'],
    'cloud-burst': [false, 'placement.regulated-data-not-in-cloud'],
  },
  PHI: {
    'on-prem-secure': [true, 'placement.phi-on-prem-secure'],
    'on-prem': [false, 'placement.phi-secure-only'],
    'cloud-burst': [false, 'placement.phi-secure-only'],
  },
};

describe('placement: classification → allowed zones, naming the rule', () => {
  const cases = CLASSIFICATIONS.flatMap((c) => ZONE_TIERS.map((t) => [c, t, ...TABLE[c][t]] as const));
  it.each(cases)('%s in %s → allowed %s by %s', (classification, tier, allowed, rule) => {
    const d = engine.decidePlacement({ classification, zone: zone(tier) });
    expect(d.allowed).toBe(allowed);
    expect(d.rule).toBe(rule);
    expect(d.policyIds[0]).toBe(rule);
    expect(d.reason).toContain(rule);
  });

  it('PHI runs only on-prem-secure: no other standard zone takes it', () => {
    const allowed = STANDARD_ZONES.filter((z) => engine.decidePlacement({ classification: 'PHI', zone: z }).allowed).map((z) => z.tier);
    expect(allowed).toEqual(['on-prem-secure']);
  });

  it('residency keeps data in zones of its region, whatever the classification allows', () => {
    const eu = (tier: ZoneTier) => zone(tier, 'eu');
    expect(engine.decidePlacement({ classification: 'public', residency: 'eu', zone: eu('cloud-burst') })).toMatchObject({ allowed: true });
    expect(engine.decidePlacement({ classification: 'public', residency: 'eu', zone: zone('cloud-burst', 'us') })).toMatchObject({
      allowed: false,
      rule: 'placement.residency',
    });
    expect(engine.decidePlacement({ classification: 'PHI', residency: 'eu', zone: zone('on-prem-secure', 'us') })).toMatchObject({
      allowed: false,
      rule: 'placement.residency',
    });
    // Two rules deny: both are named.
    expect(engine.decidePlacement({ classification: 'PHI', residency: 'eu', zone: zone('cloud-burst', 'us') }).policyIds).toEqual([
      'placement.phi-secure-only',
      'placement.residency',
    ]);
  });
});

describe('site placement policies', () => {
  it('a site forbid tightens the default, and its id names the rule', async () => {
    const site = tempDir({
      'placement.cedar': `@id("site.internal-stays-home")
forbid (principal, action == Assay::Action::"placeWorkload", resource)
when { principal.classification == Assay::Classification::"internal" && resource.tier == Assay::ZoneTier::"cloud-burst" };
`,
    });
    const e = await loadPolicyEngine({ siteDir: site });
    expect(e.decidePlacement({ classification: 'internal', zone: zone('cloud-burst') })).toMatchObject({
      allowed: false,
      rule: 'site.internal-stays-home',
    });
    expect(e.decidePlacement({ classification: 'public', zone: zone('cloud-burst') }).allowed).toBe(true);
  });

  it('a site permit cannot move PHI out of on-prem-secure: the default forbid wins', async () => {
    const site = tempDir({
      'placement.cedar': `@id("site.phi-anywhere")
permit (principal, action == Assay::Action::"placeWorkload", resource);
`,
    });
    const e = await loadPolicyEngine({ siteDir: site });
    expect(e.decidePlacement({ classification: 'PHI', zone: zone('cloud-burst') })).toMatchObject({
      allowed: false,
      rule: 'placement.phi-secure-only',
    });
  });

  it('a placement no policy permits is denied by default, and says so', async () => {
    // A pack of its own with only the PHI rules: public data has no permit there.
    const pack = tempDir({
      'only-phi.cedar': `@id("phi-only")
permit (principal, action == Assay::Action::"placeWorkload", resource)
when { principal.classification == Assay::Classification::"PHI" };
`,
      'autonomy.yaml': 'version: 1\ndefault: require_approval\nrules: []\n',
    });
    const e = await loadPolicyEngine({ packDir: pack });
    expect(e.decidePlacement({ classification: 'public', zone: zone('on-prem') })).toMatchObject({
      allowed: false,
      rule: DEFAULT_DENY_RULE,
      policyIds: [],
    });
  });
});
